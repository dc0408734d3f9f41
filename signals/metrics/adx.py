"""ADX (Wilder's Average Directional Index), the exact arithmetic of `ta` 0.11's ADXIndicator on arrays.

`ta` computes it with Python loops over pandas Series, indexing one scalar at a time: about 90 ms for
IWM's 1,800 sessions, which was a third of every tick. This is the same algorithm, the same
operations in the same order (so the same bits: `tests/test_breakout_metrics.py` compares it with
`ta` exactly), with its recursions run over plain floats and the rest over numpy arrays. It keeps
`ta`'s conventions: every input row must be a bar (drop NaN rows first) and the first 2 x window - 1
values are 0.0, not NaN (the caller masks them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from signals.metrics.carry import Progress


@dataclass(frozen=True)
class AdxProgress(Progress):
    """ADX's recursions after the bars in `inputs` (high, low, close): Wilder's running sums of the true
    range, +DM and -DM (without ta's trailing 0.0), and the smoothed index from position `window` on."""

    window: int
    sums: tuple[list[float], ...]
    smoothed: list[float]


def adx(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int = 14) -> np.ndarray:
    return adx_resumed(high, low, close, window)[0]


def adx_resumed(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int = 14,
                progress: AdxProgress | None = None) -> tuple[np.ndarray, AdxProgress]:
    """ADX and where its recursions got to; given the `progress` of a start of these bars, the recursions
    go on from it (signals/metrics/carry.py) instead of from the first bar."""
    high, low, close = (np.asarray(a, dtype="float64") for a in (high, low, close))
    size = len(close)
    close_shift = np.r_[np.nan, close[:-1]]
    movement = np.amax([high, close_shift], axis=0) - np.amin([low, close_shift], axis=0)
    length = size - (window - 1)
    diff_up = high - np.r_[np.nan, high[:-1]]
    diff_down = np.r_[np.nan, low[:-1]] - low
    with np.errstate(invalid="ignore"):
        positive = np.abs(((diff_up > diff_down) & (diff_up > 0)) * diff_up)
        negative = np.abs(((diff_down > diff_up) & (diff_down > 0)) * diff_down)
    resumed = progress is not None and progress.window == window and progress.continues((high, low, close))
    if progress is not None and resumed:
        sums = tuple(list(running) for running in progress.sums)
        steps = list(progress.smoothed)
    else:
        sums = tuple([_first_sum(values, window)] for values in (movement, positive, negative))
        steps = []
    for running, values in zip(sums, (movement, positive, negative)):
        _wilder_sums(running, values, window, length - 1)
    trs, dip, din = (np.array([*running, 0.0][:length]) for running in sums)  # ta's last element is 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        plus = np.where(trs != 0, 100 * (dip / trs), 0.0)
        minus = np.where(trs != 0, 100 * (din / trs), 0.0)
        total = plus + minus
        directional = np.where(total != 0, 100 * np.abs((plus - minus) / total), 0.0)
    smoothed = np.zeros(length)
    if length > window:
        if not steps:
            steps = [float(directional[0:window].mean())]
        previous = steps[-1]
        width = float(window)
        for x in directional[window + len(steps) - 1:length - 1].tolist():
            previous = ((previous * (window - 1)) + x) / width
            steps.append(previous)
        smoothed[window:] = steps
    values = np.concatenate((np.zeros(window - 1), smoothed))
    return values, AdxProgress((high, low, close), window, sums, steps)


def _first_sum(values: np.ndarray, window: int) -> float:
    """Wilder's running sum starts as the sum of the first `window` defined values."""
    return float(values[~np.isnan(values)][:window].sum())


def _wilder_sums(running: list[float], values: np.ndarray, window: int, count: int) -> None:
    """Extend Wilder's running sum to `count` values: s - s / window + x, over plain floats (a store into
    numpy per step cost as much as the step). ta leaves one more element, 0.0 (its loop stops one short)."""
    previous = running[-1]
    width = float(window)
    for x in values[window + len(running):window + count].tolist():
        previous = previous - (previous / width) + x
        running.append(previous)
