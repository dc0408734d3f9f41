"""Turning a daily condition into edges, so that a flickering or hovering condition does not spam.

A condition is a float array per session: 1.0 true, 0.0 false, NaN unknown (not enough data, or a
session the detector must not decide on). An unknown day changes nothing. Three rules keep alerts
rare and meaningful:
- a start limit: a key starts at most `max_starts` times in any `window` sessions; a start held
  back happens later if the condition still holds (this replaced a cool-down counted from the
  last start, which swallowed a decisive breakout three weeks after a failed one);
- a band: a level condition may hold on a laxer level than the one that starts it (the curve is
  inverted below -10 bp and stays so until above +10 bp), so a level hovering at its threshold
  starts once per episode;
- an end only after `end_after` false sessions in a row;
- history is not news: a state condition already true when it first becomes known (the first
  sessions of the data, or of a metric's window) starts only after it has been seen false once.
Each edge depends on the last one, so edges are found in order; between two edges the sessions are
skipped with array searches (a key costs its edges, not the length of its history).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

Kind = Literal["state", "event"]


@dataclass(frozen=True)
class StartLimit:
    max_starts: int
    window: int


def find_edges(condition: np.ndarray, kind: Kind, limit: StartLimit | None, end_after: int,
               hold: np.ndarray | None = None) -> list[tuple[int, str]]:
    """(position, "start"|"end") pairs in session order.

    state: starts when `condition` turns true (and the start limit allows), stays active while `hold`
    (default: the condition itself) is true, ends once `hold` has been false for `end_after`
    sessions in a row.
    event: every true session is a start (a Fed move is news each time), subject to the limit if
    one is given; never an end.
    """
    values = np.asarray(condition, dtype="float64")
    holding = values if hold is None else np.asarray(hold, dtype="float64")
    recent: deque[int] = deque()

    def allowed(position: int) -> bool:
        if limit is None:
            return True
        while recent and recent[0] <= position - limit.window:
            recent.popleft()
        return len(recent) < limit.max_starts

    edges: list[tuple[int, str]] = []
    if kind == "event":
        for position in np.flatnonzero(values == 1.0).tolist():
            if allowed(position):
                recent.append(position)
                edges.append((position, "start"))
        return edges
    return _state_edges(values, holding, limit, end_after)


def _state_edges(values: np.ndarray, holding: np.ndarray, limit: StartLimit | None,
                 end_after: int) -> list[tuple[int, str]]:
    """A state condition's edges, found edge by edge rather than session by session: the sessions
    between two edges are skipped with array searches, so a key costs its edges, not its history.

    Read as a scan over the known sessions (value or hold known), it is: inactive, a false value is
    "seen false" (the first one makes later starts possible: history is not news), and a true value
    after it starts the key when the start limit allows; active, an unknown hold changes nothing, a
    true one resets the count of false ones, and `end_after` false ones in a row end it.
    """
    known = np.flatnonzero(~np.isnan(values) | ~np.isnan(holding))
    value, held = values[known], holding[known]
    zeros = np.flatnonzero(value == 0.0)
    if len(zeros) == 0:
        return []
    ones = np.flatnonzero(value == 1.0)  # candidate starts, as indices into `known`
    one_sessions = known[ones]
    decided = np.flatnonzero(~np.isnan(held))  # where an active key reads its hold
    falling = held[decided] != 1.0
    at = np.arange(len(decided))
    reset = np.maximum.accumulate(np.where(falling, -1, at)) if len(decided) else at
    ends = np.flatnonzero(at - reset >= end_after)  # false holds in a row, counted at each decided session
    starts: list[int] = []
    edges: list[tuple[int, str]] = []
    scan = int(zeros[0]) + 1  # the first false value: from the next session a start may come
    while True:
        candidate = int(np.searchsorted(ones, scan))
        if limit is not None and len(starts) >= limit.max_starts:  # the window's oldest start must age out
            candidate = max(candidate, int(np.searchsorted(one_sessions, starts[-limit.max_starts] + limit.window)))
        if candidate >= len(ones):
            return edges
        start = int(ones[candidate])
        starts.append(int(known[start]))
        edges.append((starts[-1], "start"))
        first_hold = int(np.searchsorted(decided, start, side="right"))
        end = int(np.searchsorted(ends, first_hold + max(end_after, 1) - 1))  # the count restarts at the start
        if end >= len(ends):
            return edges
        stop = int(decided[ends[end]])
        edges.append((int(known[stop]), "end"))
        scan = stop + 1


def condition(mask: np.ndarray | "object", known: np.ndarray | "object") -> np.ndarray:
    """1.0 where `mask` holds, 0.0 where it does not, NaN where the inputs were not `known`."""
    return np.where(np.asarray(known, dtype=bool), np.asarray(mask, dtype=bool).astype("float64"), np.nan)
