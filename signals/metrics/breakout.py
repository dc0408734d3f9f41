"""Breakout: small caps (IWM, ^RUT) and the IWM/SPY ratio leaving their ranges.

"Prior" highs exclude today's bar: a close can only break out above a level set before it
(ta's Donchian bands include today, so `close > band` would never fire).
"""

from __future__ import annotations

import numpy as np

from signals.market_data import MarketData
from signals.metrics.group import Columns, MetricGroup, columns_only
from signals.metrics.adx import AdxProgress, adx_resumed
from signals.metrics.carry import Carry
from signals.metrics.rolling import pct_from, prior_high, shifted, sma
from signals.tickers import RUSSELL_2000, SMALL_CAP_ETF, SP500_ETF, SP500_INDEX

ADX_WINDOW = 14
VOLUME_WINDOW = 50
RATIO_AVERAGE = 200


def compute_breakout(data: MarketData, notes: list[str], carry: Carry | None = None) -> Columns:
    index = data.close.index
    # columns as arrays, the frame built only when asked (`Computed`): pandas' per-operation and per-column
    # overhead is most of the cost of a few dozen operations on one series of a few thousand sessions
    out: Columns = {}
    nothing = np.full(len(index), np.nan)

    small_cap, ratio_pair = small_cap_series(data)  # IWM and IWM/SPY, or the indices standing in for them
    if small_cap != SMALL_CAP_ETF and small_cap is not None:
        notes.append(f"breakout: {SMALL_CAP_ETF} and {SP500_ETF} have no data; {RUSSELL_2000} and "
                     f"{RUSSELL_2000}/{SP500_INDEX} stand in for IWM and IWM/SPY (the iwm_* columns)")
    for ticker, prefix in ((small_cap, "iwm"), (RUSSELL_2000, "rut")):
        if ticker is not None and data.has(ticker):
            close = data.close[ticker].to_numpy(dtype="float64")
        else:
            notes.append(f"breakout: {ticker or SMALL_CAP_ETF} has no data; its breakout metrics are unavailable")
            close = nothing
        out[f"{prefix}_close"] = close
        for window in (20, 252):
            level = prior_high(close, window)
            out[f"{prefix}_prior_{window}d_high"] = level
            out[f"{prefix}_pct_vs_prior_{window}d_high"] = pct_from(close, level)

    if ratio_pair is not None:
        small, large = ratio_pair
        ratio = data.close[small].to_numpy(dtype="float64") / data.close[large].to_numpy(dtype="float64")
    else:
        notes.append(f"breakout: {SMALL_CAP_ETF} or {SP500_ETF} has no data; IWM/SPY is unavailable")
        ratio = nothing
    out["iwm_spy_ratio"] = ratio
    for window in (20, 60):
        level = prior_high(ratio, window)
        out[f"iwm_spy_prior_{window}d_high"] = level
        out[f"iwm_spy_pct_vs_prior_{window}d_high"] = pct_from(ratio, level)
    average = sma(ratio, RATIO_AVERAGE)
    out["iwm_spy_200d_avg"] = average
    out["iwm_spy_pct_vs_200d_avg"] = pct_from(ratio, average)

    out["iwm_adx_14"] = _adx(data, small_cap or SMALL_CAP_ETF, notes, carry or Carry())
    out["iwm_volume_ratio_50d"] = _volume_ratio(data, small_cap or SMALL_CAP_ETF, notes)
    return out


def small_cap_series(data: MarketData) -> tuple[str | None, tuple[str, str] | None]:
    """(the small-cap close the breakout keys read, the small/large pair of their ratio): IWM and
    IWM/SPY; in index-only history (before 2000 there was no IWM), ^RUT and ^RUT/^GSPC."""
    if data.has(SMALL_CAP_ETF):
        return SMALL_CAP_ETF, (SMALL_CAP_ETF, SP500_ETF) if data.has(SP500_ETF) else None
    if data.has(RUSSELL_2000):
        return RUSSELL_2000, (RUSSELL_2000, SP500_INDEX) if data.has(SP500_INDEX) else None
    return None, None


def _adx(data: MarketData, ticker: str, notes: list[str], carry: Carry) -> np.ndarray:
    """ADX(14), `ta`'s arithmetic (signals/metrics/adx.py), over the bars that have high, low and
    close, warm-up masked.

    As in `ta`, one NaN would make every later value NaN and the first 2 x window - 1 values are
    0.0 (not NaN): so NaN rows are dropped first and the warm-up is set to NaN rather than read as
    "no trend".
    """
    size = len(data.close.index)
    if ticker not in data.high.columns or data.high[ticker].isna().all() or data.low[ticker].isna().all():
        notes.append(f"breakout: {ticker} has no High/Low; ADX confirmation is unavailable")
        return np.full(size, np.nan)
    high, low, close = (frame[ticker].to_numpy(dtype="float64") for frame in (data.high, data.low, data.close))
    bars = np.flatnonzero(~np.isnan(high) & ~np.isnan(low) & ~np.isnan(close))
    warmup = 2 * ADX_WINDOW - 1
    out = np.full(size, np.nan)
    if len(bars) <= warmup:
        return out
    inputs = (high[bars], low[bars], close[bars])
    values, progress = adx_resumed(*inputs, ADX_WINDOW, carry.resume(f"adx {ticker}", AdxProgress, inputs))
    carry.keep(f"adx {ticker}", progress)
    values[:warmup] = np.nan
    out[bars] = values
    return out


def _volume_ratio(data: MarketData, ticker: str, notes: list[str]) -> np.ndarray:
    """Today's volume against the average of the 50 sessions before it."""
    if ticker not in data.volume.columns or data.volume[ticker].isna().all():
        notes.append(f"breakout: {ticker} has no Volume; volume confirmation is unavailable")
        return np.full(len(data.close.index), np.nan)
    volume = data.volume[ticker].to_numpy(dtype="float64")
    average = shifted(sma(volume, VOLUME_WINDOW), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return volume / np.where(average > 0, average, np.nan)


GROUP = MetricGroup("breakout", reads=(SMALL_CAP_ETF, SP500_ETF, RUSSELL_2000, SP500_INDEX),
                    compute=columns_only(lambda inputs: compute_breakout(inputs.data, inputs.notes, inputs.carry)))
