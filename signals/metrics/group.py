"""A metric group, declared once: its name (a topic's), the indices and ETFs it reads, how its frame is
computed and how one session of it reads in `metrics --json`.

On the model of zipline's pipeline terms, a group names its inputs and is run by one pass
(`compute_metrics`) over data already cut at `as_of`: the one look-ahead guard is `MarketData.as_of`,
not each group. What a group reads is load-bearing: a session on which one of its `reads` had no bar
of its own (a carried close) leaves the conditions that read it undecided, and a test holds every
condition's inputs to its group's `reads`. A new topic's metrics are one module,
`signals/metrics/<topic>.py`, ending in `GROUP = MetricGroup(...)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from signals.market_data import MarketData
from signals.metrics.carry import Carry
from signals.settings import DetectorSettings

Facts = TypeVar("Facts")


@dataclass(frozen=True)
class MetricInputs:
    """What every group may read: the cut data, the detector settings, each universe's breadth (the one
    (session x member) pass, computed before any group), the notes a group adds what it lacks to, and
    where a live engine's recursions got to on earlier ticks (empty for a one-off computation)."""

    data: MarketData
    settings: DetectorSettings
    universes: Mapping[str, pd.DataFrame]
    notes: list[str]
    carry: Carry = field(default_factory=Carry)


@dataclass(frozen=True)
class Computed(Generic[Facts]):
    """A group's frame (one row per session) and what it learned beside it (the cycle: which pair)."""

    frame: pd.DataFrame
    facts: Facts


def plain(value: Any) -> Any:
    """A cell as a JSON-ready value: NaN and infinities become None, numpy scalars Python's."""
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


def row_snapshot(computed: Computed[Any], position: int) -> dict[str, Any]:
    """A session of a group as `metrics --json` shows most: every column by name."""
    frame = computed.frame
    row = frame.iloc[position].tolist()  # one row across the columns; a column at a time cost 2 ms a tick
    for number in np.flatnonzero([kind.kind in "iu" for kind in frame.dtypes]).tolist():
        row[number] = int(row[number])  # a count shared a float row with the other columns: an int again
    return {column: plain(value) for column, value in zip(frame.columns, row)}


@dataclass(frozen=True)
class MetricGroup(Generic[Facts]):
    name: str  # the topic's name: the group of `metrics --json`, `/alert`'s paths
    reads: tuple[str, ...]  # the indices and ETFs it reads; their carried sessions leave its conditions undecided
    compute: Callable[[MetricInputs], Computed[Facts]]
    snapshot: Callable[[Computed[Facts], int], dict[str, Any]] = row_snapshot


def frame_only(compute: Callable[[MetricInputs], pd.DataFrame]) -> Callable[[MetricInputs], Computed[None]]:
    """A group that learns nothing beside its frame."""
    return lambda inputs: Computed(compute(inputs), None)
