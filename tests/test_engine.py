"""The live engine: a tick computes only the new session's costly part, and gets the same numbers."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from bot.runtime.feeds import FolderFeed
from signals.engine import MetricsEngine
from signals.evaluate import evaluate
from signals.metrics import GROUPS, compute_metrics
from signals.metrics import breadth as breadth_module
from tests.test_feed_quirks import frames, write
from tests.test_no_lookahead import SYNTHETIC


def assert_identical(left, right):
    for group in GROUPS:
        pd.testing.assert_frame_equal(left.group(group), right.group(group), check_exact=True)
    for name, frame in left.universes.items():
        pd.testing.assert_frame_equal(frame, right.universes[name], check_exact=True)


def test_each_new_session_costs_one_row_and_equals_all_history(monkeypatch):
    engine = MetricsEngine()
    engine.compute(SYNTHETIC.as_of(SYNTHETIC.sessions[300]))
    rows: list[int] = []
    original = breadth_module.aggregate_rows_resumed
    monkeypatch.setattr("signals.engine.aggregate_rows_resumed",
                        lambda values, first=0, sectors=None, running=None:
                        rows.append((len(values), first, running is not None))
                        or original(values, first, sectors, running))
    for session in SYNTHETIC.sessions[301:306]:
        visible = SYNTHETIC.as_of(session)
        assert_identical(engine.compute(visible), compute_metrics(visible))
    # one new row from the year of bars before it, never all history, for each universe (S&P 500, Russell 2000),
    # its averages counted from the window sums of the row before
    lookback = breadth_module.AGGREGATE_LOOKBACK
    assert rows == [(lookback + 1, lookback, True)] * 5 * len(SYNTHETIC.universe_names)


def test_a_run_of_ticks_reads_each_new_row_once_and_ends_where_all_history_does(monkeypatch):
    """Session after session, the members' closes a tick aggregates are the frame's own rows (a new row
    gathered into the kept buffer, never a year gathered again), and what the engine kept, grown past
    its first room, equals all history computed at once; a session asked out of turn is read afresh."""
    engine = MetricsEngine()
    engine.compute(SYNTHETIC.as_of(SYNTHETIC.sessions[150]))
    handed: list[np.ndarray] = []
    original = breadth_module.aggregate_rows_resumed
    monkeypatch.setattr("signals.engine.aggregate_rows_resumed",
                        lambda values, first=0, sectors=None, running=None:
                        handed.append(values.copy()) or original(values, first, sectors, running))
    from signals.engine import MemberRows

    gathered: list[int] = []  # a year (or all history) of closes gathered from the wide frame
    whole = MemberRows.of
    monkeypatch.setattr(MemberRows, "of", classmethod(lambda cls, values, start, room:
                                                      gathered.append(len(values)) or whole(values, start, room)))
    for day in range(151, len(SYNTHETIC.sessions)):
        engine.compute(SYNTHETIC.as_of(SYNTHETIC.sessions[day]))
    lookback = breadth_module.AGGREGATE_LOOKBACK
    universes = SYNTHETIC.universe_names
    for step, values in enumerate(handed):
        day, universe = 151 + step // len(universes), universes[step % len(universes)]
        members = list(SYNTHETIC.universe_members(universe))
        expected = SYNTHETIC.close[members].iloc[max(0, day - lookback):day + 1].to_numpy()
        np.testing.assert_array_equal(values, expected, err_msg=f"{universe} on day {day}")
    assert not gathered
    assert_identical(engine.compute(SYNTHETIC.as_of(SYNTHETIC.sessions[-1])), compute_metrics(SYNTHETIC))
    earlier = SYNTHETIC.as_of(SYNTHETIC.sessions[200])
    assert_identical(engine.compute(earlier), compute_metrics(earlier))
    skipped = SYNTHETIC.as_of(SYNTHETIC.sessions[-1])  # a fresh engine jumps: its rows are gathered anew
    fresh = MetricsEngine()
    fresh.compute(SYNTHETIC.as_of(SYNTHETIC.sessions[-5]))
    assert_identical(fresh.compute(skipped), compute_metrics(skipped))
    # all history up to the fifth session from the end, then the year before the four sessions skipped and them
    assert gathered == [len(SYNTHETIC.sessions) - 4] * len(universes) + [lookback + 4] * len(universes)


def test_the_kept_member_rows_move_to_the_front_when_their_room_runs_out():
    from signals.engine import MemberRows

    rng = np.random.default_rng(5)
    closes = rng.normal(size=(60, 3))
    kept = MemberRows.of(closes[:4], start=0, room=5)  # the last 5 rows wanted; room for 10
    for stop in range(5, 60):
        start = max(0, stop - 5)
        kept.append(closes[stop - 1], keep_from=start)
        np.testing.assert_array_equal(kept.between(start, stop), closes[start:stop], err_msg=f"rows up to {stop}")
    assert len(kept.buffer) == 10


def test_a_tick_reads_columns_and_builds_no_frame():
    """Metrics, snapshot, conditions, edges and records of a tick read each group's columns; a frame is
    built only when asked (charts, the dashboard), once, and holds the same values."""
    from signals.replay import track_records

    engine = MetricsEngine()
    evaluate(SYNTHETIC, as_of=SYNTHETIC.sessions[300], engine=engine)
    tick = evaluate(SYNTHETIC, as_of=SYNTHETIC.sessions[301], engine=engine)
    track_records(SYNTHETIC.as_of(SYNTHETIC.sessions[301]), tick.analysis)
    metrics = tick.metrics
    kept = [*metrics.computed.values(), *metrics.breadths.values()]
    assert not [computed for computed in kept if "frame" in computed.__dict__]
    frame = metrics.group("breakout")
    assert metrics.group("breakout") is frame
    pd.testing.assert_frame_equal(frame, pd.DataFrame(dict(metrics.computed["breakout"].columns),
                                                      index=metrics.sessions))
    assert metrics.universes["sp500"] is metrics.group("breadth")


def test_history_loaded_again_starts_the_engine_over(tmp_path):
    from signals.sources.folder import load_folder

    bars = frames()
    first = load_folder(write(tmp_path / "a", bars))
    engine = MetricsEngine()
    engine.compute(first)
    bars["M01"].iloc[100, :5] *= 1.5  # a revised bar in the middle of history
    second = load_folder(write(tmp_path / "b", bars))
    assert_identical(engine.compute(second), compute_metrics(second))


def test_integer_window_sums_do_not_drift_with_the_start():
    """A float running sum started at different rows can disagree in the last bit; these cannot."""
    rng = np.random.default_rng(3)
    close = pd.DataFrame(np.round(rng.uniform(10, 11, (700, 40)), 2))
    close.iloc[:, 0] = 10.37  # a flat price: its average equals it exactly
    whole = breadth_module.member_aggregates(close).iloc[-1]
    tail = breadth_module.member_aggregates(close.iloc[-253:]).iloc[-1]
    pd.testing.assert_series_equal(whole, tail)
    one_row = breadth_module.member_aggregates(close.iloc[-253:], first=252)
    pd.testing.assert_frame_equal(one_row, breadth_module.member_aggregates(close).iloc[-1:])
    assert breadth_module.member_aggregates(close.iloc[:, :1]).iloc[-1]["above_200dma"] == 0


def test_a_row_counted_from_the_window_sums_before_it_equals_all_history():
    """Listings, delistings and gaps enter and leave the windows; every row of the running path equals
    the row computed over all history, sectors included."""
    rng = np.random.default_rng(8)
    values = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.02, (620, 25)), axis=0)), 2)
    values[:150, 3] = np.nan  # listed late
    values[400:, 4] = np.nan  # delisted
    values[rng.random(values.shape) < 0.01] = np.nan  # single missing bars
    values[300:320, 5] = np.nan  # a gap longer than the short window
    sectors = rng.integers(-1, 4, 25)
    whole = breadth_module.aggregate_rows(values, sectors=sectors)
    lookback = breadth_module.AGGREGATE_LOOKBACK
    _, running = breadth_module.aggregate_rows_resumed(values[:300], sectors=sectors)
    for row in range(300, 620):
        fresh, running = breadth_module.aggregate_rows_resumed(values[row - lookback:row + 1], lookback, sectors,
                                                               running)
        for name, column in whole.items():
            np.testing.assert_array_equal(fresh[name], column[row:row + 1], err_msg=f"{name} at row {row}")


def test_the_folder_feed_keeps_its_data_until_a_file_changes(tmp_path):
    folder = write(tmp_path / "data", frames())
    feed = FolderFeed(folder, cache_dir=tmp_path / "cache")
    first = feed.load()
    assert feed.load() is first  # a tick does not read the folder again
    path = folder / "prices" / "M01.csv"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))  # touched: maybe changed
    assert feed.load() is not first


@pytest.mark.market_data
def test_a_real_tick_reuses_history(real_market):
    engine = MetricsEngine()
    evaluate(real_market, as_of="2024-03-07", engine=engine)
    live = evaluate(real_market, as_of="2024-03-08", engine=engine)
    assert live.snapshot == evaluate(real_market, as_of="2024-03-08").snapshot


def test_a_ticks_record_is_the_replays_summary_of_the_same_span(real_market):
    """The tick grades positions straight from its one pass; the replay grades dated signals: same lines."""
    from signals.detectors import KEYS
    from signals.replay import WARM_UP_SESSIONS, summarize, track_records
    from signals.signal_value import record_line

    visible = real_market.as_of("2024-03-01")
    analysis = evaluate(visible, engine=MetricsEngine()).analysis
    last = len(visible.sessions) - 1
    signals = analysis.signals(WARM_UP_SESSIONS, last)
    stats = summarize(visible, WARM_UP_SESSIONS, signals)
    since = visible.sessions[WARM_UP_SESSIONS].strftime("%Y-%m-%d")  # the first graded session, not its year
    assert len(signals) > 100 and stats["tests"] > 10
    assert track_records(visible, analysis) == {key: record_line(stats["by_key"].get(key), since, stats["tests"])
                                                for key in KEYS}


def test_has_is_answered_for_each_slice_and_anew_for_appended_sessions():
    """`has` looks up the first close of the loaded history: right for every `as_of` slice, and a
    MarketData with appended sessions (a new close) works it out again."""
    from dataclasses import replace

    from signals.market_data import MarketData

    sessions = pd.bdate_range("2024-01-01", periods=10)
    close = pd.DataFrame({"A": np.arange(10.0) + 1, "B": [np.nan] * 6 + [5.0] * 4, "C": np.nan}, index=sessions)
    empty = pd.DataFrame(index=sessions)
    data = MarketData(close, empty, empty, empty, pd.DataFrame(), pd.DataFrame(), ())
    assert not data.as_of(sessions[5]).has("B") and data.as_of(sessions[6]).has("B")
    assert data.has("A") and not data.has("C") and not data.has("Z")
    appended = replace(data, close=close.assign(C=[np.nan] * 9 + [3.0]))
    assert appended.has("C")


def test_the_engine_changes_what_it_keeps_under_one_lock(monkeypatch):
    """A tick and the dashboard's metrics after a restart compute on threads of their own: the aggregates
    and the window sums that end at their last row must change together, one computation at a time."""
    import threading

    engine = MetricsEngine()
    held: list[bool] = []
    original = breadth_module.aggregate_rows_resumed

    def watched(values, first=0, sectors=None, running=None):
        held.append(engine._lock.locked())
        return original(values, first, sectors, running)

    monkeypatch.setattr("signals.engine.aggregate_rows_resumed", watched)
    threads = [threading.Thread(target=engine.compute, args=(SYNTHETIC.as_of(SYNTHETIC.sessions[day]),))
               for day in (300, 301, 302)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert held and all(held)
    visible = SYNTHETIC.as_of(SYNTHETIC.sessions[303])
    assert_identical(engine.compute(visible), compute_metrics(visible))
