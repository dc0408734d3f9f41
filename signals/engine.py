"""The live tick's metrics: keep what earlier sessions cost, compute only the new session's.

Almost all of a tick's work is the (session x member) part of breadth (`aggregate_rows`) over
2,200 tickers; everything else runs over a handful of 1-D series. The engine keeps each universe's
aggregates for the sessions it has seen and, for a new session, computes its row only, reading the
year of bars before it (its averages counted from the members' window sums of the session before:
`WindowSums`). The aggregates are exact per row, so the result is the same, bit for bit, as
computing all history again (a test checks it). It also keeps where the recursions that read
history session by session got to (ADX's sums, the cycle's swing rule: `signals/metrics/carry.py`),
so they read the new session only.

It trusts stored rows only for the same loaded history (`MarketData.origin`): data loaded anew
(a changed folder, a refreshed cache) starts it over. One computation at a time: a tick and the
dashboard's metrics after a restart run on threads of their own, and what the engine keeps (the
aggregates and the window sums that end at their last row) must change together.
"""

from __future__ import annotations

import threading

import numpy as np

from signals.market_data import MarketData
from signals.metrics import Metrics, compute_metrics
from signals.metrics.carry import Carry
from signals.metrics.breadth import (
    AGGREGATE_LOOKBACK,
    Aggregates,
    WindowSums,
    aggregate_rows_resumed,
    universe_sectors,
)
from signals.settings import DetectorSettings, load_detector_settings


class MetricsEngine:
    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or load_detector_settings()
        self._origin: object | None = None
        self._aggregates: dict[str, dict[str, np.ndarray]] = {}  # per universe, its columns so far
        self._columns: dict[str, np.ndarray] = {}  # per universe, its members' columns in the loaded frame
        self._carry = Carry()  # where the recursions got to (signals/metrics/carry.py)
        self._sums: dict[str, WindowSums] = {}  # per universe, its members' window sums at its last row
        self._lock = threading.Lock()

    def compute(self, data: MarketData) -> Metrics:
        """The metrics of `data` (any `as_of` slice), reusing what is known of its history."""
        with self._lock:
            return self._compute(data)

    def _compute(self, data: MarketData) -> Metrics:
        if data.origin is not self._origin:
            self._origin, self._aggregates, self._columns, self._carry, self._sums = data.origin, {}, {}, Carry(), {}
        sessions = len(data.sessions)
        wanted = {}
        for universe in data.universe_names:
            wanted[universe] = self._extend(data, universe, sessions)
        return compute_metrics(data, self.settings, aggregates=wanted, carry=self._carry)

    def _extend(self, data: MarketData, universe: str, sessions: int) -> Aggregates:
        known = self._aggregates.get(universe)
        have = 0 if known is None else _length(known)
        if have < sessions:
            start = max(0, have - AGGREGATE_LOOKBACK)
            if universe not in self._columns:
                self._columns[universe] = data.close.columns.get_indexer(list(data.universe_members(universe)))
            # the year before the new rows, the members' columns only: arrays, not a frame (a tick's whole cost
            # is a few milliseconds, and pandas' column take was a quarter of it)
            values = data.close.iloc[start:sessions].to_numpy(dtype="float64").take(self._columns[universe], axis=1)
            running = self._sums.get(universe) if sessions == have + 1 else None  # they end at row have - 1
            fresh, sums = aggregate_rows_resumed(values, first=have - start, running=running,
                                                 sectors=universe_sectors(data, universe)[1])
            known = fresh if known is None else {name: np.concatenate([known[name], fresh[name]]) for name in known}
            self._aggregates[universe], self._sums[universe] = known, sums  # together: the sums end at its last row
        return {name: column[:sessions] for name, column in known.items()}  # type: ignore[union-attr]  # computed above when None

    def sessions_known(self) -> dict[str, int]:
        """Per universe, how many sessions the engine has aggregated: whether it learned anything since a save."""
        return {universe: _length(columns) for universe, columns in self._aggregates.items()}

    def state(self) -> dict[str, dict[str, np.ndarray]]:
        """What the engine knows, to be saved beside the data it was computed from."""
        return dict(self._aggregates)

    def restore(self, data: MarketData, state: dict[str, dict[str, np.ndarray]]) -> None:
        """Take up a saved state for `data` (the caller vouches it was computed from the same bars)."""
        with self._lock:
            self._origin, self._aggregates, self._columns = data.origin, dict(state), {}
            self._carry, self._sums = Carry(), {}


def _length(columns: Aggregates) -> int:
    return len(next(iter(columns.values()))) if columns else 0
