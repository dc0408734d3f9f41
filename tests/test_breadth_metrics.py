"""Breadth metrics against independent, loop-by-loop computations and the data README's table."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from signals.metrics import compute_metrics
from tests.builders import market, random_walk, sessions


def naive_breadth(close: pd.DataFrame, members: list[str], day: int) -> dict[str, float]:
    """Plain-Python reference: one day, one member at a time, straight from the definitions."""
    above50 = above200 = defined50 = defined200 = 0
    gaps = []
    highs = lows = 0
    for ticker in members:
        series = close[ticker].tolist()
        today = series[day]
        if math.isnan(today):
            continue
        for window in (50, 200):
            if day + 1 >= window:
                past = series[day + 1 - window: day + 1]
                if not any(math.isnan(v) for v in past):
                    average = statistics.fmean(past)
                    if window == 50:
                        defined50 += 1
                        above50 += today > average
                    else:
                        defined200 += 1
                        above200 += today > average
        if day + 1 >= 252:
            year = series[day + 1 - 252: day + 1]
            if not any(math.isnan(v) for v in year):
                gaps.append((today / max(year) - 1) * 100)
                highs += today >= max(year)
                lows += today <= min(year)
    return {
        "pct_above_50dma": 100 * above50 / defined50 if defined50 else math.nan,
        "pct_above_200dma": 100 * above200 / defined200 if defined200 else math.nan,
        "median_pct_from_52w_high": statistics.median(gaps) if gaps else math.nan,
        "new_highs": highs,
        "new_lows": lows,
    }


@pytest.fixture(scope="module")
def walk():
    index = sessions(300)
    members = [f"M{i}" for i in range(9)]
    close = random_walk(index, members + ["^GSPC", "SPY", "RSP"], seed=3)
    close.iloc[:120, 0] = np.nan  # a late listing: outside every denominator until it has history
    close.iloc[280, 1] = np.nan  # a missing day
    return market(close, members=members), close, members


@pytest.mark.parametrize("day", [49, 50, 199, 200, 251, 252, 281, 299])
def test_matches_naive_definitions(walk, day):
    data, close, members = walk
    breadth = compute_metrics(data).group("breadth")
    expected = naive_breadth(close, members, day)
    for name, value in expected.items():
        got = breadth[name].iat[day]
        if math.isnan(value):
            assert math.isnan(got), name
        else:
            assert got == pytest.approx(value, abs=1e-9), name
    assert breadth["members"].iat[day] == close[members].iloc[day].notna().sum()


def test_denominator_counts_only_members_with_a_defined_average():
    index = sessions(210)
    close = pd.DataFrame({"A": np.linspace(10, 20, 210), "B": np.linspace(20, 10, 210)}, index=index)
    close.iloc[:100, 1] = np.nan  # B has only 110 sessions: no 200-day average yet
    breadth = compute_metrics(market(close)).group("breadth")
    assert breadth["pct_above_200dma"].iat[-1] == 100.0  # A alone, rising: 1 of 1
    assert breadth["pct_above_50dma"].iat[-1] == 50.0  # A above, B (falling) below
    assert breadth["pct_above_200dma"].iloc[:199].isna().all()  # no zero-division, no fake 0%


def test_advance_decline_line_mcclellan_and_zweig():
    index = sessions(4)
    close = pd.DataFrame({"A": [10, 11, 12, 11], "B": [10, 9, 9, 10], "C": [5, 6, 7, 8]}, index=index)
    breadth = compute_metrics(market(close)).group("breadth")
    assert breadth["advances"].tolist() == [0, 2, 2, 2]
    assert breadth["declines"].tolist() == [0, 1, 0, 1]
    assert breadth["ad_line"].tolist() == [0, 1, 3, 4]
    rana = [np.nan, 1000 / 3, 1000.0, 1000 / 3]

    def ema(values, span):
        alpha, out, last = 2 / (span + 1), [], None
        for v in values:
            if math.isnan(v):
                out.append(last if last is not None else math.nan)
                continue
            last = v if last is None else alpha * v + (1 - alpha) * last
            out.append(last)
        return out

    expected = [f - s for f, s in zip(ema(rana, 19), ema(rana, 39))]
    assert breadth["mcclellan_oscillator"].iloc[1:].tolist() == pytest.approx(expected[1:])
    zweig = ema([np.nan, 2 / 3, 1.0, 2 / 3], 10)
    assert breadth["zweig_thrust_ema"].iloc[1:].tolist() == pytest.approx(zweig[1:])


def test_index_distance_and_equal_weight_ratio():
    index = sessions(260)
    gspc = np.concatenate([np.linspace(100, 200, 200), np.linspace(200, 180, 60)])
    close = pd.DataFrame({"A": 1.0, "^GSPC": gspc, "SPY": gspc / 10, "RSP": np.linspace(10, 12, 260)}, index=index)
    breadth = compute_metrics(market(close, members=["A"])).group("breadth")
    assert breadth["index_pct_from_52w_high"].iat[-1] == pytest.approx((180 / 200 - 1) * 100)
    ratio = close["RSP"] / close["SPY"]
    assert breadth["rsp_spy_ratio"].iat[-1] == pytest.approx(ratio.iat[-1])
    assert breadth["rsp_spy_vs_50dma_pct"].iat[-1] == pytest.approx((ratio.iat[-1] / ratio.iloc[-50:].mean() - 1) * 100)
    assert breadth["rsp_spy_change_50d_pct"].iat[-1] == pytest.approx((ratio.iat[-1] / ratio.iat[-51] - 1) * 100)
    assert breadth["index_change_20d_pct"].iat[-1] == pytest.approx((gspc[-1] / gspc[-21] - 1) * 100)


def test_twenty_session_change_of_participation(walk):
    data, close, members = walk
    breadth = compute_metrics(data).group("breadth")
    for day in (219, 299):
        expected = naive_breadth(close, members, day)["pct_above_200dma"] - \
            naive_breadth(close, members, day - 20)["pct_above_200dma"]
        assert breadth["pct_above_200dma_change_20d"].iat[day] == pytest.approx(expected)


def test_spy_stands_in_for_a_missing_index_with_a_note():
    index = sessions(30)
    close = pd.DataFrame({"A": 1.0, "SPY": np.linspace(1, 2, 30)}, index=index)
    metrics = compute_metrics(market(close, members=["A"]))
    assert any("SPY stands in" in note for note in metrics.notes)
    assert any("RSP" in note for note in metrics.notes)
    assert metrics.group("breadth")["rsp_spy_ratio"].isna().all()


@pytest.mark.market_data
@pytest.mark.parametrize(
    "day, above200, median_gap, index_gap",
    [
        ("2022-09-30", 13.1, -28.1, -25.3),
        ("2023-05-31", 45.3, -14.6, -2.9),
        ("2023-07-31", 77.8, -6.6, 0.0),
        ("2023-10-31", 37.0, -16.1, -8.6),
        ("2023-12-31", 82.4, -4.7, -0.3),  # a Sunday: the month's last session, Dec 29
    ],
)
def test_reproduces_the_data_readme_table(real_market, day, above200, median_gap, index_gap):
    metrics = compute_metrics(real_market.as_of(day))
    snapshot = metrics.snapshot()["breadth"]
    assert snapshot["pct_above_200dma"] == pytest.approx(above200, abs=0.1)
    assert snapshot["median_pct_from_52w_high"] == pytest.approx(median_gap, abs=0.1)
    assert snapshot["index_pct_from_52w_high"] == pytest.approx(index_gap, abs=0.1)


def _independent_toolkit(data, universe: str, day: str) -> dict:
    """The toolkit's definitions in plain pandas, written apart from the engine (README, Metrics)."""
    members = list(data.universe_members(universe))
    close = data.as_of(day).close[members]
    last = close.iloc[-1]
    out = {}
    for window in (20, 50):
        average = close.rolling(window, min_periods=window).mean().iloc[-1]
        defined = average.notna() & last.notna()
        out[f"pct_above_{window}dma"] = float((last[defined] > average[defined]).mean() * 100)
        out[f"_above_{window}"] = (last > average) & defined
        out[f"_defined_{window}"] = defined
    high = close.rolling(252, min_periods=252).max()
    low = close.rolling(252, min_periods=252).min()
    highs = (close >= high).sum(axis=1)
    lows = (close <= low).sum(axis=1)
    out["net_new_highs"] = int(highs.iat[-1] - lows.iat[-1])
    total = highs + lows
    record = (highs / total.where(total > 0) * 100).fillna(50.0).where(high.notna().any(axis=1))
    out["high_low_index"] = float(record.iloc[-10:].mean())
    change = close.diff()
    advances, declines = (change > 0).sum(axis=1), (change < 0).sum(axis=1)
    ratio = (advances - declines) / (advances + declines).where(advances + declines > 0) * 1000
    oscillator = ratio.ewm(span=19, adjust=False).mean() - ratio.ewm(span=39, adjust=False).mean()
    # the running sum had every session before the data been flat: the seed term, 10 x the first
    # session's ratio, taken back out of the sum from the first session
    out["mcclellan_summation"] = float(oscillator.dropna().sum() + 10 * ratio.dropna().iloc[0])
    return out


