"""The edge finder: starts and ends, the start limit, bands, unknown days, events."""

from __future__ import annotations

import numpy as np

from signals.detectors.edges import StartLimit, find_edges

N = np.nan
TWICE_IN_60 = StartLimit(max_starts=2, window=60)


def edges(values, kind="state", limit=TWICE_IN_60, end_after=3, hold=None):
    hold = None if hold is None else np.array(hold, dtype=float)
    return find_edges(np.array(values, dtype=float), kind, limit, end_after, hold)


def test_start_then_end_after_three_false_sessions():
    assert edges([0, 1, 1, 0, 0, 0, 0]) == [(1, "start"), (5, "end")]


def test_a_short_dip_does_not_end_it():
    assert edges([0, 1, 0, 0, 1, 0, 0, 1, 1]) == [(1, "start")]


def test_a_condition_true_when_first_known_is_history_not_a_start():
    """The first sessions of the data (or of a metric's window) cannot say when it turned true."""
    assert edges([1, 1, 1, 0, 0, 0, 1]) == [(6, "start")]
    assert edges([N, N, 1, 1, 0, 1]) == [(5, "start")]
    assert edges([N, 0, 1]) == [(2, "start")]


def test_flicker_starts_at_most_twice_in_any_60_sessions():
    flicker = [0, 1, 0, 0] * 40  # would start every 4 sessions without the limit
    starts = [p for p, d in edges(flicker) if d == "start"]
    assert starts == [1, 5, 61, 65, 121, 125]
    assert all(sum(1 for s in starts if p - 60 < s <= p) <= 2 for p in range(len(flicker)))


def test_a_decisive_breakout_three_weeks_after_a_failed_one_still_starts():
    # The 2024 case: a breakout in mid-October failed within days; on 2024-11-06 IWM closed 4.6%
    # above its prior high, 16 sessions after the first start. A 20-session cool-down counted from
    # the first start held it back to 11-25; two starts per 60 sessions let it through that day.
    failed = [1, 1, 0, 0, 0]
    decisive = [1] * 10
    values = [0] * 5 + failed + [0] * 11 + decisive
    assert edges(values) == [(5, "start"), (9, "end"), (21, "start")]


def test_a_start_held_back_by_the_limit_fires_when_a_slot_frees():
    values = [0, 1, 0, 0, 0, 1, 0, 0, 0] + [1] * 60
    starts = [p for p, d in edges(values) if d == "start"]
    assert starts == [1, 5, 61]


def test_a_band_makes_a_level_hovering_at_its_threshold_alert_once():
    spread = np.array([5, -12, -8, 2, -11, 4, -9, 6, 12, 14, 15, -3, -12])  # the curve in bp
    start = (spread < -10).astype(float)
    hold = (spread <= 10).astype(float)
    assert edges(start, hold=hold) == [(1, "start"), (10, "end"), (12, "start")]
    plain_zero_line = edges((spread < 0).astype(float), limit=None, end_after=1)
    assert len([d for _, d in plain_zero_line if d == "start"]) == 4  # what a zero line without a band gives


def test_unknown_days_change_nothing():
    assert edges([0, N, 1, N, 0, N, 0, 0]) == [(2, "start"), (7, "end")]
    assert edges([N] * 5) == []


def test_events_fire_every_true_session_and_never_end():
    assert edges([0, 1, 0, 1, 1, N, 0], kind="event", limit=None) == [(1, "start"), (3, "start"), (4, "start")]


def test_limited_events_obey_the_start_limit():
    assert edges([1, 1, 1, 1], kind="event") == [(0, "start"), (1, "start")]


def test_no_limit_lets_a_new_episode_start_right_after_an_end():
    assert edges([0, 1, 0, 1], limit=None, end_after=1) == [(1, "start"), (2, "end"), (3, "start")]


def scanned(values, holding, limit, end_after):
    """The rule as a session-by-session scan (the finder's first form): the specification the finder,
    which skips from edge to edge, must equal on any input."""
    recent: list[int] = []
    edges_found = []
    active, seen_false, false_run = False, False, 0
    for position in range(len(values)):
        value, held = values[position], holding[position]
        if np.isnan(value) and np.isnan(held):
            continue
        if active:
            if np.isnan(held):
                continue
            false_run = 0 if held == 1.0 else false_run + 1
            if false_run >= end_after:
                active = False
                edges_found.append((position, "end"))
        elif value == 0.0:
            seen_false = True
        elif value == 1.0 and seen_false and (
                limit is None or sum(r > position - limit.window for r in recent) < limit.max_starts):
            active, false_run = True, 0
            recent.append(position)
            edges_found.append((position, "start"))
    return edges_found


def test_the_finder_equals_the_session_by_session_scan_on_any_input():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    cell = st.sampled_from([0.0, 0.0, 1.0, 1.0, 1.0, np.nan])  # runs of true and false, some unknown
    limits = st.one_of(st.none(), st.builds(StartLimit, st.integers(1, 3), st.integers(1, 12)))

    @settings(max_examples=1500, deadline=None)
    @given(st.lists(st.tuples(cell, cell), max_size=80), limits, st.integers(0, 5), st.booleans())
    def check(pairs, limit, end_after, with_hold):
        values = np.array([v for v, _ in pairs], dtype=float)
        holding = np.array([h for _, h in pairs], dtype=float) if with_hold else values
        got = find_edges(values, "state", limit, end_after, holding if with_hold else None)
        assert got == scanned(values, holding, limit, end_after)

    check()


def test_a_start_waits_until_the_window_of_the_last_one_has_passed():
    """One start in 5 sessions: a start at 1 allows the next at 6, not 5 (the boundary of the limit)."""
    values = [0, 1, 0, 0, 0, 1, 1, 1]
    assert edges(values, limit=StartLimit(1, 5), end_after=1) == [(1, "start"), (2, "end"), (6, "start")]
