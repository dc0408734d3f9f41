"""Metrics: whole-history (session x metric) columns computed from a `MarketData` in one pass, each
group's frame built from them when asked (signals/metrics/group.py, `Computed`).

Every operation is backward-looking; `MarketData.as_of` cuts the future off before any metric runs.
The groups are declarations (signals/metrics/group.py), one module per topic, found by the topic's
name: `compute_metrics` runs each universe's breadth (the (session x member) pass), then every group.
A topic without its module fails here, at import, naming the file it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd

from signals.market_data import MarketData
from signals.metrics.breadth import Aggregates, universe_breadth
from signals.metrics.carry import Carry
from signals.metrics.group import Computed, MetricGroup, MetricInputs, row_snapshot
from signals.settings import DetectorSettings, load_detector_settings
from signals.tickers import RUSSELL_2000, SMALL_CAP_ETF, SP500_ETF, SP500_INDEX
from signals.topics import TOPIC_NAMES, topic_part

Facts = TypeVar("Facts")


def _group(topic: str) -> MetricGroup[Any]:
    return topic_part(__name__, topic, "GROUP", MetricGroup, lambda group: group.name, "metrics")


METRIC_GROUPS: tuple[MetricGroup[Any], ...] = tuple(_group(topic) for topic in TOPIC_NAMES)
GROUPS: tuple[str, ...] = tuple(group.name for group in METRIC_GROUPS)


@dataclass(frozen=True)
class Metrics:
    """The metric groups over the same sessions, plus what was degraded and why.

    `breadths` holds each universe's breadth (`sp500` is the `breadth` group's), `universes` the same as
    frames. Each group's and universe's values are columns, and its frame is built when first asked
    (`Computed`): a tick reads the columns only. `carried_inputs`
    says, per read index/ETF, on which sessions it had no bar of its own (its close was carried
    forward); `suspect` why a session may not fire a detector. Detectors read both through `unusable`.
    """

    sessions: pd.DatetimeIndex
    computed: Mapping[str, Computed[Any]]  # by group name, in the topics' order
    breadths: Mapping[str, Computed[None]]  # by universe name
    notes: tuple[str, ...] = ()
    carried_inputs: Mapping[str, np.ndarray] = field(default_factory=dict)  # ticker -> per session, carried
    suspect: pd.Series | None = None
    stand_ins: dict[str, str] = field(default_factory=dict)  # ETF -> the index read in its place (index-only history)

    def unusable(self, inputs: tuple[str, ...]) -> np.ndarray:
        """Sessions on which a detector reading `inputs` must not decide: suspect, or an input carried."""
        blocked = self._suspect_sessions.copy()
        for ticker in inputs:
            if ticker in self.carried_inputs:
                blocked |= self.carried_inputs[ticker]
        return blocked

    @cached_property
    def _suspect_sessions(self) -> np.ndarray:
        """Taken as an array once per Metrics: a tick's conditions ask for it a dozen times."""
        if self.suspect is None:
            return np.zeros(len(self.sessions), dtype=bool)
        return self.suspect.to_numpy(dtype=object) != ""

    @property
    def universes(self) -> dict[str, pd.DataFrame]:
        """Each universe's breadth as a frame (built when first asked; the same frame each time)."""
        return {name: breadth.frame for name, breadth in self.breadths.items()}

    def group(self, name: str) -> pd.DataFrame:
        """A group's frame by its name (a topic's)."""
        return self.computed[name].frame

    def facts(self, group: MetricGroup[Facts]) -> Facts:
        """What `group` learned beside its frame, typed by its declaration (the cycle's pair)."""
        return cast(Facts, self.computed[group.name].facts)

    def snapshot(self, session: pd.Timestamp | None = None) -> dict[str, Any]:
        """One session's metrics as plain JSON-ready values (NaN becomes None), each group as it declares."""
        session = self.sessions[-1] if session is None else session
        position = self.sessions.get_loc(session)
        result: dict[str, Any] = {"as_of": session.strftime("%Y-%m-%d")}
        for group in METRIC_GROUPS:
            result[group.name] = group.snapshot(self.computed[group.name], position)
        if self.stand_ins:
            result["stand_ins"] = dict(self.stand_ins)
        result["universes"] = {name: row_snapshot(breadth, position) for name, breadth in self.breadths.items()}
        return result


def compute_metrics(data: MarketData, settings: DetectorSettings | None = None,
                    aggregates: Mapping[str, Aggregates] | None = None, carry: Carry | None = None) -> Metrics:
    """Every metric over the whole history of `data`.

    `aggregates` (per universe, from `aggregate_rows`) lets a live engine skip the only
    (session x member) work for the sessions it has already seen, and `carry` resume the recursions
    where its last tick left them: see `signals/engine.py`.
    """
    settings = settings or load_detector_settings()
    notes: list[str] = []
    aggregates = aggregates or {}
    breadths = {name: universe_breadth(data, name, notes, aggregates.get(name)) for name in data.universe_names}
    inputs = MetricInputs(data, settings, breadths, notes, carry or Carry())
    computed = {group.name: group.compute(inputs) for group in METRIC_GROUPS}
    stand_ins = {SMALL_CAP_ETF: RUSSELL_2000, SP500_ETF: SP500_INDEX} \
        if not data.has(SMALL_CAP_ETF) and data.has(RUSSELL_2000) else {}
    return Metrics(data.close.index, computed, breadths, tuple(_index_only(data, notes)), _carried_inputs(data),
                   data.suspect, stand_ins)


def _carried_inputs(data: MarketData) -> dict[str, np.ndarray]:
    """The carried flags of what the groups read; ^GSPC's are SPY's when SPY stands in for a missing index."""
    if data.carried is None:
        return {}
    read = dict.fromkeys(ticker for group in METRIC_GROUPS for ticker in group.reads)
    flags = {ticker: data.was_carried(ticker) for ticker in read if ticker in data.close.columns}
    if not data.has(SP500_INDEX) and data.has(SP500_ETF):
        flags[SP500_INDEX] = data.was_carried(SP500_ETF)
    if not data.has(SMALL_CAP_ETF) and data.has(RUSSELL_2000):  # the indices stand in for the ETFs
        flags[SMALL_CAP_ETF] = data.was_carried(RUSSELL_2000)
        flags[SP500_ETF] = data.was_carried(SP500_INDEX)
    return flags


def _index_only(data: MarketData, notes: list[str]) -> list[str]:
    """History with indices only (no members, no ETFs: decades before the ETFs existed): one line says
    what that leaves out, instead of a note per missing ETF and metric."""
    if data.members or any(data.universes.values()) or data.has(SMALL_CAP_ETF) or data.has(SP500_ETF):
        return notes
    prefixes = ("breadth:", "sectors:", "credit:", "breakout: IWM", "breakout: SPY")
    kept = [note for note in notes if not note.startswith(prefixes)]
    return [f"index-only history: no members and no ETFs, so breadth, sector and credit metrics are unavailable; "
            f"{RUSSELL_2000} and {SP500_INDEX} stand in for IWM and SPY", *kept]
