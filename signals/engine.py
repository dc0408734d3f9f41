"""The live tick's metrics: keep what earlier sessions cost, compute only the new session's.

Almost all of a tick's work is the (session x member) part of breadth (`aggregate_rows`) over
2,200 tickers; everything else runs over a handful of 1-D series. The engine keeps each universe's
aggregates for the sessions it has seen and, for a new session, computes its row only, reading the
year of bars before it (its averages counted from the members' window sums of the session before:
`WindowSums`). The aggregates are exact per row, so the result is the same, bit for bit, as
computing all history again (a test checks it). It also keeps where the recursions that read
history session by session got to (ADX's sums, the cycle's swing rule: `signals/metrics/carry.py`),
so they read the new session only. The members' closes of the year before the last row stay in a buffer
with room for a year more (`MemberRows`), and the aggregates in arrays with room to grow
(`GrowingColumns`): a new session is one row written to each, not a year of closes gathered from the
wide frame and every column copied.

It trusts stored rows only for the same loaded history (`MarketData.origin`): data loaded anew
(a changed folder, a refreshed cache) starts it over. One computation at a time: a tick and the
dashboard's metrics after a restart run on threads of their own, and what the engine keeps (the
aggregates and the window sums that end at their last row) must change together.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

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
        self._aggregates: dict[str, GrowingColumns] = {}  # per universe, its columns so far
        self._columns: dict[str, np.ndarray] = {}  # per universe, its members' columns in the loaded frame
        self._rows: dict[str, MemberRows] = {}  # per universe, its members' closes of the rows last read
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
            self._rows = {}
        sessions = len(data.sessions)
        wanted = {}
        for universe in data.universe_names:
            wanted[universe] = self._extend(data, universe, sessions)
        return compute_metrics(data, self.settings, aggregates=wanted, carry=self._carry)

    def _extend(self, data: MarketData, universe: str, sessions: int) -> Aggregates:
        known = self._aggregates.get(universe)
        have = 0 if known is None else known.length
        if have < sessions:
            start = max(0, have - AGGREGATE_LOOKBACK)
            if universe not in self._columns:
                self._columns[universe] = data.close.columns.get_indexer(list(data.universe_members(universe)))
            values = self._member_closes(data, universe, start, sessions)
            running = self._sums.get(universe) if sessions == have + 1 else None  # they end at row have - 1
            fresh, sums = aggregate_rows_resumed(values, first=have - start, running=running,
                                                 sectors=universe_sectors(data, universe)[1])
            if known is None:
                known = self._aggregates[universe] = GrowingColumns.of(fresh)
            else:
                known.append(fresh)
            self._sums[universe] = sums  # with the rows appended above: the sums end at its last row
        assert known is not None  # computed above when None
        return known.first(sessions)

    def _member_closes(self, data: MarketData, universe: str, start: int, stop: int) -> np.ndarray:
        """The members' closes of rows [start, stop), as a (row x member) array. The session after the last
        one read is one row gathered into the kept buffer; anything else is gathered from the frame
        (arrays, not a frame: pandas' column take was a quarter of a tick) and kept for the next."""
        columns = self._columns[universe]
        kept = self._rows.get(universe)
        if kept is not None and kept.begin <= start and kept.end == stop - 1:
            row = data.close.iloc[stop - 1:stop].to_numpy(dtype="float64")[0].take(columns)
            kept.append(row, keep_from=start)
            return kept.between(start, stop)
        values = data.close.iloc[start:stop].to_numpy(dtype="float64").take(columns, axis=1)
        self._rows[universe] = MemberRows.of(values, start, AGGREGATE_LOOKBACK + 1)
        return values

    def sessions_known(self) -> dict[str, int]:
        """Per universe, how many sessions the engine has aggregated: whether it learned anything since a save."""
        return {universe: columns.length for universe, columns in self._aggregates.items()}

    def state(self) -> dict[str, dict[str, np.ndarray]]:
        """What the engine knows, to be saved beside the data it was computed from."""
        return {universe: dict(columns.first(columns.length)) for universe, columns in self._aggregates.items()}

    def restore(self, data: MarketData, state: dict[str, dict[str, np.ndarray]]) -> None:
        """Take up a saved state for `data` (the caller vouches it was computed from the same bars)."""
        with self._lock:
            self._origin, self._columns, self._rows = data.origin, {}, {}
            self._aggregates = {universe: GrowingColumns.of(columns) for universe, columns in state.items() if columns}
            self._carry, self._sums = Carry(), {}


@dataclass
class GrowingColumns:
    """Equally long columns with room after their `length` rows: a row appended is written, not every
    column copied. The rows below `length` are never written again, so views handed out stay true."""

    arrays: dict[str, np.ndarray]
    length: int

    @classmethod
    def of(cls, columns: Aggregates) -> GrowingColumns:
        length = len(next(iter(columns.values())))
        grown = cls({}, 0)
        grown.arrays = {name: np.empty(2 * length + 1, dtype=column.dtype) for name, column in columns.items()}
        grown.append(columns)
        return grown

    def append(self, rows: Aggregates) -> None:
        count = len(next(iter(rows.values())))
        end = self.length + count
        for name, column in self.arrays.items():
            if end > len(column):  # full: double the room, the rows so far copied once
                column = self.arrays[name] = np.concatenate([column[:self.length], np.empty(end, dtype=column.dtype)])
            column[self.length:end] = rows[name]
        self.length = end

    def first(self, rows: int) -> dict[str, np.ndarray]:
        return {name: column[:rows] for name, column in self.arrays.items()}


@dataclass
class MemberRows:
    """The members' closes of consecutive rows [begin, end), in a buffer with room for as many again: the
    next session is one row written after them; when the room runs out, the rows still wanted move to
    the front (one copy per `room` sessions)."""

    buffer: np.ndarray  # (2 x room, members)
    begin: int
    end: int

    @classmethod
    def of(cls, values: np.ndarray, start: int, room: int) -> MemberRows:
        kept = values[-room:]
        buffer = np.empty((2 * room, values.shape[1]), dtype=values.dtype)
        buffer[:len(kept)] = kept
        return cls(buffer, start + len(values) - len(kept), start + len(values))

    def append(self, row: np.ndarray, keep_from: int) -> None:
        if self.end - self.begin == len(self.buffer):
            wanted = self.buffer[keep_from - self.begin:]
            self.buffer[:len(wanted)] = wanted  # numpy copies overlapping slices as if through a temporary
            self.begin = keep_from
        self.buffer[self.end - self.begin] = row
        self.end += 1

    def between(self, start: int, stop: int) -> np.ndarray:
        return self.buffer[start - self.begin:stop - self.begin]
