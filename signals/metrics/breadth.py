"""Breadth: how the typical member of a universe (S&P 500, Russell 2000) is doing, next to its index.

A rotation out of a few mega-caps shows first here: the index near its high while the median
member is far from its own, fewer members above their averages, equal weight lagging cap weight.
Computed over the whole (session x member) frame at once.

Survivorship: the universe lists are today's membership, so historical breadth over them is biased
towards the survivors (strongly so for the Russell 2000, whose members list and delist often).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from signals.market_data import MarketData
from signals.metrics.rolling import (
    FEW_ROWS,
    change_pct,
    ema,
    pct_from,
    rolling_high,
    share_pct,
    shifted,
    sma,
    window_extremes,
)
from signals.tickers import EQUAL_WEIGHT_ETF, RUSSELL_2000, SMALL_CAP_ETF, SP500_ETF, SP500_INDEX

YEAR = 252
FAST_AVERAGE = 50
SLOW_AVERAGE = 200
MCCLELLAN_FAST, MCCLELLAN_SLOW = 19, 39
ZWEIG_SPAN = 10
TREND_SESSIONS = 20


def compute_breadth(data: MarketData, notes: list[str], aggregates: pd.DataFrame | None = None) -> pd.DataFrame:
    """The S&P 500's breadth, one row per session; columns documented in README.md (percentages in percent)."""
    columns = _universe_columns(data, "sp500", notes, aggregates)
    if data.has(EQUAL_WEIGHT_ETF) and data.has(SP500_ETF):
        ratio = data.close[EQUAL_WEIGHT_ETF].to_numpy(dtype="float64") / data.close[SP500_ETF].to_numpy(dtype="float64")
    else:
        notes.append(f"breadth: {EQUAL_WEIGHT_ETF} or {SP500_ETF} has no data; RSP/SPY is unavailable")
        ratio = np.full(len(data.close.index), np.nan)
    columns["rsp_spy_ratio"] = ratio
    columns["rsp_spy_vs_50dma_pct"] = pct_from(ratio, sma(ratio, FAST_AVERAGE))
    columns["rsp_spy_change_50d_pct"] = change_pct(ratio, FAST_AVERAGE)
    return pd.DataFrame(columns, index=data.close.index)


