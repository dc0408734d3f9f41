"""The rotation picture's detectors: small-cap narrow market, washouts, thrusts, equal weight, a new
small-cap leg, cyclicals and regional banks leading, high-yield stress; each on a small frame, then
the development set's known episodes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from signals.detectors import blocked_notes, detect
from signals.metrics import compute_metrics
from signals.settings import load_detector_settings
from signals.sources.folder import load_folder
from tests.builders import blank_metrics, csv_text, market, nyse_sessions, sessions, write_folder

DEFAULTS = load_detector_settings()
N = 80


@pytest.fixture
def blank():
    return blank_metrics(N)


def day(metrics, position: int) -> str:
    return metrics.sessions[position].strftime("%Y-%m-%d")


def keyed(metrics, key: str) -> list[tuple[int, str]]:
    dates = {day(metrics, i): i for i in range(N)}
    return [(dates[s.date], s.direction) for s in detect(metrics, DEFAULTS) if s.key == key]


def test_smallcap_narrow_needs_the_sp500_near_its_high_and_small_caps_far_below(blank):
    blank.group("breadth")["index_pct_from_52w_high"] = -1.0
    blank.universes["russell2000"]["median_pct_from_52w_high"] = [-10.0] * 30 + [-17.9] * 30 + [-10.0] * 20
    assert keyed(blank, "breadth:smallcap_narrow") == [(30, "start"), (62, "end")]
    start = next(s for s in detect(blank, DEFAULTS) if s.key == "breadth:smallcap_narrow")
    assert "median Russell 2000 member is 17.9% below its 52-week high while the S&P 500 is 1.0% below" in start.title
    assert start.type == "breadth"
    blank.group("breadth")["index_pct_from_52w_high"] = -4.0  # the index is not near its high: not this picture
    assert keyed(blank, "breadth:smallcap_narrow") == []


@pytest.mark.parametrize("universe", ["sp500", "russell2000"])
def test_washout_below_20_percent_ends_above_25(blank, universe):
    share = [40.0] * 10 + [18.0, 21.0, 19.0, 22.0, 24.0, 19.5] + [24.0] * 10 + [26.0] * 10 + [15.0] * 44
    blank.universes[universe]["pct_above_200dma"] = share
    # one episode though the share crosses 20 four times; it ends on the third session above 25
    assert keyed(blank, f"breadth:washout:{universe}") == [(10, "start"), (28, "end"), (36, "start")]
    start = next(s for s in detect(blank, DEFAULTS) if s.key == f"breadth:washout:{universe}")
    assert "only 18.0% of" in start.title and "(alert below 20%)" in start.title


def test_zweig_thrust_from_below_040_to_above_0615_within_10_sessions(blank):
    ema = np.full(N, 0.5)
    ema[20:25] = 0.35  # the low: below 0.40
    ema[25:31] = np.linspace(0.45, 0.62, 6)  # above 0.615 at 30: 6 sessions after the last low
    ema[31:] = 0.64
    blank.universes["russell2000"]["zweig_thrust_ema"] = ema
    found = keyed(blank, "breadth:thrust:russell2000")
    assert found == [(30, "start")]  # news once: no end
    thrust = next(s for s in detect(blank, DEFAULTS) if s.key == "breadth:thrust:russell2000")
    assert "rose from 0.350 to 0.620 in 6 sessions" in thrust.title
    slow = np.full(N, 0.5)
    slow[20:25] = 0.35
    slow[25:45] = np.linspace(0.41, 0.62, 20)  # the same climb over 20 sessions: not a thrust
    blank.universes["russell2000"]["zweig_thrust_ema"] = slow
    assert keyed(blank, "breadth:thrust:russell2000") == []


def test_equal_weight_lagging_rsp_spy_down_5_percent_in_50_sessions(blank):
    ratio = np.r_[np.full(50, 0.40), np.linspace(0.40, 0.378, 10), np.full(20, 0.39)]
    blank.group("breadth")["rsp_spy_ratio"] = ratio
    found = keyed(blank, "breadth:equal_weight_lagging")
    change = (ratio[50:] / ratio[:-50] - 1) * 100  # per session from 50 on
    first = 50 + int(np.flatnonzero(change <= -5.0)[0])
    end_at = 50 + int(np.flatnonzero((np.arange(len(change)) > first - 50) & (change > -3.0))[2])
    assert found == [(first, "start"), (end_at, "end")]


def test_new_smallcap_leg_after_120_sessions_below_the_average():
    metrics = blank_metrics(200)
    ratio = np.r_[np.full(150, 0.45), np.full(50, 0.52)]
    metrics.group("breakout")["iwm_spy_ratio"] = ratio
    metrics.group("breakout")["iwm_spy_200d_avg"] = 0.5
    metrics.group("breakout")["iwm_spy_pct_vs_200d_avg"] = (ratio / 0.5 - 1) * 100
    signals = [s for s in detect(metrics, DEFAULTS) if s.key == "breakout:smallcap_leg"]
    assert [(s.date, s.direction) for s in signals] == [(day(metrics, 150), "start")]  # once, no end
    assert "after 150 sessions below it" in signals[0].title
    short = np.r_[np.full(150, 0.52), np.full(60, 0.45), np.full(40, 0.52)][:200]  # only 60 below
    metrics.group("breakout")["iwm_spy_ratio"] = short
    assert [s for s in detect(metrics, DEFAULTS) if s.key == "breakout:smallcap_leg"] == []


def test_a_close_a_hair_above_the_average_does_not_restart_the_leg_count():
    """One close 0.1% over the average, inside half a daily move, is noise: the count of sessions
    below goes on through it, so a leg whose first crossings are marginal is still announced."""
    metrics = blank_metrics(200)
    ratio = np.r_[np.full(150, 0.45), np.full(50, 0.52)]
    ratio[80] = 0.5005  # 0.1% above the average: not cleared (half a daily move is about 0.3% here)
    metrics.group("breakout")["iwm_spy_ratio"] = ratio
    metrics.group("breakout")["iwm_spy_200d_avg"] = 0.5
    metrics.group("breakout")["iwm_spy_pct_vs_200d_avg"] = (ratio / 0.5 - 1) * 100
    signals = [s for s in detect(metrics, DEFAULTS) if s.key == "breakout:smallcap_leg"]
    assert [(s.date, s.direction) for s in signals] == [(day(metrics, 150), "start")]
    assert "after 150 sessions below it" in signals[0].title
    ratio[80] = 0.51  # 2% above: a real crossing, and only 69 sessions below after it
    metrics.group("breakout")["iwm_spy_ratio"] = ratio
    metrics.group("breakout")["iwm_spy_pct_vs_200d_avg"] = (ratio / 0.5 - 1) * 100
    assert [s for s in detect(metrics, DEFAULTS) if s.key == "breakout:smallcap_leg"] == []


def _sector_frame(count: int, rising: str) -> pd.DataFrame:
    index = sessions(count)
    flat = np.full(count, 100.0)
    climb = np.r_[np.full(count - 20, 100.0), 100.0 + np.arange(1, 21)]
    columns = {t: flat for t in ("SPY", "IWM", "^GSPC", "RSP", "XLI", "XLF", "XLY", "XLK", "KRE", "HYG", "IEF")}
    columns = {**columns, **{t: climb for t in rising.split(",")}, "A": 1.0}
    return pd.DataFrame(columns, index=index)


@pytest.mark.parametrize("rising, key, other", [
    ("XLI,XLF,XLY", "sectors:cyclicals_lead", "sectors:regional_banks"),
    ("KRE", "sectors:regional_banks", "sectors:cyclicals_lead"),
])
def test_relative_strength_breakouts_of_sectors(rising, key, other):
    data = market(_sector_frame(260, rising), members=["A"])
    signals = detect(compute_metrics(data), DEFAULTS)
    starts = [s for s in signals if s.key == key and s.direction == "start"]
    assert [s.date for s in starts] == [data.sessions[240].strftime("%Y-%m-%d")]  # the first session up
    assert starts[0].type == "sectors"
    assert not [s for s in signals if s.key == other]


def test_one_cyclical_alone_is_not_the_basket():
    data = market(_sector_frame(260, "XLI"), members=["A"])
    metrics = compute_metrics(data)
    basket = metrics.group("sectors")["cyclicals_xlk_ratio"]
    assert basket.iat[-1] == pytest.approx((120.0 * 100 * 100) ** (1 / 3) / 100)  # geometric mean over XLK
    assert [s.key for s in detect(metrics, DEFAULTS) if s.key == "sectors:cyclicals_lead"]  # it lifts the basket


def test_high_yield_stress_hyg_ief_down_3_percent_in_20_sessions():
    frame = _sector_frame(80, "IEF")  # IEF rallies 20% over the last 20 sessions: HYG/IEF falls
    data = market(frame, members=["A"])
    signals = [s for s in detect(compute_metrics(data), DEFAULTS) if s.key == "credit:hy_stress"]
    assert signals and signals[0].direction == "start" and signals[0].type == "credit"
    ratio = 100.0 / frame["IEF"]
    change = (ratio / ratio.shift(20) - 1) * 100
    assert signals[0].date == change.index[int(np.flatnonzero(change.to_numpy() <= -3.0)[0])].strftime("%Y-%m-%d")
    assert "HYG/IEF −" in signals[0].title and "(alert at −3.0%)" in signals[0].title


def test_a_missing_input_etf_degrades_only_its_detector_with_a_warning():
    frame = _sector_frame(260, "KRE").drop(columns=["KRE", "HYG"])
    metrics = compute_metrics(market(frame, members=["A"]))
    assert any("KRE or SPY has no data" in note for note in metrics.notes)
    assert any("HYG or IEF has no data" in note for note in metrics.notes)
    keys = {s.key for s in detect(metrics, DEFAULTS)}
    assert "sectors:regional_banks" not in keys and "credit:hy_stress" not in keys


def test_a_carried_sector_etf_leaves_its_detector_undecided_that_session(tmp_path):
    frame = _sector_frame(260, "KRE")
    frame.index = nyse_sessions(260)
    frame = frame.mul(1 + 0.01 * np.sin(np.arange(260)), axis=0)  # a common wiggle: no stale repeats, same ratios
    breakout_day = frame.index[240]
    prices = {t: csv_text(frame[[t]].rename(columns={t: "Close"})) for t in frame.columns}
    gap = frame[["KRE"]].drop(index=breakout_day).rename(columns={"KRE": "Close"})  # KRE has no bar that day
    prices["KRE"] = csv_text(gap)
    data = load_folder(write_folder(tmp_path, prices, "ticker,name,sector\nA,,\n"))
    metrics = compute_metrics(data)
    assert bool(metrics.carried_inputs["KRE"][metrics.sessions.get_loc(breakout_day)])
    starts = [s.date for s in detect(metrics, DEFAULTS) if s.key == "sectors:regional_banks"]
    assert starts == [frame.index[241].strftime("%Y-%m-%d")]  # decided the next session, on a real bar
    assert any("KRE has no bar for" in note and "sectors:regional_banks cannot fire" in note
               for note in blocked_notes(metrics, DEFAULTS, 240))


@pytest.mark.market_data
def test_known_episodes_of_the_development_set(real_market):
    """The data README's episodes, in the new detectors' terms."""
    from signals.replay import replay

    result = replay(real_market, start="2018-01-01")
    starts = {(s.key, s.date) for s in result.signals if s.direction == "start"}
    expected = {
        ("breadth:washout:sp500", "2020-03-09"),  # the 2020 crash
        ("breadth:washout:russell2000", "2020-03-09"),
        ("credit:hy_stress", "2020-02-26"),
        ("breadth:thrust:russell2000", "2020-05-27"),  # the 2020 breadth thrust
        ("breakout:smallcap_leg", "2020-10-06"),  # the Nov 2020 - Mar 2021 small-cap surge begins
        ("sectors:regional_banks", "2020-11-09"),
        ("sectors:cyclicals_lead", "2020-11-23"),  # 11-10 cleared its high by less than half a daily move
        ("breadth:washout:sp500", "2022-06-13"),  # the 2022 bear market
        ("breadth:washout:russell2000", "2022-09-23"),
        ("rates:curve_inverted", "2022-10-28"),
        ("breadth:smallcap_narrow", "2023-05-18"),  # the narrow 2023 rally
        ("breadth:thrust:sp500", "2023-11-03"),  # the Nov 2023 thrust as yields fell
        ("breadth:thrust:russell2000", "2023-11-03"),
        ("rates:fed_cut", "2019-08-01"),  # announced Wednesday 07-31: alerted the next session, not two later
    }
    assert expected <= starts, sorted(expected - starts)


@pytest.mark.market_data
@pytest.mark.slow
def test_every_key_fires_and_the_replay_equals_the_day_by_day_path_2018_2024(real_market):
    from signals.detectors import KEYS
    from signals.replay import replay, replay_day_by_day

    fast = replay(real_market, start="2018-01-01")
    slow = replay_day_by_day(real_market, start="2018-01-01")
    assert [s.to_dict() for s in fast.signals] == [s.to_dict() for s in slow.signals]
    assert {s.key for s in fast.signals} == set(KEYS)


def test_the_2024_election_breakout_alerts_on_its_day_after_a_failed_one(blank, tmp_path):
    """2024-10-14 IWM broke out and failed within days; on 2024-11-06 it closed 4.6% above its prior
    high, 16 sessions after the failed start. The old 20-session cool-down alerted only on 11-25."""
    iwm = np.full(N, 100.0)
    iwm[40] = 101.0  # the failed breakout
    iwm[41:56] = 99.0
    iwm[56:] = 101.0 * 1.046  # the decisive one
    blank.group("breakout")["iwm_close"] = iwm
    config = tmp_path / "short.toml"
    config.write_text("[breakout]\niwm_high_sessions = 30\n")
    found = [s for s in detect(blank, load_detector_settings(config)) if s.key == "breakout:iwm_52w_high"]
    assert [(s.date, s.direction) for s in found][:3] == [(day(blank, 40), "start"), (day(blank, 43), "end"),
                                                          (day(blank, 56), "start")]
    assert "(+4.6%, more than 0.5 of its average daily move" in found[2].title
