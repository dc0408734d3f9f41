"""A tick: snapshot and signals stored, idempotent, missed sessions caught up, failures recorded."""

from __future__ import annotations

import pytest

from bot.storage import open_store
from bot.runtime.tick import run_tick
from signals.errors import DataError
from signals.replay import replay
from signals.settings import load_detector_settings
from tests.builders import StaticFeed
from tests.test_no_lookahead import SYNTHETIC

SETTINGS = load_detector_settings()


def expected_between(after: str, through: str):
    return [s for s in replay(SYNTHETIC, start="2020-01-01", end=through).signals if after < s.date <= through]


def session_with_signals():
    every = replay(SYNTHETIC, start="2020-06-01").signals
    return every[len(every) // 2].date


def test_tick_stores_snapshot_signals_and_run(store):
    day = session_with_signals()
    result = run_tick(store, StaticFeed(SYNTHETIC), SETTINGS, as_of=day)
    assert result.as_of == day and result.new_signals
    assert all(s.date == day for s in result.new_signals)
    assert store.latest_snapshot()["as_of"] == day
    assert store.last_run()["outcome"] == "ok" and store.last_run()["new_signals"] == len(result.new_signals)
    again = run_tick(store, StaticFeed(SYNTHETIC), SETTINGS, as_of=day)
    assert again.new_signals == []  # re-running a session never alerts twice


def test_sessions_missed_while_down_are_caught_up(store):
    sessions = SYNTHETIC.sessions
    position = int(sessions.searchsorted(session_with_signals()))
    first = sessions[position - 3].strftime("%Y-%m-%d")
    later = sessions[position + 2].strftime("%Y-%m-%d")
    run_tick(store, StaticFeed(SYNTHETIC), SETTINGS, as_of=first)
    result = run_tick(store, StaticFeed(SYNTHETIC), SETTINGS, as_of=later)
    expected = expected_between(first, later)
    assert expected, "the window should hold signals"
    assert [s.identity for s in result.new_signals] == [s.identity for s in expected]


def test_a_failed_tick_is_recorded_and_raised(store):
    class Broken(StaticFeed):
        def load(self):
            raise DataError("data folder not found: /nowhere")

    with pytest.raises(DataError):
        run_tick(store, Broken(SYNTHETIC), SETTINGS)
    run = store.last_run()
    assert run["outcome"] == "error" and "data folder not found" in run["error"]


@pytest.mark.parametrize("outcome", ["stale", "partial"])
def test_no_detector_fires_on_stale_or_partial_data_and_the_next_good_run_catches_up(store, outcome):
    day = session_with_signals()
    held = run_tick(store, StaticFeed(SYNTHETIC, outcome, ("Yahoo has no bar yet",)), SETTINGS, as_of=day)
    assert held.outcome == outcome and held.new_signals == []
    assert store.stats()["signals"] == 0
    assert store.latest_snapshot()["data"]["refresh"] == outcome  # the metrics are still there
    run = store.last_run()
    assert run["outcome"] == outcome and "no bar yet" in run["error"]
    previous = SYNTHETIC.sessions[SYNTHETIC.sessions.searchsorted(day) - 1].strftime("%Y-%m-%d")
    run_tick(store, StaticFeed(SYNTHETIC), SETTINGS, as_of=previous)  # an earlier good run
    later = run_tick(store, StaticFeed(SYNTHETIC), SETTINGS, as_of=day)
    assert later.new_signals and all(s.date == day for s in later.new_signals)


def test_a_session_the_loader_held_back_is_stale_for_the_tick_too(store, tmp_path):
    """One rule for both paths: Yahoo gave today's bar to a few tickers only, so today is not 'now'."""
    from signals.sources.folder import load_folder
    from tests.test_feed_quirks import frames, write

    bars = frames()
    data = load_folder(write(tmp_path / "data", bars, {"IWM": "2021-04-12,1,1,1,1,1,1\n",
                                                       "SPY": "2021-04-12,1,1,1,1,1,1\n"}))
    result = run_tick(store, StaticFeed(data), SETTINGS, expected_session="2021-04-12")
    assert result.outcome == "stale" and result.new_signals == []
    assert any("2021-04-12 held back: only 2 of the 56 files" in note for note in result.notes)
    assert store.last_run()["outcome"] == "stale"


@pytest.mark.market_data
def test_a_fresh_bot_knows_its_history_and_sends_none_of_it(market_path, tmp_path):
    """Started on the development folder, the first tick records what the history implies (the curve
    inverted since 2022-10-28), marked as found at start, with no delivery for any of it."""
    from bot.runtime.feeds import FolderFeed
    from bot.presentation.messages import history_message
    from signals.settings import load_detector_settings

    store = open_store(tmp_path / "bot.sqlite")
    store.upsert_chat(5)
    store.subscribe(5, ["rates", "breadth"])
    result = run_tick(store, FolderFeed(market_path, tmp_path / "cache"), load_detector_settings())
    assert result.found_in_history > 100
    assert all(s.date == result.as_of for s in result.new_signals)  # the session's own edges only: news
    inverted = [s for s in store.recent_signals(500, ["rates"]) if s.key == "rates:curve_inverted"]
    assert (inverted[0].date, inverted[0].direction) == ("2022-10-28", "start")
    assert inverted[0].detail["found_at_start"] is True
    # the session's own news and at most its digest, none of the history
    assert store.stats()["deliveries"].get("pending", 0) <= 1 + len(result.new_signals)
    snapshot = store.latest_snapshot()
    assert snapshot["active"]["rates:curve_inverted"] == "2022-10-28"
    listed = history_message(store.recent_signals(50), snapshot["records"], snapshot["active"])
    assert "from history" in listed
    again = run_tick(store, FolderFeed(market_path, tmp_path / "cache"), load_detector_settings())
    assert again.found_in_history == 0  # once, at the first start
    store.close()
