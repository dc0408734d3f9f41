"""Real feeds' quirks, on real-shaped folders: one NYSE calendar, gaps, partial and suspect sessions.

Each case writes a clean folder, then the quirk, and compares with the clean one: the quirk is
named in a warning and the engine stays sighted (no metric goes null for a year, nothing fires
on a bar nobody can trust).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from signals.evaluate import evaluate
from signals.metrics import compute_metrics
from signals.sources.folder import load_folder
from tests.builders import nyse_sessions, random_walk, write_folder

DAYS = nyse_sessions(320, start="2020-01-02")
MEMBERS = [f"M{i:02d}" for i in range(30)]
SMALL = [f"S{i:02d}" for i in range(20)]
MARKET = ["^GSPC", "SPY", "RSP", "IWM", "^RUT", "^VIX"]


def frames(days: pd.DatetimeIndex = DAYS) -> dict[str, pd.DataFrame]:
    """OHLCV per ticker, as yfinance writes them."""
    close = random_walk(days, MEMBERS + SMALL + MARKET, seed=5)
    rng = np.random.default_rng(9)
    out = {}
    for ticker in close.columns:
        c = close[ticker]
        out[ticker] = pd.DataFrame({"Open": c, "High": c * 1.01, "Low": c * 0.99, "Close": c, "Adj Close": c,
                                    "Volume": rng.integers(1_000, 9_000, len(c)).astype(float)}, index=days)
    return out


def write(root: Path, bars: dict[str, pd.DataFrame], extra_rows: dict[str, str] | None = None) -> Path:
    prices = {}
    for ticker, frame in bars.items():
        text = frame.rename_axis("Date").to_csv(date_format="%Y-%m-%d", float_format="%.6f")
        prices[ticker] = text + (extra_rows or {}).get(ticker, "")
    constituents = "ticker,name,sector\n" + "".join(f"{t},,Tech\n" for t in MEMBERS)
    small = "ticker,name,sector,weight\n" + "".join(f"{t},,Industrials,0.1\n" for t in SMALL)
    return write_folder(root, prices, constituents, universes={"russell2000": small})


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return load_folder(write(tmp_path_factory.mktemp("clean"), frames()))


def messages(data) -> list[str]:
    return [str(issue) for issue in data.issues]


def test_a_clean_folder_has_no_warnings(clean):
    assert messages(clean) == []
    assert clean.sessions.equals(DAYS)
    assert clean.universes["russell2000"] == tuple(SMALL)


def test_a_holiday_row_is_dropped_with_a_warning_and_changes_nothing(tmp_path, clean):
    data = load_folder(write(tmp_path, frames(), {"^VIX": "2020-11-26,1,1,1,1,1,0\n",
                                                  "SPY": "2020-12-25,1,1,1,1,1,5\n"}))
    assert pd.Timestamp("2020-11-26") not in data.sessions and data.sessions.equals(clean.sessions)
    assert "prices/^VIX.csv:322: 1 rows on dates that are not NYSE sessions dropped: 2020-11-26" in messages(data)
    assert any(m.startswith("prices/SPY.csv") and "2020-12-25" in m for m in messages(data))
    for name, frame in compute_metrics(clean).universes.items():
        pd.testing.assert_frame_equal(compute_metrics(data).universes[name], frame)


def test_a_member_gap_is_carried_and_the_member_stays_in_breadth(tmp_path, clean):
    bars = frames()
    gap = DAYS[210:212]
    bars["M03"] = bars["M03"].drop(gap)
    data = load_folder(write(tmp_path, bars))
    assert "prices/M03.csv: no bar for 2 sessions (2020-10-30..2020-11-02): the previous close is carried " \
           "forward (neither an advance nor a decline)" in messages(data)
    metrics, reference = compute_metrics(data).group("breadth"), compute_metrics(clean).group("breadth")
    # the member still has its 200-day average every session: nothing goes null for a year
    assert (metrics["members_with_200dma"] == reference["members_with_200dma"]).all()
    assert metrics["pct_above_200dma"].notna().sum() == reference["pct_above_200dma"].notna().sum()
    # on the gap's second session the carried close moved neither up nor down
    day = gap[1]
    moved = np.sign(clean.close["M03"].diff().loc[day]) != 0
    assert metrics.loc[day, "advances"] + metrics.loc[day, "declines"] == \
        reference.loc[day, "advances"] + reference.loc[day, "declines"] - int(moved)
    assert data.carried.loc[gap, "M03"].all() and data.carried["M03"].sum() == 2


def test_a_gap_longer_than_five_sessions_leaves_the_member_out_until_its_windows_refill(tmp_path, clean):
    bars = frames()
    bars["M04"] = bars["M04"].drop(DAYS[100:108])
    data = load_folder(write(tmp_path, bars))
    assert any("M04.csv: no bar for 8 sessions" in m and "carried for 5 sessions" in m for m in messages(data))
    close = data.close["M04"]
    assert close.iloc[100:105].notna().all() and close.iloc[105:108].isna().all()
    defined = compute_metrics(data).group("breadth")["members_with_200dma"] - compute_metrics(clean).group("breadth")[
        "members_with_200dma"]
    assert (defined.iloc[200:307] == -1).all() and (defined.iloc[308:] == 0).all()


def test_one_missing_iwm_bar_does_not_kill_the_52_week_breakout(tmp_path, clean):
    bars = frames()
    bars["IWM"] = bars["IWM"].drop(DAYS[150])
    metrics = compute_metrics(load_folder(write(tmp_path, bars))).group("breakout")
    assert metrics["iwm_pct_vs_prior_252d_high"].iloc[253:].notna().all()


def test_a_partial_last_session_is_held_back_not_now(tmp_path, clean):
    bars = frames()
    extra = {"IWM": "2021-04-12,1,1,1,1,1,1\n"}  # one file a session ahead of the rest
    data = load_folder(write(tmp_path, bars, extra))
    assert data.last_session == DAYS[-1]
    assert any("2021-04-12 held back: only 1 of the 56 files" in m for m in messages(data))
    snapshot = evaluate(data).snapshot
    assert snapshot["breadth"]["members"] == len(MEMBERS)


def test_a_session_most_files_have_is_complete_and_the_rest_carried(tmp_path):
    days = nyse_sessions(321, start="2020-01-02")
    bars = frames(days)
    bars["M01"] = bars["M01"].iloc[:-1]
    bars["IWM"] = bars["IWM"].iloc[:-1]
    data = load_folder(write(tmp_path, bars))
    assert data.last_session == days[-1]
    result = evaluate(data)
    assert any(n.startswith("IWM has no bar for 2021-04-12 (its last close is carried); breakout:iwm_52w_high")
               for n in result.notes)
    assert not [s for s in result.signals if s.type == "breakout"]


def test_zero_volume_on_a_moving_day_is_missing_not_zero(tmp_path):
    bars = frames()
    bars["IWM"].loc[DAYS[10], "Volume"] = 0
    bars["SPY"].loc[DAYS[11], ["Open", "High", "Low", "Close", "Adj Close"]] = bars["SPY"].loc[DAYS[10], "Close"]
    bars["SPY"].loc[DAYS[11], "Volume"] = 0  # no trade, no move: a real zero
    data = load_folder(write(tmp_path, bars))
    assert np.isnan(data.volume.loc[DAYS[10], "IWM"]) and data.volume.loc[DAYS[11], "SPY"] == 0
    assert ("prices/IWM.csv: sessions with zero Volume while the price moved: 1 (2020-01-16); "
            "Volume treated as missing") in messages(data)


def test_non_positive_and_infinite_closes_are_missing_bars(tmp_path):
    bars = frames()
    bars["M05"].loc[DAYS[40], "Adj Close"] = np.inf
    bars["M06"].loc[DAYS[41], "Adj Close"] = 0.0
    data = load_folder(write(tmp_path, bars))
    assert data.carried.loc[DAYS[40], "M05"] and data.carried.loc[DAYS[41], "M06"]
    assert any(m.startswith("prices/M05.csv:42: Adj Close is not positive") for m in messages(data))
    assert any(m.startswith("prices/M06.csv:43: Adj Close is not positive") for m in messages(data))


def test_a_100x_last_bar_makes_the_session_suspect_and_nothing_fires(tmp_path):
    bars = frames()
    bars["IWM"].iloc[-1, :5] = bars["IWM"].iloc[-2, 3] * 100
    data = load_folder(write(tmp_path, bars))
    result = evaluate(data)
    assert "IWM moved 100x in one session" in data.suspect.iloc[-1]
    assert any(n.startswith("2021-04-09 is suspect (IWM moved 100x") and "no detector fires" in n
               for n in result.notes)
    assert result.signals == []


def test_a_bad_print_inside_history_is_removed_once_the_next_bar_takes_it_back(tmp_path, clean):
    bars = frames()
    bars["M07"].iloc[150, :5] = bars["M07"].iloc[149, 3] / 100
    data = load_folder(write(tmp_path, bars))
    assert any(m.startswith("prices/M07.csv: bad print removed: the close of 2020-08-06") for m in messages(data))
    assert data.close.iloc[150]["M07"] == data.close.iloc[149]["M07"]  # carried over the bad bar
    assert data.suspect.iloc[150] == ""  # a member's bad print is cleaned, the session stays usable
    # no year of a 52-week low 100x below every real close
    assert data.close["M07"].min() == pytest.approx(clean.close["M07"].drop(DAYS[150]).min())


def test_a_stale_refresh_repeating_yesterday_is_suspect(tmp_path):
    bars = frames()
    for frame in bars.values():
        frame.iloc[-1] = frame.iloc[-2]
    data = load_folder(write(tmp_path, bars))
    assert "56 of 56 files repeat the previous session's bar" in data.suspect.iloc[-1]
    result = evaluate(data)
    assert result.signals == [] and any("stale refresh" in n for n in result.notes)


@pytest.mark.parametrize("quirk", ["holiday", "gap", "partial"])
def test_the_past_does_not_change_when_a_quirk_is_appended(tmp_path, quirk):
    """The future-data test for the loader: metrics up to a cut equal those of the folder cut there."""
    cut = 300
    bars = frames()
    early = load_folder(write(tmp_path / "early", {t: f.iloc[: cut + 1] for t, f in bars.items()}))
    later = {t: f.copy() for t, f in bars.items()}
    extra = None
    if quirk == "holiday":
        extra = {"^VIX": "2021-04-02,1,1,1,1,1,0\n"}  # Good Friday, after the cut
    elif quirk == "gap":
        later["M02"] = later["M02"].drop(DAYS[cut + 1: cut + 4])
        later["IWM"] = later["IWM"].drop(DAYS[cut + 1])
    else:
        later = {t: f.iloc[: cut + 2] for t, f in later.items()}
        later["SPY"] = bars["SPY"].iloc[: cut + 3]  # one file a session ahead
    full = load_folder(write(tmp_path / "later", later, extra))
    assert full.last_session > early.last_session
    before, after = compute_metrics(early), compute_metrics(full.as_of(early.last_session))
    for name, frame in before.universes.items():
        pd.testing.assert_frame_equal(after.universes[name], frame, obj=f"{quirk}: {name}")
    for group in ("breakout", "rates"):
        pd.testing.assert_frame_equal(after.group(group), before.group(group), obj=f"{quirk}: {group}")
    assert evaluate(full, as_of=early.last_session).signals == evaluate(early).signals
