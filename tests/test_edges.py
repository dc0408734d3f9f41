"""The edge finder: starts and ends, cool-down, hysteresis, unknown days, events."""

from __future__ import annotations

import numpy as np

from signals.detectors.edges import find_edges

N = np.nan


def edges(values, kind="state", cooldown=20, end_after=3):
    return find_edges(np.array(values, dtype=float), kind, cooldown, end_after)


def test_start_then_end_after_three_false_sessions():
    assert edges([0, 1, 1, 0, 0, 0, 0]) == [(1, "start"), (5, "end")]


def test_a_short_dip_does_not_end_it():
    assert edges([1, 0, 0, 1, 0, 0, 1, 1]) == [(0, "start")]


def test_flicker_starts_at_most_once_per_cooldown():
    flicker = [1, 0, 0, 0] * 10  # would start every 4 sessions without the cool-down
    found = edges(flicker, cooldown=20)
    starts = [p for p, d in found if d == "start"]
    assert starts == [0, 20]
    assert all(b - a >= 20 for a, b in zip(starts, starts[1:]))


def test_a_start_held_back_by_the_cooldown_fires_when_it_expires():
    values = [1, 0, 0, 0] + [1] * 30
    assert edges(values, cooldown=10) == [(0, "start"), (3, "end"), (10, "start")]


def test_unknown_days_change_nothing():
    assert edges([N, N, 1, N, 0, N, 0, 0]) == [(2, "start"), (7, "end")]
    assert edges([N] * 5) == []


def test_events_fire_every_true_session_and_never_end():
    assert edges([0, 1, 0, 1, 1, N, 0], kind="event") == [(1, "start"), (3, "start"), (4, "start")]


def test_no_cooldown_lets_a_new_episode_start_right_after_an_end():
    assert edges([1, 0, 1], cooldown=0, end_after=1) == [(0, "start"), (1, "end"), (2, "start")]
