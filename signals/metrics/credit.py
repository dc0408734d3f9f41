"""Credit: high-yield bonds against Treasuries of similar duration, a market proxy for spreads.

Small companies borrow at high-yield rates and refinance more often, so HYG falling against IEF
(spreads widening) tightens their financing before it shows in earnings.
"""

from __future__ import annotations

import numpy as np

from signals.market_data import MarketData
from signals.metrics.group import Columns, MetricGroup, columns_only
from signals.metrics.rolling import change_pct, pct_from, sma
from signals.tickers import HIGH_YIELD, TREASURIES_7_10Y

CHANGE_SESSIONS = 20
AVERAGE_SESSIONS = 200


def compute_credit(data: MarketData, notes: list[str]) -> Columns:
    index = data.close.index
    out: Columns = {}  # arrays (see metrics/breakout.py)
    if data.has(HIGH_YIELD) and data.has(TREASURIES_7_10Y):
        ratio = (data.close[HIGH_YIELD].to_numpy(dtype="float64")
                 / data.close[TREASURIES_7_10Y].to_numpy(dtype="float64"))
    else:
        notes.append(f"credit: {HIGH_YIELD} or {TREASURIES_7_10Y} has no data; HYG/IEF is unavailable")
        ratio = np.full(len(index), np.nan)
    out["hyg_ief_ratio"] = ratio
    out["hyg_ief_change_20d_pct"] = change_pct(ratio, CHANGE_SESSIONS)
    out["hyg_ief_200d_avg"] = sma(ratio, AVERAGE_SESSIONS)
    out["hyg_ief_pct_vs_200d_avg"] = pct_from(ratio, out["hyg_ief_200d_avg"])
    return out


GROUP = MetricGroup("credit", reads=(HIGH_YIELD, TREASURIES_7_10Y),
                    compute=columns_only(lambda inputs: compute_credit(inputs.data, inputs.notes)))
