"""ADX (Wilder's Average Directional Index), the exact arithmetic of `ta` 0.11's ADXIndicator on arrays.

`ta` computes it with Python loops over pandas Series, indexing one scalar at a time: about 90 ms for
IWM's 1,800 sessions, which was a third of every tick. This is the same algorithm, the same
operations in the same order (so the same bits: `tests/test_breakout_metrics.py` compares it with
`ta` exactly), with its recursions run over plain floats and the rest over numpy arrays. It keeps
`ta`'s conventions: every input row must be a bar (drop NaN rows first) and the first 2 x window - 1
values are 0.0, not NaN (the caller masks them).
"""

from __future__ import annotations

import numpy as np


def _wilder_sums(values: np.ndarray, window: int, length: int) -> np.ndarray:
    """Wilder's running sum: the first `window` defined values summed, then s - s / window + x.
    ta leaves the last element 0.0 (its loop stops one short); so does this."""
    defined = values[~np.isnan(values)]
    previous = float(defined[:window].sum())
    width = float(window)
    series = values.tolist()
    sums = [previous]  # a Python list, one array at the end: a store into numpy per step cost as much as the step
    for x in series[window + 1:window + length - 1]:
        previous = previous - (previous / width) + x
        sums.append(previous)
    sums.append(0.0)
    return np.array(sums[:length])


def adx(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int = 14) -> np.ndarray:
    high, low, close = (np.asarray(a, dtype="float64") for a in (high, low, close))
    size = len(close)
    close_shift = np.r_[np.nan, close[:-1]]
    movement = np.amax([high, close_shift], axis=0) - np.amin([low, close_shift], axis=0)
    length = size - (window - 1)
    trs = _wilder_sums(movement, window, length)
    diff_up = high - np.r_[np.nan, high[:-1]]
    diff_down = np.r_[np.nan, low[:-1]] - low
    with np.errstate(invalid="ignore"):
        positive = np.abs(((diff_up > diff_down) & (diff_up > 0)) * diff_up)
        negative = np.abs(((diff_down > diff_up) & (diff_down > 0)) * diff_down)
    dip = _wilder_sums(positive, window, length)
    din = _wilder_sums(negative, window, length)
    with np.errstate(invalid="ignore", divide="ignore"):
        plus = np.where(trs != 0, 100 * (dip / trs), 0.0)
        minus = np.where(trs != 0, 100 * (din / trs), 0.0)
        total = plus + minus
        directional = np.where(total != 0, 100 * np.abs((plus - minus) / total), 0.0)
    smoothed = np.zeros(length)
    if length > window:
        previous = float(directional[0:window].mean())
        width = float(window)
        steps = [previous]
        for x in directional[window:length - 1].tolist():
            previous = ((previous * (window - 1)) + x) / width
            steps.append(previous)
        smoothed[window:] = steps
    return np.concatenate((np.zeros(window - 1), smoothed))
