"""Window operations shared by the metrics, each strictly backward-looking.

Windows are full: a value exists only once `window` sessions of data do, so a young listing never
reports a "52-week high" measured over three months.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import pandas as pd

try:  # pandas' own loops behind `Series.rolling(...).mean()`, `.sum()` and `.ewm(...).mean()`: see `_fixed_window`
    from pandas._libs.window.aggregations import ewm as ewm_mean
    from pandas._libs.window.aggregations import roll_mean, roll_sum
    _KERNELS: dict[str, Any] = {"mean": roll_mean, "sum": roll_sum, "ewm": ewm_mean}
except ImportError:  # pragma: no cover - a pandas that moved them: the public path
    _KERNELS = {}

# what `pct_from` and `change_pct` take: a pandas Series or DataFrame, or a numpy array; each returns the kind
# it is given (the rolling windows and `ema` take 1-D arrays only). pandas is untyped here (pyproject's mypy
# section), so the union would be Any anyway.
Frame: TypeAlias = Any


def _rolling(values: np.ndarray, window: int, how: str) -> np.ndarray:
    """A full-window rolling reduction of a 1-D array (every metric and condition rolls one series at a
    time, as arrays): extremes in a few array passes, means and sums in pandas' own loop."""
    if how in EXTREMES:
        return _extreme(values, window, EXTREMES[how])
    return _fixed_window(values, window, how)


def _fixed_window(values: np.ndarray, window: int, how: str) -> np.ndarray:
    """`pd.Series(values).rolling(window, min_periods=window)`'s mean or sum of a 1-D array, as pandas
    computes it: its own loop (`roll_mean`, `roll_sum`) over its own window bounds, an infinity read as
    a gap as pandas reads it, without the 60 us of building a Series and a Rolling around 2 us of
    arithmetic (two dozen calls a tick). A test holds it to the public path, gaps, infinities and short
    arrays included; a pandas without those loops, or another reduction, takes the public path."""
    kernel = _KERNELS.get(how)
    if kernel is None or window < 1:
        return getattr(pd.Series(values).rolling(window, min_periods=window), how)().to_numpy()
    values = _as_pandas_reads(values)
    if values.size == 0:
        return values.copy()
    end = np.arange(1, len(values) + 1, dtype=np.int64)
    start = np.maximum(end - window, 0)
    with np.errstate(all="ignore"):
        return np.asarray(kernel(values, start, end, window))


def _as_pandas_reads(values: np.ndarray) -> np.ndarray:
    """An array as pandas hands it to its window loops: float64, an infinity a gap."""
    values = np.asarray(values, dtype="float64")
    infinite = np.isinf(values)
    return np.where(infinite, np.nan, values) if infinite.any() else values


EXTREMES = {"max": np.maximum, "min": np.minimum}


