"""Sector rotation: cyclicals (industrials, financials, discretionary) against technology, and
regional banks against the S&P 500, as price relatives with their ranges and trend.

A rotation out of mega-cap technology into the broad market shows as XLI/XLF/XLY outrunning XLK;
regional banks (KRE) are the small-cap lenders, so their lead says the domestic economy is trusted.
"""

from __future__ import annotations

import numpy as np

from signals.market_data import MarketData
from signals.metrics.group import Columns, MetricGroup, columns_only
from signals.metrics.rolling import change_pct, pct_from, prior_high, sma
from signals.tickers import CYCLICAL_SECTORS, REGIONAL_BANKS, SP500_ETF, TECH_SECTOR

RANGE_SESSIONS = 60
AVERAGE_SESSIONS = 200
CHANGE_SESSIONS = 20
RELATIVE_TO_SPY = (*CYCLICAL_SECTORS, TECH_SECTOR, REGIONAL_BANKS)


def cyclicals_basket(data: MarketData) -> np.ndarray | None:
    """Equal weight of XLI, XLF, XLY as the geometric mean of their closes.

    Its ratio to XLK moves exactly as the equal-weighted log returns do, and no rescaling (or
    start date) changes where it stands against its own range: the detectors read only that.
    """
    if not all(data.has(ticker) for ticker in CYCLICAL_SECTORS):
        return None
    closes = np.column_stack([data.close[ticker].to_numpy(dtype="float64") for ticker in CYCLICAL_SECTORS])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.exp(np.log(closes).mean(axis=1))


def _relative(out: dict[str, np.ndarray], prefix: str, ratio: np.ndarray) -> None:
    out[f"{prefix}_ratio"] = ratio
    level = prior_high(ratio, RANGE_SESSIONS)
    out[f"{prefix}_prior_60d_high"] = level
    out[f"{prefix}_pct_vs_prior_60d_high"] = pct_from(ratio, level)
    average = sma(ratio, AVERAGE_SESSIONS)
    out[f"{prefix}_200d_avg"] = average
    out[f"{prefix}_pct_vs_200d_avg"] = pct_from(ratio, average)


def compute_sectors(data: MarketData, notes: list[str]) -> Columns:
    index = data.close.index
    out: Columns = {}  # arrays (see metrics/breakout.py)
    nothing = np.full(len(index), np.nan)
    close = {ticker: data.close[ticker].to_numpy(dtype="float64") for ticker in
             (*RELATIVE_TO_SPY, SP500_ETF) if data.has(ticker)}
    basket = cyclicals_basket(data)
    if basket is None or not data.has(TECH_SECTOR):
        missing = [t for t in (*CYCLICAL_SECTORS, TECH_SECTOR) if not data.has(t)]
        notes.append(f"sectors: {', '.join(missing)} has no data; cyclicals/XLK is unavailable")
        _relative(out, "cyclicals_xlk", nothing)
    else:
        _relative(out, "cyclicals_xlk", basket / close[TECH_SECTOR])
    if data.has(REGIONAL_BANKS) and data.has(SP500_ETF):
        _relative(out, "kre_spy", close[REGIONAL_BANKS] / close[SP500_ETF])
    else:
        notes.append(f"sectors: {REGIONAL_BANKS} or {SP500_ETF} has no data; KRE/SPY is unavailable")
        _relative(out, "kre_spy", nothing)
    spy_change = change_pct(close.get(SP500_ETF, nothing), CHANGE_SESSIONS)
    for ticker in RELATIVE_TO_SPY:
        out[f"{ticker.lower()}_vs_spy_20d_pct"] = change_pct(close.get(ticker, nothing), CHANGE_SESSIONS) - spy_change
    return out


GROUP = MetricGroup("sectors", reads=(*RELATIVE_TO_SPY, SP500_ETF),
                    compute=columns_only(lambda inputs: compute_sectors(inputs.data, inputs.notes)))
