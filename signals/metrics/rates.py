"""Rates: the front end of the Treasury curve and the Fed's target, on the session calendar.

Small caps carry more floating-rate debt, so a falling 2-year yield favours them. FRED stamps a
yield with the day it describes but publishes it about a day later; `publication_lag_sessions`
(default 1) makes a yield usable only from the next session on, so a replay never acts on a
number the live bot could not have had yet. The Fed's target range is different: FRED dates it by
its effective day, the session after the FOMC announced it, so it was public before its own date
and is known at that date's close (lag 0): a cut alerts the session after the announcement, not
two.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

from signals.market_data import MarketData
from signals.metrics.group import Columns, MetricGroup, columns_only
from signals.metrics.rolling import shifted
from signals.tickers import YIELD_10Y, YIELD_3M

CHANGE_SESSIONS = 20
FRED_CARRY = 5  # sessions a value is carried across a gap in its series
# FRED series -> metric name, with the Yahoo ticker that stands in when the series is absent
YIELDS = {"DGS2": ("yield_2y", None), "DGS3MO": ("yield_3m", YIELD_3M), "DGS10": ("yield_10y", YIELD_10Y)}


def compute_rates(data: MarketData, notes: list[str], publication_lag_sessions: int = 1) -> Columns:
    sessions = data.close.index
    fred = _FredSeries(data.rates, sessions)
    out: Columns = {}  # arrays (see metrics/breakout.py)
    for series, (name, fallback) in YIELDS.items():
        values = fred.on_sessions(series, publication_lag_sessions)
        if values is None and fallback and data.has(fallback):
            notes.append(f"rates: FRED {series} not in the data; Yahoo {fallback} stands in")
            values = carried_forward(data.close[fallback].to_numpy(dtype="float64"), FRED_CARRY)
        if values is None:
            notes.append(f"rates: FRED {series} not in the data; {name} is unavailable")
            values = np.full(len(sessions), np.nan)
        out[name] = values
        out[f"{name}_change_20d_bp"] = (values - shifted(values, CHANGE_SESSIONS)) * 100.0

    for series, name in (("DFEDTARU", "fed_target_upper"), ("DFEDTARL", "fed_target_lower")):
        values = fred.on_sessions(series, lag=0)  # announced before its effective date
        if values is None:
            notes.append(f"rates: FRED {series} not in the data; Fed target changes are unavailable")
            values = np.full(len(sessions), np.nan)
        out[name] = values
    out["fed_target_change_bp"] = np.round((out["fed_target_upper"] - shifted(out["fed_target_upper"], 1)) * 100.0, 2)
    spread = (out["yield_10y"] - out["yield_3m"]) * 100.0
    direct = fred.on_sessions("T10Y3M", publication_lag_sessions)  # FRED's own 10y - 3m
    if direct is not None and np.isnan(spread).any():
        gaps = np.isnan(spread) & ~np.isnan(direct)
        if gaps.any():
            notes.append(f"rates: FRED T10Y3M gives the curve on {int(gaps.sum())} sessions without both DGS10 and "
                         f"DGS3MO")
            spread = np.where(gaps, direct * 100.0, spread)
    out["spread_10y_3m_bp"] = spread
    out["curve_inverted"] = np.where(np.isnan(spread), np.nan, (spread < 0).astype("float64"))
    return out


class _FredSeries:
    """The FRED frame's series put on the sessions, its dates and the sessions' read as integers once: six
    series a tick, where pandas' search between two date units cost more than the arithmetic."""

    def __init__(self, rates: pd.DataFrame, sessions: pd.DatetimeIndex) -> None:
        self.rates = rates
        self.days = sessions.as_unit("ns").asi8

    @cached_property
    def dated(self) -> np.ndarray:
        """The FRED rows' dates; read only when a series is there (a frame without one may have no dates)."""
        return np.asarray(self.rates.index.as_unit("ns").asi8)

    @cached_property
    def ordered(self) -> bool:
        return bool(np.all(self.dated[1:] >= self.dated[:-1]))

    def on_sessions(self, series: str, lag: int) -> np.ndarray | None:
        """A FRED series as known at each session's close: the latest value published by then.

        A value dated d becomes known at the `lag`-th session after d (0: at d's own close, or the
        next session when d is not one). Carried forward for at most `FRED_CARRY` sessions across gaps.
        """
        if series not in self.rates.columns:
            return None
        values = self.rates[series].to_numpy(dtype="float64")
        observed = ~np.isnan(values)
        if not observed.any():
            return None
        side: Literal["left", "right"] = "left" if lag == 0 else "right"
        position = np.searchsorted(self.days, self.dated[observed], side=side) + max(lag - 1, 0)
        usable = position < len(self.days)
        position, values = position[usable], values[observed][usable]
        if self.ordered:  # two values known at one session: the later one, the last of its run
            last = np.flatnonzero(np.append(position[1:] != position[:-1], len(position) > 0))
        else:
            last = len(position) - 1 - np.unique(position[::-1], return_index=True)[1]
        on_sessions = np.full(len(self.days), np.nan)
        on_sessions[position[last]] = values[last]
        return carried_forward(on_sessions, FRED_CARRY)


def carried_forward(values: np.ndarray, limit: int) -> np.ndarray:
    """Each NaN takes the last value before it, at most `limit` sessions later (pandas' `ffill(limit=)`
    on an array: six calls a tick, where a Series costs more than the arithmetic)."""
    at = np.arange(len(values))
    latest = np.maximum.accumulate(np.where(np.isnan(values), -1, at)) if len(values) else at
    reach = (latest >= 0) & (at - latest <= limit)
    return np.where(reach, values[np.maximum(latest, 0)], np.nan)


# FRED's series first; Yahoo's yields stand in where a series is absent
GROUP = MetricGroup("rates", reads=(YIELD_3M, YIELD_10Y), compute=columns_only(
    lambda inputs: compute_rates(inputs.data, inputs.notes, inputs.settings.rates.publication_lag_sessions)))