@pytest.mark.parametrize("day", ["2023-05-31", "2024-03-08"])
@pytest.mark.parametrize("universe", ["sp500", "russell2000"])
def test_the_toolkit_matches_its_definitions_on_the_development_set(real_market, universe, day):
    from signals.metrics.breadth import sector_name, slug

    ours = compute_metrics(real_market.as_of(day)).snapshot()["universes"][universe]
    theirs = _independent_toolkit(real_market, universe, day)
    assert ours["pct_above_20dma"] == pytest.approx(theirs["pct_above_20dma"], abs=0.15)
    assert ours["net_new_highs"] == theirs["net_new_highs"]
    assert ours["high_low_index"] == pytest.approx(theirs["high_low_index"], abs=1e-6)
    assert ours["mcclellan_summation"] == pytest.approx(theirs["mcclellan_summation"], abs=1e-5)
    listing = real_market.constituents if universe == "sp500" else real_market.universe_lists[universe]
    sector_of = dict(zip(listing["ticker"], listing["sector"].map(sector_name)))
    members = list(real_market.universe_members(universe))
    for sector in {sector_of[m] for m in members if sector_of.get(m)}:
        mine = [m for m in members if sector_of.get(m) == sector]
        defined = theirs["_defined_50"][mine]
        expected = float(theirs["_above_50"][mine][defined].mean() * 100)
        assert ours[f"sector_{slug(sector)}_pct_above_50dma"] == pytest.approx(expected, abs=0.6), sector