def universe_breadth(data: MarketData, universe: str, notes: list[str],
                     aggregates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Breadth over one universe's members beside that universe's index (^GSPC, ^RUT).

    The (session x member) work is `member_aggregates`; a live engine that already has it for the
    earlier sessions passes `aggregates` in, and only the cheap per-session series are built here.
    """
    return pd.DataFrame(_universe_columns(data, universe, notes, aggregates), index=data.close.index)


def _universe_columns(data: MarketData, universe: str, notes: list[str],
                      aggregates: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """The columns of `universe_breadth`, as arrays (one frame is built from them; see metrics/breakout.py)."""
    members = data.universe_members(universe)
    if not members:
        notes.append(f"breadth: no {universe} members with prices; its breadth metrics are unavailable")
    if aggregates is None:
        aggregates = member_aggregates(data.close.loc[:, list(members)])
    count = {name: aggregates[name].to_numpy() for name in aggregates.columns}
    out: dict[str, np.ndarray] = {}
    out["members"] = count["members"]
    out["pct_above_50dma"] = share_pct(count["above_50dma"], count["with_50dma"])
    out["pct_above_200dma"] = share_pct(count["above_200dma"], count["with_200dma"])
    out["members_with_200dma"] = count["with_200dma"]
    out["median_pct_from_52w_high"] = count["median_pct_from_52w_high"]
    out["new_highs"] = count["new_highs"]
    out["new_lows"] = count["new_lows"]

    advances = count["advances"].astype("float64")
    declines = count["declines"].astype("float64")
    out["advances"] = count["advances"]
    out["declines"] = count["declines"]
    out["ad_line"] = np.cumsum(advances - declines)
    moving = advances + declines
    active = np.where(moving > 0, moving, np.nan)
    ratio_adjusted = (advances - declines) / active * 1000.0
    out["mcclellan_oscillator"] = _ema(ratio_adjusted, MCCLELLAN_FAST) - _ema(ratio_adjusted, MCCLELLAN_SLOW)
    out["zweig_thrust_ema"] = _ema(advances / active, ZWEIG_SPAN)

    index_close = _index_close(data, universe, notes).to_numpy(dtype="float64")
    out["index_close"] = index_close
    out["index_pct_from_52w_high"] = pct_from(index_close, rolling_high(index_close, YEAR))
    out["index_change_20d_pct"] = change_pct(index_close, TREND_SESSIONS)
    out["pct_above_200dma_change_20d"] = out["pct_above_200dma"] - shifted(out["pct_above_200dma"], TREND_SESSIONS)
    return out


def _ema(values: np.ndarray, span: int) -> np.ndarray:
    return ema(pd.Series(values), span).to_numpy()


AGGREGATE_LOOKBACK = YEAR  # rows before the first wanted one that `member_aggregates` needs
_BLOCK = 512  # members per block of integer window sums (5,000 x 25 years in bounded memory)


def _count_above_averages(values: np.ndarray, have: np.ndarray, first: int, counts: dict[str, np.ndarray]) -> None:
    """Members above their 50/200-session average, and members that have one, in rows `first`.., added into `counts`.

    Window sums are exact integer sums: running sums differenced over a long span, each window
    summed on its own for the few rows a tick wants (the same integers either way).
    """
    start = max(0, first - SLOW_AVERAGE)  # no window reaches further back
    units = np.rint(np.clip(np.where(have[start:], values[start:], 0.0), 0.0, 1e8) * 1e6).astype(np.int64)
    gaps = ~have[start:]
    rows = np.arange(first, len(values))
    few = len(rows) <= FEW_ROWS
    if not few:
        sums, gap_sums = np.cumsum(units, axis=0), np.cumsum(gaps, axis=0, dtype=np.int32)
    for window, name in ((FAST_AVERAGE, "50dma"), (SLOW_AVERAGE, "200dma")):
        if few:
            window_sum = np.stack([units[max(0, r - start - window + 1):r - start + 1].sum(axis=0) for r in rows]) \
                if len(rows) else np.zeros((0, values.shape[1]), dtype=np.int64)
            window_gaps = np.stack([gaps[max(0, r - start - window + 1):r - start + 1].sum(axis=0) for r in rows]) \
                if len(rows) else np.zeros((0, values.shape[1]), dtype=np.int64)
        else:
            before = rows - window - start  # the running sums' row just before each window
            earlier = before >= 0
            window_sum, window_gaps = sums[first - start:].copy(), gap_sums[first - start:].copy()
            window_sum[earlier] -= sums[before[earlier]]
            window_gaps[earlier] -= gap_sums[before[earlier]]
        defined = (window_gaps == 0) & have[first:]
        defined[rows < window - 1] = False
        counts[f"above_{name}"] += (defined & (units[first - start:] * window > window_sum)).sum(axis=1)
        counts[f"with_{name}"] += defined.sum(axis=1)


def member_aggregates(close: pd.DataFrame, first: int = 0) -> pd.DataFrame:
    """Per session from row `first` on, counts and the median over the members: the only (session x member) work.

    Each row depends on that row and the `AGGREGATE_LOOKBACK` rows before it, and on nothing
    else, bit for bit: the averages are exact integer window sums (prices in micro-units), not a
    running float sum whose rounding depends on where the series starts, and highs and lows are
    exact. So the last session computed from a year-long tail equals the same session computed
    over all history, and the live tick's numbers equal the replay's. A tick wants one row: the
    rows before `first` are read, never aggregated.
    """
    values = close.to_numpy(dtype="float64")
    have = ~np.isnan(values)
    out: dict[str, np.ndarray] = {}
    out["members"] = have[first:].sum(axis=1).astype("int64")
    counts = {name: np.zeros(len(values) - first, dtype=np.int64)
              for name in ("above_50dma", "with_50dma", "above_200dma", "with_200dma")}
    for column in range(0, values.shape[1], _BLOCK):  # blocks of members bound the integer temporaries
        block = slice(column, column + _BLOCK)
        _count_above_averages(values[:, block], have[:, block], first, counts)
    for name, count in counts.items():
        out[name] = count

    gap_from_high = np.empty((len(values) - first, values.shape[1]))
    highs = np.zeros(len(values) - first, dtype=np.int64)
    lows = np.zeros(len(values) - first, dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        for column in range(0, values.shape[1], _BLOCK):
            block = slice(column, column + _BLOCK)
            high, low = window_extremes(values[:, block], YEAR, first)
            part = values[first:, block]
            gap_from_high[:, block] = (part / high - 1.0) * 100.0
            highs += (part >= high).sum(axis=1)
            lows += (part <= low).sum(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows before a year of history
            out["median_pct_from_52w_high"] = np.nanmedian(gap_from_high, axis=1)
        del gap_from_high
        out["new_highs"] = highs
        out["new_lows"] = lows
        change = np.diff(values[max(0, first - 1):], axis=0, prepend=np.nan)[min(first, 1):]
        out["advances"] = (change > 0).sum(axis=1).astype("int64")
        out["declines"] = (change < 0).sum(axis=1).astype("int64")
    return pd.DataFrame(out, index=close.index[first:])


# Each universe's own index, and the ETF that stands in for it when the index file is missing.
UNIVERSE_INDEX = {"sp500": (SP500_INDEX, SP500_ETF), "russell2000": (RUSSELL_2000, SMALL_CAP_ETF)}
UNIVERSE_LABELS = {"sp500": "S&P 500", "russell2000": "Russell 2000"}


def _index_close(data: MarketData, universe: str, notes: list[str]) -> pd.Series:
    """The universe's index; its ETF stands in (with a note) when the index file is missing."""
    index, etf = UNIVERSE_INDEX.get(universe, (SP500_INDEX, SP500_ETF))
    if data.has(index):
        return data.close[index]
    if data.has(etf):
        notes.append(f"breadth: {index} has no data; {etf} stands in for it")
        return data.close[etf]
    notes.append(f"breadth: neither {index} nor {etf} has data; {universe} index metrics are unavailable")
    return pd.Series(np.nan, index=data.close.index)