def _extreme(values: np.ndarray, window: int, pick: np.ufunc) -> np.ndarray:
    """A 1-D full-window rolling max or min in a few array passes (van Herk / Gil-Werman), where pandas
    spends most of its 75 us per call on setting up. Cut into blocks of `window`, every window is the
    end of one block and the start of the next: its extreme is the larger (smaller) of that block's
    suffix and the next one's prefix. `np.maximum`/`np.minimum` carry a NaN along, so a window with a
    gap is NaN, as pandas' `min_periods=window` makes it; a max or min is exact, so the numbers are
    the same."""
    size = len(values)
    out = np.full(size, np.nan)
    if window < 1 or size < window:
        return out
    blocks = -(-size // window)
    padded = np.full(blocks * window, np.nan)  # the padding only reaches windows that end past the data
    padded[:size] = np.where(np.isinf(values), np.nan, values)  # pandas reads an infinity as a gap too
    grid = padded.reshape(blocks, window)
    prefix = pick.accumulate(grid, axis=1).reshape(-1)
    suffix = pick.accumulate(grid[:, ::-1], axis=1)[:, ::-1].reshape(-1)
    out[window - 1:] = pick(suffix[:size - window + 1], prefix[window - 1:size])
    return out


def _extremes_by_rows(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """`_extreme`'s max and min for every column of a (session x column) array at once. The running
    extremes inside each block of `window` rows are taken a row at a time, each step one pass along
    the rows' contiguous columns (an accumulate down the columns strides through memory: half the
    speed), and max and min share the padded copy and the two scratch arrays."""
    size, columns = values.shape
    high, low = np.full((size, columns), np.nan), np.full((size, columns), np.nan)
    if window < 1 or size < window:
        return high, low
    blocks = -(-size // window)
    padded = np.full((blocks * window, columns), np.nan)  # the padding only reaches windows past the data
    padded[:size] = values
    padded[:size][np.isinf(values)] = np.nan  # pandas reads an infinity as a gap too
    grid = padded.reshape(blocks, window, columns)
    prefix, suffix = np.empty_like(grid), np.empty_like(grid)
    for pick, out in ((np.maximum, high), (np.minimum, low)):
        prefix[:, 0] = grid[:, 0]
        for row in range(1, window):
            pick(prefix[:, row - 1], grid[:, row], out=prefix[:, row])
        suffix[:, -1] = grid[:, -1]
        for row in range(window - 2, -1, -1):
            pick(suffix[:, row + 1], grid[:, row], out=suffix[:, row])
        pick(suffix.reshape(-1, columns)[:size - window + 1], prefix.reshape(-1, columns)[window - 1:size],
             out=out[window - 1:])
    return high, low


def sma(values: np.ndarray, window: int) -> np.ndarray:
    return _rolling(values, window, "mean")


def rolling_high(values: np.ndarray, window: int) -> np.ndarray:
    """Highest value of the `window` sessions ending today (today included)."""
    return _rolling(values, window, "max")


def rolling_low(values: np.ndarray, window: int) -> np.ndarray:
    return _rolling(values, window, "min")


def rolling_sum(values: np.ndarray, window: int) -> np.ndarray:
    return _rolling(values, window, "sum")


FEW_ROWS = 64  # up to this many wanted rows, reducing each window directly beats rolling the whole frame


def window_extremes(values: np.ndarray, window: int, first: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The full-window rolling max and min of each column, for rows `first`.. only.

    A live tick wants one row of a year-long tail: reducing that row's window directly costs one
    pass over it instead of a rolling pass over all 253 rows. Both ways give the same numbers (a
    max is exact; a window with a gap, or shorter than `window`, is NaN either way).
    """
    rows = len(values) - first
    if rows > FEW_ROWS:
        high, low = _extremes_by_rows(values, window)
        return high[first:], low[first:]
    high = np.full((rows, values.shape[1]), np.nan)
    low = np.full((rows, values.shape[1]), np.nan)
    for row in range(max(first, window - 1), len(values)):  # rows before the first full window have none
        # down the window's rows, each a contiguous run of the columns: NaN anywhere in a window makes it NaN,
        # as a gap should
        part = values[row - window + 1:row + 1]
        part.max(axis=0, out=high[row - first])
        part.min(axis=0, out=low[row - first])
    # pandas reads an infinity as a gap: a window holding one (and no NaN) has +inf for its max or -inf for
    # its min, and no other window has, so the extremes say where, without a pass over every window's cells
    infinite = np.isposinf(high) | np.isneginf(low)
    high[infinite] = np.nan
    low[infinite] = np.nan
    return high, low


def prior_high(values: np.ndarray, window: int) -> np.ndarray:
    """Highest value of the `window` sessions before today: a breakout compares today against this."""
    return shifted(rolling_high(values, window), 1)


# The 1-D helpers below run a few dozen times a tick on series of a few thousand sessions, where
# pandas' per-operation overhead (about 30 us) outweighs the arithmetic: they compute on the arrays
# and wrap the result once. The numbers are numpy's either way, so they are the same bit for bit.

def _series(values: np.ndarray, like: pd.Series) -> pd.Series:
    return pd.Series(values, index=like.index, copy=False)


def _aligned(value: object, reference: object) -> bool:
    return (isinstance(value, pd.Series) and isinstance(reference, pd.Series)
            and (value.index is reference.index or value.index.equals(reference.index)))


def pct_from(value: Frame, reference: Frame) -> Frame:
    """Percent distance of `value` from `reference` (-11.2 means 11.2% below)."""
    if _aligned(value, reference):
        with np.errstate(divide="ignore", invalid="ignore"):
            return _series((value.to_numpy(dtype="float64") / reference.to_numpy(dtype="float64") - 1.0) * 100.0, value)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (value / reference - 1.0) * 100.0


def ema(values: np.ndarray, span: int) -> np.ndarray:
    """Exponential average with alpha 2/(span+1), seeded by the first value (the trader's EMA): pandas'
    `ewm(span=span, adjust=False).mean()`, its own loop on the array as `_fixed_window` calls it (a gap
    holds the average; the weights decay across it)."""
    kernel = _KERNELS.get("ewm")
    if kernel is None or span < 1:  # pandas says what is wrong with a span below 1
        return pd.Series(values, dtype="float64").ewm(span=span, adjust=False).mean().to_numpy()
    values = _as_pandas_reads(values)
    if values.size == 0:
        return values.copy()
    whole = np.zeros(1, dtype=np.int64), np.array([len(values)], dtype=np.int64)
    with np.errstate(all="ignore"):
        return np.asarray(kernel(values, *whole, 1, (span - 1) / 2, False, False, None, True))


def share_pct(hits: np.ndarray, defined: np.ndarray) -> np.ndarray:
    """hits/defined in percent, NaN where nothing is defined (a zero denominator is masked, never divided by)."""
    denominator = np.asarray(defined, dtype="float64")
    return np.asarray(hits, dtype="float64") / np.where(denominator > 0, denominator, np.nan) * 100.0


def shifted(values: np.ndarray, sessions: int) -> np.ndarray:
    """`values` moved `sessions` rows later (NaN in front), as `Series.shift` does."""
    out = np.full(len(values), np.nan)
    if sessions < len(values):
        out[sessions:] = values[:len(values) - sessions]
    return out


def change_pct(values: Frame, sessions: int) -> Frame:
    if isinstance(values, (pd.Series, np.ndarray)):
        array = values.to_numpy(dtype="float64") if isinstance(values, pd.Series) else values
        with np.errstate(divide="ignore", invalid="ignore"):
            change = (array / shifted(array, sessions) - 1.0) * 100.0
        return _series(change, values) if isinstance(values, pd.Series) else change
    return (values / values.shift(sessions) - 1.0) * 100.0
