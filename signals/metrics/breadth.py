"""Breadth: how the typical S&P 500 member is doing, next to the cap-weighted index.

A rotation out of a few mega-caps shows first here: the index near its high while the median
member is far from its own, fewer members above their averages, equal weight lagging cap weight.
Computed over the whole (session x member) frame at once.

Survivorship: `constituents.csv` is today's membership, so historical breadth over it is biased
towards the survivors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from signals.market_data import MarketData
from signals.metrics.rolling import change_pct, ema, pct_from, rolling_high, rolling_low, share_pct, sma
from signals.tickers import EQUAL_WEIGHT_ETF, SP500_ETF, SP500_INDEX

LOOKBACK = 252  # sessions of history the slowest metric (the 52-week high) needs
YEAR = 252
FAST_AVERAGE = 50
SLOW_AVERAGE = 200
MCCLELLAN_FAST, MCCLELLAN_SLOW = 19, 39
ZWEIG_SPAN = 10
TREND_SESSIONS = 20


def compute_breadth(data: MarketData, notes: list[str]) -> pd.DataFrame:
    """One row per session; columns documented in README.md (percentages in percent)."""
    close = data.close.loc[:, list(data.members)]
    index = data.close.index
    out = pd.DataFrame(index=index)
    have = close.notna()
    out["members"] = have.sum(axis=1).astype("int64")
    if not data.members:
        notes.append("breadth: no constituents with prices; breadth metrics are unavailable")

    for window, name in ((FAST_AVERAGE, "pct_above_50dma"), (SLOW_AVERAGE, "pct_above_200dma")):
        average = sma(close, window)
        defined = average.notna() & have
        out[name] = share_pct((close > average).sum(axis=1), defined.sum(axis=1))

    high = rolling_high(close, YEAR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows before a year of history
        out["median_pct_from_52w_high"] = pct_from(close, high).median(axis=1, skipna=True)
    out["new_highs"] = (close >= high).sum(axis=1).astype("int64")
    out["new_lows"] = (close <= rolling_low(close, YEAR)).sum(axis=1).astype("int64")

    change = close.diff()
    advances = (change > 0).sum(axis=1).astype("float64")
    declines = (change < 0).sum(axis=1).astype("float64")
    out["advances"] = advances.astype("int64")
    out["declines"] = declines.astype("int64")
    out["ad_line"] = (advances - declines).cumsum()
    active = (advances + declines).where(advances + declines > 0)
    ratio_adjusted = (advances - declines) / active * 1000.0
    out["mcclellan_oscillator"] = ema(ratio_adjusted, MCCLELLAN_FAST) - ema(ratio_adjusted, MCCLELLAN_SLOW)
    out["zweig_thrust_ema"] = ema(advances / active, ZWEIG_SPAN)

    index_close = _index_close(data, notes)
    out["index_close"] = index_close
    out["index_pct_from_52w_high"] = pct_from(index_close, rolling_high(index_close, YEAR))
    out["index_change_20d_pct"] = change_pct(index_close, TREND_SESSIONS)
    out["pct_above_200dma_change_20d"] = out["pct_above_200dma"] - out["pct_above_200dma"].shift(TREND_SESSIONS)

    if data.has(EQUAL_WEIGHT_ETF) and data.has(SP500_ETF):
        ratio = data.close[EQUAL_WEIGHT_ETF] / data.close[SP500_ETF]
    else:
        notes.append(f"breadth: {EQUAL_WEIGHT_ETF} or {SP500_ETF} has no data; RSP/SPY is unavailable")
        ratio = pd.Series(np.nan, index=index)
    out["rsp_spy_ratio"] = ratio
    out["rsp_spy_vs_50dma_pct"] = pct_from(ratio, sma(ratio, FAST_AVERAGE))
    out["rsp_spy_change_50d_pct"] = change_pct(ratio, FAST_AVERAGE)
    return out


def _index_close(data: MarketData, notes: list[str]) -> pd.Series:
    """The S&P 500 itself; SPY stands in (with a note) when the index file is missing."""
    if data.has(SP500_INDEX):
        return data.close[SP500_INDEX]
    if data.has(SP500_ETF):
        notes.append(f"breadth: {SP500_INDEX} has no data; {SP500_ETF} stands in for the S&P 500")
        return data.close[SP500_ETF]
    notes.append(f"breadth: neither {SP500_INDEX} nor {SP500_ETF} has data; index metrics are unavailable")
    return pd.Series(np.nan, index=data.close.index)
