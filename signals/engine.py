"""The live tick's metrics: keep what earlier sessions cost, compute only the new session's.

Almost all of a tick's work is the (session x member) part of breadth (`member_aggregates`) over
2,200 tickers; everything else runs over a handful of 1-D series and is cheap over all history.
The engine keeps each universe's aggregates for the sessions it has seen and, for a new session,
computes its row only, reading the year of bars before it. `member_aggregates` is exact per row, so
the result is the same, bit for bit, as computing all history again (a test checks it).

It trusts stored rows only for the same loaded history (`MarketData.origin`): data loaded anew
(a changed folder, a refreshed cache) starts it over.
"""

from __future__ import annotations

import pandas as pd

from signals.market_data import MarketData
from signals.metrics import Metrics, compute_metrics
from signals.metrics.breadth import AGGREGATE_LOOKBACK, member_aggregates, universe_sectors
from signals.settings import DetectorSettings, load_detector_settings


class MetricsEngine:
    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or load_detector_settings()
        self._origin: object | None = None
        self._aggregates: dict[str, pd.DataFrame] = {}

    def compute(self, data: MarketData) -> Metrics:
        """The metrics of `data` (any `as_of` slice), reusing what is known of its history."""
        if data.origin is not self._origin:
            self._origin, self._aggregates = data.origin, {}
        sessions = len(data.sessions)
        wanted = {}
        for universe in data.universe_names:
            wanted[universe] = self._extend(data, universe, sessions)
        return compute_metrics(data, self.settings, aggregates=wanted)

    def _extend(self, data: MarketData, universe: str, sessions: int) -> pd.DataFrame:
        known = self._aggregates.get(universe)
        have = 0 if known is None else len(known)
        if have < sessions:
            start = max(0, have - AGGREGATE_LOOKBACK)
            members = list(data.universe_members(universe))
            fresh = member_aggregates(data.close.iloc[start:sessions].loc[:, members], first=have - start,
                                      sectors=universe_sectors(data, universe)[1])
            known = fresh if known is None else pd.concat([known, fresh])
            self._aggregates[universe] = known
        return known.iloc[:sessions]  # type: ignore[union-attr]  # the loop above computed it when it was None

    def state(self) -> dict[str, pd.DataFrame]:
        """What the engine knows, to be saved beside the data it was computed from."""
        return dict(self._aggregates)

    def restore(self, data: MarketData, state: dict[str, pd.DataFrame]) -> None:
        """Take up a saved state for `data` (the caller vouches it was computed from the same bars)."""
        self._origin, self._aggregates = data.origin, dict(state)
