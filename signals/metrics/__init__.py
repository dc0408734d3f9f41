"""Metrics: whole-history (session x metric) frames computed from a `MarketData` in one pass.

Every operation is backward-looking; `MarketData.as_of` cuts the future off before any metric runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from signals.market_data import MarketData
from signals.metrics.breadth import compute_breadth
from signals.metrics.breakout import compute_breakout
from signals.metrics.rates import compute_rates
from signals.settings import DetectorSettings, load_detector_settings

GROUPS = ("breadth", "breakout", "rates")


@dataclass(frozen=True)
class Metrics:
    """The three metric groups over the same sessions, plus what was degraded and why."""

    breadth: pd.DataFrame
    breakout: pd.DataFrame
    rates: pd.DataFrame
    notes: tuple[str, ...] = ()

    @property
    def sessions(self) -> pd.DatetimeIndex:
        return self.breadth.index  # type: ignore[return-value]

    def group(self, name: str) -> pd.DataFrame:
        return {"breadth": self.breadth, "breakout": self.breakout, "rates": self.rates}[name]

    def snapshot(self, session: pd.Timestamp | None = None) -> dict[str, Any]:
        """One session's metrics as plain JSON-ready values (NaN becomes None)."""
        session = self.sessions[-1] if session is None else session
        result: dict[str, Any] = {"as_of": session.strftime("%Y-%m-%d")}
        for name in GROUPS:
            frame = self.group(name)
            position = frame.index.get_loc(session)
            result[name] = {column: _plain(frame[column].iat[position]) for column in frame.columns}
        return result


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    if math.isnan(number) or math.isinf(number):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    return round(number, 6)


def compute_metrics(data: MarketData, settings: DetectorSettings | None = None) -> Metrics:
    settings = settings or load_detector_settings()
    notes: list[str] = []
    breadth = compute_breadth(data, notes)
    breakout = compute_breakout(data, notes)
    rates = compute_rates(data, notes, settings.rates.publication_lag_sessions)
    return Metrics(breadth, breakout, rates, tuple(notes))
