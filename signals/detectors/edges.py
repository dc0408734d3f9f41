"""Turning a daily condition into edges, with a cool-down and hysteresis so flicker does not spam.

The condition is a float array per session: 1.0 true, 0.0 false, NaN unknown (not enough data).
An unknown day changes nothing. The scan is sequential by nature (each edge depends on the last
one), but it runs over one small 1-D array per key, never over tickers.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

Kind = Literal["state", "event"]


def find_edges(condition: np.ndarray, kind: Kind, cooldown: int, end_after: int) -> list[tuple[int, str]]:
    """(position, "start"|"end") pairs in session order.

    state: starts when the condition turns true, but at most once per `cooldown` sessions (a
    start held back by the cool-down happens later if the condition still holds); ends once the
    condition has been false for `end_after` sessions in a row.
    event: every true session is a start (a Fed move is news each time), never an end.
    """
    values = np.asarray(condition, dtype="float64")
    if kind == "event":
        return [(int(i), "start") for i in np.flatnonzero(values == 1.0)]
    edges: list[tuple[int, str]] = []
    active = False
    last_start = -math.inf
    false_run = 0
    for position in np.flatnonzero(~np.isnan(values)).tolist():
        holds = values[position] == 1.0
        if active:
            false_run = 0 if holds else false_run + 1
            if false_run >= end_after:
                active = False
                edges.append((position, "end"))
        elif holds and position - last_start >= cooldown:
            active = True
            last_start = position
            false_run = 0
            edges.append((position, "start"))
    return edges


def condition(mask: np.ndarray | "object", known: np.ndarray | "object") -> np.ndarray:
    """1.0 where `mask` holds, 0.0 where it does not, NaN where the inputs were not `known`."""
    return np.where(np.asarray(known, dtype=bool), np.asarray(mask, dtype=bool).astype("float64"), np.nan)
