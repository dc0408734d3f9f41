"""What a signal is worth: the base rate, each key's excess over it, a confidence that counts overlap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from signals.replay import replay, summarize
from signals.signal import Signal
from signals.record_trust import holm, judge, placebo_p
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


def test_record_line_is_one_short_sentence_that_says_no_more_than_its_verdict():
    entry = {"starts": 13, "n_60d": 12, "mean_60d": 2.34, "t_60d": 0.9, "base_60d": -0.41, "verdict": "no edge",
             "p_adjusted": 0.62, "verdict_horizon": 60, "excess_60d": 2.75,
             "eras": [{"first": "2018-01-02", "starts": 6, "mean_excess": 1.0},
                      {"first": "2021-02-01", "starts": 6, "mean_excess": 4.0}]}
    line = record_line(entry, "2018-01-02", 18)
    assert line == ("Since 2018-01-02: 13 starts, 12 graded; over the next 60 sessions IWM beat SPY by 2.3 points "
                    "on average (any day: \u22120.4); no edge: p 0.62 once 18 tests are counted, could be chance.")
    edge = record_line({**entry, "verdict": "edge", "p_adjusted": 0.004}, "2018-01-02", 18)
    assert edge.endswith("an edge for small caps: p 0.004 after 18 tests, both halves agree.")
    split = {**entry, "p_adjusted": 0.01, "eras": [{**entry["eras"][0], "mean_excess": -1.0}, entry["eras"][1]]}
    assert record_line(split, "2018-01-02", 18).endswith("no edge: its two halves disagree.")
    assert "trailed SPY by 1.0" in record_line({**entry, "mean_60d": -1.0}, "2018-01-02", 18)
    assert "IWM and SPY were even on average" in record_line({**entry, "mean_60d": 0.0163}, "2018-01-02", 18)
    assert record_line(None, "2018-01-02") == "No start since 2018-01-02 to judge it by."
    assert "too recent" in record_line({"starts": 1, "mean_60d": None}, "2018-01-02")
    few = {**entry, "starts": 3, "n_60d": 3, "verdict": "too few", "p_adjusted": None}
    assert record_line(few, "2018-01-02", 18).endswith("3 starts; over the next 60 sessions IWM beat SPY by 2.3 "
                                                       "points on average (any day: \u22120.4); too few graded "
                                                       "starts to judge (5 needed).")
    for words in (line, edge, record_line(few, "2018-01-02", 18)):
        assert " each " not in words  # a mean is a mean: "each" would claim every start agreed


def _noise(seed: int, size: int = 1500, horizon: int = 60) -> np.ndarray:
    rng = np.random.default_rng(seed)
    iwm = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, size)))
    spy = 100 * np.exp(np.cumsum(rng.normal(0, 0.008, size)))
    return forward_relative(iwm, spy, horizon)


def test_the_placebo_p_is_uniform_on_noise_even_for_clustered_starts():
    """On a random walk no key has an edge: p < 0.05 about 5% of the time, clusters of starts included."""
    rng = np.random.default_rng(11)
    forward = _noise(11)
    low = 0
    trials = 200
    for _ in range(trials):
        centres = rng.choice(1500 - 70, 4, replace=False)
        picks = np.array(sorted({int(c + k * 3) for c in centres for k in range(3)}), dtype=np.int64)
        low += placebo_p(picks, forward, 0, 60, shifts=400) < 0.05
    assert low / trials < 0.10


def test_the_placebo_finds_a_real_effect_and_keeps_the_starts_spacing():
    forward = _noise(4, horizon=20)
    picks = np.arange(100, 1400, 130, dtype=np.int64)
    forward = forward.copy()
    forward[picks] += 12.0  # small caps beat the S&P 500 by 12 points after every start
    assert placebo_p(picks, forward, 0, 20) < 0.01
    assert placebo_p(picks, _noise(4, horizon=20), 0, 20) > 0.05


def test_holm_adjusts_for_every_test_made():
    adjusted = holm({("a", 20): 0.016, ("b", 20): 0.5, ("c", 60): 0.03})
    assert adjusted[("a", 20)] == pytest.approx(0.048)  # 3 x 0.016
    assert adjusted[("c", 60)] == pytest.approx(0.06)  # 2 x 0.03
    assert adjusted[("b", 20)] == pytest.approx(0.5)  # never below the one before it


def test_a_record_whose_eras_disagree_is_never_an_edge():
    """A strong effect in the first half and its reverse in the second: p may be small, the verdict is not."""
    index = sessions(1600)
    forward = {20: _noise(8, 1600, 20).copy(), 60: _noise(8, 1600, 60)}
    early = list(range(100, 700, 60))
    late = list(range(900, 1500, 60))
    forward[20][early] += 20.0
    forward[20][late] -= 8.0
    by_key = {"k": {"excess_20d": float(np.nanmean(forward[20][early + late]) - np.nanmean(forward[20])),
                    "excess_60d": 0.0}}
    tests = judge(by_key, {"k": early + late}, forward, 0, index)
    entry = by_key["k"]
    assert tests == 2
    assert [era["starts"] for era in entry["eras"]] == [10, 10]
    assert entry["eras"][0]["mean_excess"] > 0 > entry["eras"][1]["mean_excess"]
    assert entry["verdict"] == "no edge"
    one_sign = {"k": dict(by_key["k"])}
    forward[20][late] += 28.0  # now +20 in both halves
    one_sign["k"]["excess_20d"] = float(np.nanmean(forward[20][early + late]) - np.nanmean(forward[20]))
    judge(one_sign, {"k": early + late}, forward, 0, index)
    assert one_sign["k"]["verdict"] == "edge" and one_sign["k"]["p_adjusted"] < 0.05


@pytest.mark.market_data
def test_every_key_is_graded_over_the_development_set(real_market):
    result = replay(real_market, start="2018-01-01")
    stats = result.stats
    assert stats["base"]["n_60d"] > 1400
    for key, entry in stats["by_key"].items():
        if entry["starts"] and entry["n_60d"]:
            assert entry["excess_60d"] == pytest.approx(entry["mean_60d"] - stats["base"]["mean_60d"], abs=1e-3)
            assert entry["t_60d"] is not None, key


VERDICTS = {"edge", "against", "no edge", "too few"}


def _check_trust_fields(stats):
    for key, entry in stats["by_key"].items():
        assert entry["verdict"] in VERDICTS, key
        assert len(entry["eras"]) >= 2 and all(set(era) == {"first", "starts", "mean_excess"} for era in entry["eras"])
        graded = entry[f"n_{entry['verdict_horizon']}d"]
        assert sum(era["starts"] for era in entry["eras"]) == graded, key
        if entry["verdict"] in ("edge", "against"):
            assert entry["p_adjusted"] < 0.05, key
            sign = 1 if entry["verdict"] == "edge" else -1
            assert all(era["mean_excess"] is not None and era["mean_excess"] * sign > 0 for era in entry["eras"])
        if max(entry["n_20d"], entry["n_60d"]) < 5:
            assert entry["verdict"] == "too few" and entry["p_adjusted"] is None, key


@pytest.mark.market_data
def test_every_record_says_how_far_to_trust_it_on_the_development_set(real_market):
    stats = replay(real_market, start="2018-01-01").stats
    _check_trust_fields(stats)
    assert stats["tests"] == sum(entry[f"n_{h}d"] >= 5 for entry in stats["by_key"].values() for h in (20, 60))
    leg = stats["by_key"]["breakout:smallcap_leg"]
    assert leg["verdict"] == "too few"  # "+8.89, t 2.0, 100% hit" rested on 2 graded starts


def test_the_one_strong_result_among_18_is_chance_once_the_tests_are_counted(decades):
    """The curve inversion's t -2.6 at 20 sessions was the one |t| >= 2 of 18 tests: placebo p about
    0.016, about 0.3 once the 18 tests are counted. It is no edge, and the line says so."""
    stats = replay(decades, "1988-09-12").stats
    _check_trust_fields(stats)
    curve = stats["by_key"]["rates:curve_inverted"]
    assert stats["tests"] == 18
    assert curve["p_20d"] < 0.03 and curve["p_adjusted"] > 0.2
    assert curve["verdict"] == "no edge"
    assert record_line(curve, "1988-09-12", stats["tests"]).endswith("could be chance.")
    assert not any(entry["verdict"] in ("edge", "against") for entry in stats["by_key"].values())


def test_many_keys_placebos_at_once_are_each_key_s_own():
    """`Placebo.ps` gathers every key's shifted starts at once: each p must be the one its key's starts
    alone give, to the bit (a p sits on a count of shifts at least as far out as the real excess)."""
    from signals.record_trust import Placebo

    def alone(placebo, picks):  # the definition, one key at a time
        where = np.searchsorted(placebo.usable, picks)
        observed = abs(float(placebo.values[where].mean()) - placebo.base)
        shifted = placebo.around[where[:, None] + placebo.candidates[None, :]].mean(axis=0) - placebo.base
        return (1 + int((np.abs(shifted) >= observed - 1e-12).sum())) / (1 + len(placebo.candidates))

    rng = np.random.default_rng(11)
    for _ in range(60):
        forward = _noise(int(rng.integers(0, 1000)), horizon=20)
        forward[rng.random(len(forward)) < 0.05] = np.nan
        placebo = Placebo(forward, 30, 20, shifts=int(rng.integers(20, 500)))
        usable = placebo.usable
        keys = {f"k{k}": np.sort(rng.choice(usable, int(rng.integers(1, min(60, len(usable)) + 1)), replace=False))
                for k in range(int(rng.integers(1, 8)))}
        keys["none"] = np.array([], dtype=np.int64)
        together = placebo.ps(keys)
        for key, picks in keys.items():
            expected = alone(placebo, picks) if len(picks) and len(placebo.candidates) >= 20 else None
            assert together[key] == expected, key
