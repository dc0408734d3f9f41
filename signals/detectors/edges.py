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
The scan is sequential by nature (each edge depends on the last one), but it runs over one small
1-D array per key, never over tickers.
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
    active = False
    seen_false = False  # true on the first known session: history, not a start
    false_run = 0
    known = np.flatnonzero(~np.isnan(values) | ~np.isnan(holding))
    # plain Python floats: the scan reads one value at a time, and numpy scalars cost ten times more
    for position, value, held in zip(known.tolist(), values[known].tolist(), holding[known].tolist()):
        if active:
            if held != held:  # NaN: unknown, the state holds
                continue
            false_run = 0 if held == 1.0 else false_run + 1
            if false_run >= end_after:
                active = False
                edges.append((position, "end"))
        elif value == 0.0:
            seen_false = True
        elif value == 1.0 and seen_false and allowed(position):
            active = True
            recent.append(position)
            false_run = 0
            edges.append((position, "start"))
    return edges


def condition(mask: np.ndarray | "object", known: np.ndarray | "object") -> np.ndarray:
    """1.0 where `mask` holds, 0.0 where it does not, NaN where the inputs were not `known`."""
    return np.where(np.asarray(known, dtype=bool), np.asarray(mask, dtype=bool).astype("float64"), np.nan)
