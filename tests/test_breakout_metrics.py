"""Breakout metrics: prior highs exclude today, ADX warm-up and NaN handling, volume ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ta.trend import ADXIndicator

from signals.metrics import compute_metrics
from tests.builders import market, random_walk, sessions


@pytest.fixture(scope="module")
def bars():
    index = sessions(320)
    close = random_walk(index, ["IWM", "SPY", "^RUT", "A"], seed=11)
    rng = np.random.default_rng(5)
    high = close * (1 + rng.uniform(0.001, 0.02, close.shape))
    low = close * (1 - rng.uniform(0.001, 0.02, close.shape))
    volume = pd.DataFrame(rng.integers(1_000, 5_000, close.shape), index=index, columns=close.columns, dtype=float)
    return close, high, low, volume


def test_prior_highs_exclude_today(bars):
    close, high, low, volume = bars
    out = compute_metrics(market(close, members=["A"], high=high, low=low, volume=volume)).group("breakout")
    iwm = close["IWM"]
    for day in (20, 100, 319):
        prior20 = iwm.iloc[day - 20:day].max()
        assert out["iwm_prior_20d_high"].iat[day] == pytest.approx(prior20)
        assert out["iwm_pct_vs_prior_20d_high"].iat[day] == pytest.approx((iwm.iat[day] / prior20 - 1) * 100)
    assert out["iwm_prior_252d_high"].iat[252] == pytest.approx(iwm.iloc[:252].max())
    assert np.isnan(out["iwm_prior_252d_high"].iat[251])
    ratio = close["IWM"] / close["SPY"]
    assert out["iwm_spy_prior_60d_high"].iat[300] == pytest.approx(ratio.iloc[240:300].max())
    assert out["iwm_spy_200d_avg"].iat[300] == pytest.approx(ratio.iloc[101:301].mean())
    assert out["rut_prior_20d_high"].iat[50] == pytest.approx(close["^RUT"].iloc[30:50].max())


def test_a_new_high_reads_positive_against_the_prior_high():
    index = sessions(30)
    close = pd.DataFrame({"IWM": np.arange(1, 31, dtype=float), "SPY": 1.0, "A": 1.0}, index=index)
    out = compute_metrics(market(close, members=["A"])).group("breakout")
    assert out["iwm_pct_vs_prior_20d_high"].iat[-1] == pytest.approx((30 / 29 - 1) * 100)


def test_adx_is_ta_on_clean_bars_with_the_warm_up_masked(bars):
    close, high, low, volume = bars
    out = compute_metrics(market(close, members=["A"], high=high, low=low, volume=volume)).group("breakout")
    reference = ADXIndicator(high["IWM"], low["IWM"], close["IWM"], window=14).adx()
    assert out["iwm_adx_14"].iloc[:27].isna().all()  # ta reports 0.0 there: not a real reading
    assert (reference.iloc[:27] == 0).all()
    np.testing.assert_array_equal(out["iwm_adx_14"].iloc[27:], reference.iloc[27:])  # the same bits
    assert out["iwm_adx_14"].iloc[27:].between(0, 100).all()


@pytest.mark.market_data
def test_adx_is_ta_bit_for_bit_on_real_iwm_bars(real_market):
    from signals.metrics.adx import adx

    bars = pd.DataFrame({"high": real_market.high["IWM"], "low": real_market.low["IWM"],
                         "close": real_market.close["IWM"]}).dropna()
    reference = ADXIndicator(bars["high"], bars["low"], bars["close"], window=14).adx().to_numpy()
    np.testing.assert_array_equal(adx(bars["high"], bars["low"], bars["close"], 14), reference)


def test_a_nan_bar_does_not_poison_later_adx(bars):
    close, high, low, volume = bars
    high = high.copy()
    high.iloc[150, high.columns.get_loc("IWM")] = np.nan
    out = compute_metrics(market(close, members=["A"], high=high, low=low, volume=volume)).group("breakout")
    assert np.isnan(out["iwm_adx_14"].iat[150])
    assert out["iwm_adx_14"].iloc[151:].notna().all()


def test_volume_ratio_against_the_prior_fifty_sessions(bars):
    close, high, low, volume = bars
    out = compute_metrics(market(close, members=["A"], high=high, low=low, volume=volume)).group("breakout")
    day = 200
    expected = volume["IWM"].iat[day] / volume["IWM"].iloc[day - 50:day].mean()
    assert out["iwm_volume_ratio_50d"].iat[day] == pytest.approx(expected)
    assert np.isnan(out["iwm_volume_ratio_50d"].iat[49])


def test_missing_optional_columns_degrade_with_notes(bars):
    close = bars[0]
    metrics = compute_metrics(market(close, members=["A"]))
    assert metrics.group("breakout")["iwm_adx_14"].isna().all()
    assert metrics.group("breakout")["iwm_volume_ratio_50d"].isna().all()
    assert any("ADX confirmation is unavailable" in note for note in metrics.notes)
    assert any("volume confirmation is unavailable" in note for note in metrics.notes)
    assert metrics.group("breakout")["iwm_pct_vs_prior_252d_high"].notna().any()  # the rest still works
