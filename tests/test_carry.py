"""Recursions resumed where a tick left them give the bits of a run from the first session, and a
resumption never reads a progress made on other inputs (signals/metrics/carry.py)."""

from __future__ import annotations

import numpy as np

from signals.metrics.adx import AdxProgress, adx, adx_resumed
from signals.metrics.carry import Carry
from signals.metrics.cycle import GAP_SESSIONS, SwingProgress, swing_cycle, swing_resumed


def random_bars(size: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.012, size)))
    high = close * (1 + rng.uniform(0, 0.02, size))
    low = close * (1 - rng.uniform(0, 0.02, size))
    return high, low, close


def test_adx_resumed_a_session_at_a_time_equals_adx_from_the_first_bar():
    high, low, close = random_bars(400)
    _, progress = adx_resumed(high[:40], low[:40], close[:40], 14)
    for size in [*range(41, 80), 150, 151, 400]:  # a session a tick, then a jump, then the rest at once
        resumed, progress = adx_resumed(high[:size], low[:size], close[:size], 14, progress)
        np.testing.assert_array_equal(resumed, adx(high[:size], low[:size], close[:size], 14))


def test_adx_starts_over_on_other_bars_or_a_shorter_history():
    high, low, close = random_bars(300)
    _, progress = adx_resumed(high[:200], low[:200], close[:200], 14)
    revised = close.copy()
    revised[50] *= 1.01  # a bar in the middle changed: the progress no longer describes these bars
    for bars in ((high, low, revised), (high[:150], low[:150], close[:150])):
        np.testing.assert_array_equal(adx_resumed(*bars, 14, progress)[0], adx(*bars, 14))
    carry = Carry()
    carry.keep("adx", progress)
    assert carry.resume("adx", AdxProgress, (high, low, revised)) is None
    assert carry.resume("adx", AdxProgress, (high[:150], low[:150], close[:150])) is None
    assert carry.resume("adx", SwingProgress, (high, low, close)) is None  # another recursion's name
    assert carry.resume("adx", AdxProgress, (high, low, close)) is progress


def test_the_swing_rule_resumed_equals_it_from_the_first_session_across_turns_and_gaps():
    rng = np.random.default_rng(11)
    ratio = np.exp(np.cumsum(rng.normal(0, 0.02, 900)))  # wide swings: many turns at an 8% band
    ratio[100:103] = np.nan  # a short gap: the state holds
    ratio[500:500 + GAP_SESSIONS + 2] = np.nan  # a long one: the rule starts over
    _, progress = swing_resumed(ratio[:50], 8.0)
    for size in [*range(51, 130), 520, 521, 560, 900]:
        resumed, progress = swing_resumed(ratio[:size], 8.0, progress)
        whole = swing_cycle(ratio[:size], 8.0)
        for name, column in whole.items():
            np.testing.assert_array_equal(resumed[name], column)
    assert np.nanmax(swing_cycle(ratio, 8.0)["completed"]) >= 3  # the check crossed finished phases


def test_the_swing_rule_starts_over_with_another_band():
    ratio = np.exp(np.cumsum(np.random.default_rng(5).normal(0, 0.02, 300)))
    _, progress = swing_resumed(ratio[:200], 8.0)
    resumed, _ = swing_resumed(ratio, 5.0, progress)
    for name, column in swing_cycle(ratio, 5.0).items():
        np.testing.assert_array_equal(resumed[name], column)
