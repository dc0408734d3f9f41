"""No look-ahead: appending later rows changes nothing up to the cut, for every metric and signal.

This is the future-data test of every metric: each column of each metric group is one case.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from signals.detectors import detect
from signals.metrics import GROUPS, compute_metrics
from signals.settings import load_detector_settings
from tests.builders import market, random_walk, sessions


def synthetic():
    index = sessions(420)
    members = [f"M{i}" for i in range(12)]
    themes = ["XLI", "XLF", "XLY", "XLK", "KRE", "HYG", "IEF"]  # sectors and credit
    close = random_walk(index, members + ["^GSPC", "SPY", "RSP", "IWM", "^RUT", "^IRX", "^TNX", *themes], seed=21)
    rng = np.random.default_rng(2)
    high = close * (1 + rng.uniform(0, 0.02, close.shape))
    low = close * (1 - rng.uniform(0, 0.02, close.shape))
    volume = pd.DataFrame(rng.integers(100, 900, close.shape), index=index, columns=close.columns, dtype=float)
    rates_index = pd.date_range(index[0], index[-1], freq="D", name="date")  # FRED's daily series too
    steps = rng.normal(0, 0.03, (len(rates_index), 3)).cumsum(axis=0)
    rates = pd.DataFrame({"DGS2": 3 + steps[:, 0], "DGS3MO": 3.2 + steps[:, 1], "DGS10": 3.1 + steps[:, 2],
                          "DFEDTARU": np.repeat([2.5, 2.75, 2.5], [100, 300, len(rates_index) - 400]),
                          "DFEDTARL": np.repeat([2.25, 2.5, 2.25], [100, 300, len(rates_index) - 400])},
                         index=rates_index)
    data = market(close, members=members, high=high, low=low, volume=volume, rates=rates)
    return replace(data, universes={"russell2000": tuple(members[6:])})  # small caps: half the members


SYNTHETIC = synthetic()
FULL = compute_metrics(SYNTHETIC)
CUTS = ["2020-09-01", "2021-01-15", SYNTHETIC.sessions[-40].strftime("%Y-%m-%d")]
CASES = [(group, column) for group in GROUPS for column in FULL.group(group).columns]


@pytest.fixture(scope="module")
def truncated():
    return {cut: compute_metrics(SYNTHETIC.as_of(cut)) for cut in CUTS}


@pytest.mark.parametrize("group, column", CASES, ids=[f"{g}.{c}" for g, c in CASES])
def test_metric_up_to_a_date_ignores_later_rows(truncated, group, column):
    for cut, early in truncated.items():
        before = early.group(group)[column]
        after = FULL.group(group)[column].loc[:cut]
        assert before.index.equals(after.index)
        pd.testing.assert_series_equal(before, after, check_exact=False, rtol=1e-12, atol=1e-9, obj=f"{column}@{cut}")


def test_signals_up_to_a_date_ignore_later_rows():
    settings = load_detector_settings()
    everything = detect(FULL, settings)
    assert everything, "the synthetic history should produce some signals"
    for cut in CUTS:
        early = detect(compute_metrics(SYNTHETIC.as_of(cut)), settings)
        assert early == [s for s in everything if s.date <= cut]


def test_as_of_is_a_view_not_a_copy():
    cut = SYNTHETIC.as_of("2020-09-01")
    assert np.shares_memory(cut.close.to_numpy(), SYNTHETIC.close.to_numpy())
    assert cut.last_session == pd.Timestamp("2020-09-01")
    assert cut.rates.index.max() <= pd.Timestamp("2020-09-01")
    assert SYNTHETIC.as_of("2020-09-05").last_session == pd.Timestamp("2020-09-04")  # Saturday -> Friday


@pytest.mark.market_data
def test_real_data_metrics_do_not_change_when_later_years_are_appended(real_market):
    full = compute_metrics(real_market)
    for cut in ("2020-03-23", "2022-06-16"):
        early = compute_metrics(real_market.as_of(cut))
        for group in GROUPS:
            pd.testing.assert_frame_equal(early.group(group), full.group(group).loc[:cut],
                                          check_exact=False, rtol=1e-10, atol=1e-8)
