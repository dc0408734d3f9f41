"""The small-cap cycle's swing rule (DESIGN's contract), on built series and on the development set."""

from __future__ import annotations

import numpy as np
import pytest

from signals.metrics.cycle import LARGE, SMALL, swing_cycle
from signals.replay import replay


def run(values: list[float], band: float = 8.0) -> dict[str, np.ndarray]:
    return swing_cycle(np.array(values, dtype="float64"), band)


def test_a_rise_of_the_band_from_the_lowest_close_starts_a_small_phase_dated_to_that_low():
    state = run([100, 96, 94, 97, 101, 102.0])  # 94 x 1.08 = 101.52: crossed on the last session only
    assert np.isnan(state["leader"][:5]).all()  # before the first turn the leader is unknown
    assert state["leader"][5] == SMALL and state["since"][5] == 2 and state["confirmed"][5] == 5


def test_before_the_first_turn_a_rise_is_checked_first():
    # from 100 the low stays 100 while the high is 100: a close of 108 is a rise, never a fall
    state = run([100, 108.0])
    assert state["leader"][1] == SMALL


def test_a_fall_of_the_band_from_the_highest_close_since_the_turn_starts_a_large_phase():
    values = [100, 93, 101, 110, 105, 101, 100.0]  # small from 93 (101 >= 100.44), high 110, 110 x 0.92 = 101.2
    state = run(values)
    assert state["leader"][2] == SMALL and state["since"][2] == 1
    assert state["leader"][5] == LARGE and state["since"][5] == 3 and state["confirmed"][5] == 5
    assert state["completed"][5] == 0  # no large phase finished yet
    later = run(values + [109.0])  # the low since the large turn is 100: 108 crosses back
    assert later["leader"][7] == SMALL and later["since"][7] == 6
    assert later["completed"][7] == 1 and later["median_sessions"][7] == 2  # the small phase 1 -> 3


def test_inside_the_band_nothing_turns():
    state = run([100, 95, 99, 96, 100, 96.5])
    assert np.isnan(state["leader"]).all()


def test_a_gap_in_the_history_starts_the_rule_over():
    values = [100, 92, 100.0] + [np.nan] * 30 + [100, 99.0]
    state = run(values)
    assert state["leader"][2] == SMALL
    assert np.isnan(state["leader"][-2:]).all()  # unknown again after the gap, not a 30-session phase


def test_the_development_sets_phases_and_the_key(real_market):
    from signals.metrics import compute_metrics

    cycle = compute_metrics(real_market).snapshot()["cycle"]
    assert cycle["pair"] == "IWM/SPY" and cycle["leader"] == "large" and cycle["since"] == "2023-12-27"
    small = [(p["since"], p["sessions"]) for p in cycle["phases"] if p["leader"] == "small"]
    assert small == [("2018-02-28", 78), ("2020-03-18", 248), ("2022-05-11", 184), ("2023-11-10", 31)]
    assert cycle["completed"] == 4 and cycle["median_sessions"] == pytest.approx(291.5)
    edges = [(s.date, s.direction) for s in replay(real_market, "2018-01-01").signals if s.type == "cycle"]
    # starts when a small phase is confirmed, ends the session a large phase is
    assert edges[:4] == [("2018-05-29", "start"), ("2018-10-02", "end"), ("2020-04-28", "start"),
                         ("2021-03-29", "end")]
