"""Rates metrics: FRED on the session calendar with its publication lag, changes in basis points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from signals.metrics import compute_metrics
from signals.settings import load_detector_settings
from tests.builders import market, sessions


def fred(index: pd.DatetimeIndex, **series: list[float]) -> pd.DataFrame:
    return pd.DataFrame(series, index=pd.DatetimeIndex(index, name="date"))


@pytest.fixture
def setup():
    index = sessions(30)
    close = pd.DataFrame({"A": 1.0}, index=index)
    two_year = np.linspace(4.0, 3.42, 30)  # falls 2 bp a day
    rates = fred(index, DGS2=two_year, DGS3MO=[5.0] * 30, DGS10=[4.9] * 15 + [5.1] * 15,
                 DFEDTARU=[5.5] * 20 + [5.25] * 10, DFEDTARL=[5.25] * 20 + [5.0] * 10)
    return index, close, rates, two_year


def test_fred_values_are_usable_the_session_after_their_date(setup, tmp_path):
    index, close, rates, two_year = setup
    out = compute_metrics(market(close, members=["A"], rates=rates)).group("rates")
    assert np.isnan(out["yield_2y"].iat[0])
    assert out["yield_2y"].iat[5] == pytest.approx(two_year[4])
    # the Fed's new target is dated by its effective day (session 20), the session after the
    # FOMC announced it: already public, so known at that session's close, with no lag on top
    assert out["fed_target_change_bp"].iat[20] == -25
    assert (out["fed_target_change_bp"].drop(out.index[20]).fillna(0) == 0).all()
    assert out["fed_target_upper"].iat[20] == 5.25
    assert out["fed_target_upper"].iat[19] == 5.5

    config = tmp_path / "lag0.toml"
    config.write_text("[rates]\npublication_lag_sessions = 0\n")
    same_day = compute_metrics(market(close, members=["A"], rates=rates), load_detector_settings(config)).group("rates")
    assert same_day["yield_2y"].iat[5] == pytest.approx(two_year[5])
    assert same_day["fed_target_change_bp"].iat[20] == -25


def test_twenty_session_change_in_basis_points_and_the_curve(setup):
    index, close, rates, two_year = setup
    out = compute_metrics(market(close, members=["A"], rates=rates)).group("rates")
    assert out["yield_2y_change_20d_bp"].iat[25] == pytest.approx((two_year[24] - two_year[4]) * 100)
    assert out["spread_10y_3m_bp"].iat[10] == pytest.approx(-10)
    assert out["curve_inverted"].iat[10] == 1.0
    assert out["spread_10y_3m_bp"].iat[20] == pytest.approx(10)
    assert out["curve_inverted"].iat[20] == 0.0


def test_a_fred_value_dated_on_a_weekend_is_known_at_the_next_session():
    index = sessions(10, start="2024-01-01")  # Monday 2024-01-01 .. Friday 01-12
    close = pd.DataFrame({"A": 1.0}, index=index)
    rates = fred(pd.DatetimeIndex(["2024-01-05", "2024-01-06"]), DFEDTARU=[5.5, 5.25], DFEDTARL=[5.25, 5.0])
    out = compute_metrics(market(close, members=["A"], rates=rates)).group("rates")
    assert out.loc["2024-01-08", "fed_target_upper"] == 5.25  # Saturday's value, known Monday
    assert out.loc["2024-01-05", "fed_target_upper"] == 5.5  # Friday's own value, the target has no lag
    assert np.isnan(out.loc["2024-01-04", "fed_target_upper"])


def test_yahoo_yields_stand_in_for_missing_fred_series():
    index = sessions(25)
    close = pd.DataFrame({"A": 1.0, "^IRX": 5.2, "^TNX": np.linspace(4.0, 4.5, 25)}, index=index)
    metrics = compute_metrics(market(close, members=["A"]))
    assert metrics.group("rates")["yield_3m"].iat[-1] == 5.2
    assert metrics.group("rates")["spread_10y_3m_bp"].iat[-1] == pytest.approx(-70)
    assert metrics.group("rates")["yield_2y"].isna().all()
    assert any("DGS2 not in the data" in note for note in metrics.notes)
    assert any("^IRX stands in" in note for note in metrics.notes)


def test_values_published_by_the_same_session_leave_it_the_latest():
    """A yield dated Friday, one dated Saturday and one dated Sunday are all known at Monday's close
    (a session's lag after their dates): Monday reads Sunday's, the latest."""
    index = sessions(10, start="2024-01-01")
    close = pd.DataFrame({"A": 1.0}, index=index)
    rates = fred(pd.DatetimeIndex(["2024-01-04", "2024-01-05", "2024-01-06", "2024-01-07"]), DGS2=[4.0, 4.1, 4.2, 4.3])
    out = compute_metrics(market(close, members=["A"], rates=rates)).group("rates")
    assert out.loc["2024-01-05", "yield_2y"] == 4.0
    assert out.loc["2024-01-08", "yield_2y"] == 4.3
    assert np.isnan(out.loc["2024-01-04", "yield_2y"])


def test_a_rates_frame_without_dates_leaves_the_yields_unavailable():
    """An empty frame without a date index (no rates at all) is read as no series, not as bad dates."""
    close = pd.DataFrame({"A": 1.0}, index=sessions(25))
    metrics = compute_metrics(market(close, members=["A"], rates=pd.DataFrame()))
    assert metrics.group("rates")["yield_2y"].isna().all()
    assert any("DGS2 not in the data" in note for note in metrics.notes)
