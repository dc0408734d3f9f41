"""A metric group, declared once: its name (a topic's), the indices and ETFs it reads, how its columns are
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
from functools import cached_property
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
    breadths: Mapping[str, Computed[None]]
    notes: list[str]
    carry: Carry = field(default_factory=Carry)


Columns = dict[str, np.ndarray]  # a group's values by column name, one per session


@dataclass(frozen=True, eq=False)
class Computed(Generic[Facts]):
    """A group's values, one row per session, and what it learned beside them (the cycle: which pair).

    Computed as columns (arrays), which a tick's detectors and snapshot read as they are; the frame that
    charts, the dashboard and `Metrics.group` hand out is built from them when first asked (building a
    tick's seven frames was a tenth of its work). One made from a frame (`of_frame`: a test's metrics)
    reads that frame, so what a test writes into it is what the detectors see; a frame built from
    columns is a copy of them.
    """

    columns: Mapping[str, np.ndarray]
    index: pd.Index
    facts: Facts
    given: pd.DataFrame | None = None  # the frame it was made from, if it was

    @classmethod
    def of_frame(cls, frame: pd.DataFrame, facts: Facts) -> Computed[Facts]:
        return cls({}, frame.index, facts, frame)

    @cached_property
    def frame(self) -> pd.DataFrame:
        return self.given if self.given is not None else pd.DataFrame(dict(self.columns), index=self.index)

    @property
    def names(self) -> list[str]:
        return list(self.given.columns) if self.given is not None else list(self.columns)

    def values(self, name: str) -> np.ndarray:
        """A column as it was computed (counts stay integers)."""
        return self.given[name].to_numpy() if self.given is not None else np.asarray(self.columns[name])

    def column(self, name: str) -> np.ndarray:
        """A column as floats: what a condition computes on."""
        return np.asarray(self.values(name), dtype="float64")


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
    return {name: plain(computed.values(name)[position]) for name in computed.names}


@dataclass(frozen=True)
class MetricGroup(Generic[Facts]):
    name: str  # the topic's name: the group of `metrics --json`, `/alert`'s paths
    reads: tuple[str, ...]  # the indices and ETFs it reads; their carried sessions leave its conditions undecided
    compute: Callable[[MetricInputs], Computed[Facts]]
    snapshot: Callable[[Computed[Facts], int], dict[str, Any]] = row_snapshot


def columns_only(compute: Callable[[MetricInputs], Columns]) -> Callable[[MetricInputs], Computed[None]]:
    """A group that learns nothing beside its columns."""
    return lambda inputs: Computed(compute(inputs), inputs.data.close.index, None)