def test_sectors_small_caps_are_heavy_in_come_first(real_market):
    from signals.metrics.breadth import universe_sectors

    names, codes = universe_sectors(real_market, "russell2000")
    assert names[:4] == ["Industrials", "Information Technology", "Financials", "Health Care"]  # by IWM weight
    assert "Communication Services" in names and "Communication" not in names  # iShares' name, mapped to GICS
    assert universe_sectors(real_market, "sp500")[0][:4] == names[:4]
    assert (codes >= 0).all()


def _starting(data, day: str):
    """The same history as if its files began on `day` (a later download of the same bars)."""
    from dataclasses import replace

    keep = data.sessions >= pd.Timestamp(day)
    return replace(data, close=data.close.loc[keep], high=data.high.loc[keep], low=data.low.loc[keep],
                   volume=data.volume.loc[keep], carried=None if data.carried is None else data.carried.loc[keep],
                   suspect=None if data.suspect is None else data.suspect.loc[keep])


@pytest.mark.parametrize("universe", ["sp500", "russell2000"])
def test_the_summation_level_does_not_depend_on_where_the_data_starts(real_market, universe):
    """Summed from the first session, the level carried -10 x that session's ratio for ever (S&P 500
    on 2024-03-08: -5,823 with 79% of members above their 20-day); a level is a level wherever the data begins."""
    full = compute_metrics(real_market).snapshot()["universes"][universe]
    later = compute_metrics(_starting(real_market, "2019-01-02")).snapshot()["universes"][universe]
    assert full["mcclellan_summation"] == pytest.approx(later["mcclellan_summation"], abs=5.0)
    if universe == "sp500":
        assert full["mcclellan_summation"] > 0 < full["pct_above_20dma"] - 50  # broad strength reads positive


def test_advances_and_declines_are_the_sign_of_each_change():
    """Counted a few rows at a time by comparison: the same as the sign of the difference with the session
    before (a gap on either side, or infinity against infinity, is neither), from any first row."""
    from signals.metrics.breadth import _advances_declines

    rng = np.random.default_rng(1)
    for _ in range(2000):
        rows, columns = int(rng.integers(0, 150)), int(rng.integers(0, 6))
        values = rng.choice([1.0, 2.0, 3.0, np.nan, np.inf, -np.inf], size=(rows, columns))
        first = int(rng.integers(0, rows + 1))
        with np.errstate(invalid="ignore"):
            change = np.diff(values[max(0, first - 1):], axis=0, prepend=np.nan)[min(first, 1):]
        advances, declines = _advances_declines(values, first)
        assert np.array_equal(advances, (change > 0).sum(axis=1))
        assert np.array_equal(declines, (change < 0).sum(axis=1))
