"""What a signal is worth: the base rate, each key's excess over it, a confidence that counts overlap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from signals.replay import replay, summarize
from signals.signal import Signal
from signals.signal_value import autocovariances, forward_relative, grade, record_line
from tests.builders import market, sessions


def test_forward_relative_is_iwm_return_minus_spy_return():
    iwm = np.array([100.0, 110.0, 121.0, 90.0])
    spy = np.array([50.0, 50.0, 55.0, 60.0])
    out = forward_relative(iwm, spy, 2)
    assert out[0] == pytest.approx((121 / 100 - 55 / 50) * 100)
    assert out[1] == pytest.approx((90 / 110 - 60 / 50) * 100)
    assert np.isnan(out[2:]).all()


def test_base_and_excess_against_every_session_of_the_span():
    index = sessions(200)
    rng = np.random.default_rng(3)
    iwm = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 200)))
    spy = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 200)))
    data = market(pd.DataFrame({"IWM": iwm, "SPY": spy, "A": 1.0}, index=index), members=["A"])
    first = 30
    starts = [40, 45, 120]
    signals = [Signal("breakout", "breakout:x", index[p].strftime("%Y-%m-%d"), "start", "t") for p in starts]
    stats = summarize(data, first, signals)
    every = [(iwm[t + 20] / iwm[t] - spy[t + 20] / spy[t]) * 100 for t in range(first, 200 - 20)]
    assert stats["base"]["n_20d"] == len(every)
    assert stats["base"]["mean_20d"] == pytest.approx(np.mean(every), abs=1e-4)
    assert stats["base"]["hit_rate_20d"] == pytest.approx(np.mean(np.array(every) > 0), abs=1e-4)
    after = [(iwm[p + 20] / iwm[p] - spy[p + 20] / spy[p]) * 100 for p in starts]
    entry = stats["by_key"]["breakout:x"]
    assert entry["n_20d"] == 3
    assert entry["mean_20d"] == pytest.approx(np.mean(after), abs=1e-4)
    assert entry["excess_20d"] == pytest.approx(np.mean(after) - np.mean(every), abs=2e-4)
    assert entry["hit_rate_20d"] == pytest.approx(np.mean(np.array(after) > 0), abs=1e-4)


def test_the_standard_error_adds_the_overlap_of_nearby_starts():
    rng = np.random.default_rng(5)
    forward = rng.normal(0, 1, 500).cumsum()[20:] - rng.normal(0, 1, 500).cumsum()[:-20]  # overlapping-ish
    gamma = autocovariances(forward, 19)
    centred = forward - forward.mean()
    assert gamma[0] == pytest.approx(centred @ centred / len(forward))
    assert gamma[5] == pytest.approx(centred[:-5] @ centred[5:] / len(forward))
    far = grade([10, 100, 300], forward, 0, 20)  # more than 20 apart: independent
    expected = (far.excess / math.sqrt(gamma[0] / 3))
    assert far.t == pytest.approx(expected, abs=0.01)
    near = grade([10, 15], forward, 0, 20)  # 5 apart: weight 1 - 5/20 on the lag-5 autocovariance
    variance = (2 * gamma[0] + 2 * 0.75 * gamma[5]) / 4
    assert near.t == pytest.approx(near.excess / math.sqrt(variance), abs=0.01)


def test_clustered_starts_on_noise_are_rarely_significant():
    """On a random walk no key has an edge: |t| >= 2 should come up about 5% of the time even when
    starts cluster (as real ones do). Treating the overlapping windows as independent would call
    far more of them significant; that is the mistake the confidence measure exists to avoid."""
    rng = np.random.default_rng(11)
    size, horizon = 1500, 60
    iwm = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, size)))
    spy = 100 * np.exp(np.cumsum(rng.normal(0, 0.008, size)))
    forward = forward_relative(iwm, spy, horizon)
    flagged = naive_flagged = 0
    trials = 300
    for _ in range(trials):
        centres = rng.choice(size - horizon - 10, 4, replace=False)
        starts = sorted({int(c + k * 3) for c in centres for k in range(3)})  # clusters of 3 starts
        graded = grade(starts, forward, 0, horizon)
        flagged += abs(graded.t) >= 2
        values = forward[starts]
        naive_t = graded.excess / (np.nanstd(forward) / math.sqrt(len(values)))
        naive_flagged += abs(naive_t) >= 2
    assert flagged / trials < 0.12
    assert naive_flagged / trials > 2 * flagged / trials


def test_record_line_is_one_short_sentence():
    entry = {"starts": 13, "mean_60d": 2.34, "t_60d": 0.9, "base_60d": -0.41}
    line = record_line(entry, "2018")
    assert line == ("Since 2018: 13 starts; over the next 60 sessions IWM beat SPY by 2.3 points on average "
                    "(any day: \u22120.4), not significant.")
    assert "significant (t +2.5)" in record_line({**entry, "t_60d": 2.5}, "2018")
    assert "trailed SPY by 1.0" in record_line({**entry, "mean_60d": -1.0}, "2018")
    assert "IWM and SPY were even on average" in record_line({**entry, "mean_60d": 0.0163}, "2018")
    assert record_line(None, "2018") == "No start since 2018 to judge it by."
    assert "too recent" in record_line({"starts": 1, "mean_60d": None}, "2018")
    assert record_line({**entry, "starts": 3, "n_60d": 3, "t_60d": 2.5}, "2018").endswith("too few to judge.")


@pytest.mark.market_data
def test_every_key_is_graded_over_the_development_set(real_market):
    result = replay(real_market, start="2018-01-01")
    stats = result.stats
    assert stats["base"]["n_60d"] > 1400
    for key, entry in stats["by_key"].items():
        if entry["starts"] and entry["n_60d"]:
            assert entry["excess_60d"] == pytest.approx(entry["mean_60d"] - stats["base"]["mean_60d"], abs=1e-3)
            assert entry["t_60d"] is not None, key
