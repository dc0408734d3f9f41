"""Detectors: metrics in, signals (edges of named conditions) out.

A topic's detector is its module `signals/detectors/<topic>.py`, found by the topic's name, ending in
`DETECTOR = Detector(topic, keys, conditions)`; a topic without one fails here, at import. Its keys
then appear in README's table (a test checks), its topic must have a message, a chart and a command
(tests check), and its conditions get the shared start limit, bands and end rule of `edges.find_edges`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from signals.detectors.base import Condition, Detector, KeySpec, tidy
from signals.detectors.edges import StartLimit, find_edges
from signals.metrics import Metrics
from signals.settings import DetectorSettings
from signals.signal import Signal
from signals.signal_value import Tally
from signals.topics import TOPIC_NAMES, topic_part


def _detector(topic: str) -> Detector:
    return topic_part(__name__, topic, "DETECTOR", Detector, lambda detector: detector.topic, "detector")


DETECTORS: tuple[Detector, ...] = tuple(_detector(topic) for topic in TOPIC_NAMES)
KEYS: dict[str, KeySpec] = {spec.key: spec for detector in DETECTORS for spec in detector.keys}
KEY_TOPICS: dict[str, str] = {spec.key: detector.topic for detector in DETECTORS for spec in detector.keys}


def key_rule(key: str, settings: DetectorSettings) -> str:
    """A registered key's rule in words, with the numbers of `settings`."""
    return KEYS[key].rule.format(**{name: getattr(settings, name) for name in type(settings).model_fields})


def all_conditions(metrics: Metrics, settings: DetectorSettings) -> list[Condition]:
    conditions = [cond for detector in DETECTORS for cond in detector.conditions(metrics, settings)]
    for cond in conditions:
        if KEY_TOPICS.get(cond.key) != cond.type:
            raise AssertionError(f"{cond.key} is not registered under topic {cond.type}")  # a programming error
    return conditions


def _edges(cond: Condition, unusable: np.ndarray, settings: DetectorSettings) -> list[tuple[int, str]]:
    """Every edge of one condition over the whole history, silent ends included."""
    rules = settings.signals
    limit = StartLimit(rules.max_starts, rules.starts_window_sessions)
    values = np.where(unusable, np.nan, cond.values)  # unknown: the state holds
    hold = None if cond.hold is None else np.where(unusable, np.nan, cond.hold)
    end_after = cond.end_after if cond.end_after is not None else rules.end_after_sessions
    return find_edges(values, cond.kind, limit if cond.limited else None, end_after, hold)


@dataclass(frozen=True)
class Edge:
    """One edge of one condition: where, which way, and (for an end) which parts no longer held."""

    condition: Condition
    position: int
    direction: str


class Analysis:
    """One pass over a history: every condition built once, its edges found once. The tick reads the
    signals, the records, the active keys and the blocked notes from it; nothing recomputes a condition."""

    def __init__(self, metrics: Metrics, settings: DetectorSettings) -> None:
        self.metrics = metrics
        self.settings = settings
        self.conditions = all_conditions(metrics, settings)
        unusable: dict[tuple[str, ...], np.ndarray] = {}  # conditions share their inputs
        for cond in self.conditions:
            if cond.inputs not in unusable:
                unusable[cond.inputs] = metrics.unusable(cond.inputs)
        self.edges = sorted((Edge(cond, position, direction) for cond in self.conditions
                             for position, direction in _edges(cond, unusable[cond.inputs], settings)),
                            key=lambda e: (e.position, e.condition.type, e.condition.key, e.direction))

    def signals(self, first_position: int = 0, before_position: int | None = None) -> list[Signal]:
        """The announced edges from `first_position` (up to, not including, `before_position`), described."""
        sessions = self.metrics.sessions
        signals: list[Signal] = []
        for edge in self.edges:
            cond, position, direction = edge.condition, edge.position, edge.direction
            if position < first_position or (before_position is not None and position >= before_position):
                continue
            if direction == "end" and not cond.announce_end:
                continue
            title, detail = cond.describe(direction, position)
            if direction == "end":
                because = cond.ended_because(position)
                detail = {**detail, "ended_because": list(because)}
                if cond.explain_end is not None:
                    title = cond.explain_end(because, detail)
            signals.append(Signal(cond.type, cond.key, sessions[position].strftime("%Y-%m-%d"),
                                  direction, title, tidy(detail)))  # type: ignore[arg-type]  # tidy keeps a dict a dict
        signals.sort(key=lambda s: (s.date, s.type, s.key, s.direction))
        return signals

    def tallies(self, first_position: int, before_position: int) -> dict[str, Tally]:
        """Each key's announced starts and ends in [first, before), as positions: what a record needs, and cheap."""
        tallies: dict[str, Tally] = {}
        for edge in self.edges:
            cond = edge.condition
            if not first_position <= edge.position < before_position:
                continue
            if edge.direction == "start":
                tallies.setdefault(cond.key, Tally(cond.type)).starts.append(edge.position)
            elif cond.announce_end:
                tallies.setdefault(cond.key, Tally(cond.type)).ends += 1
        return tallies

    @property
    def active(self) -> dict[str, str]:
        """The state keys active at the last session, with the date each started (events are news, not states)."""
        last: dict[str, Edge] = {}
        for edge in self.edges:
            if edge.condition.kind == "state":
                last[edge.condition.key] = edge
        return {key: self.metrics.sessions[edge.position].strftime("%Y-%m-%d")
                for key, edge in last.items() if edge.direction == "start"}

    def blocked_notes(self, position: int = -1) -> list[str]:
        return blocked_notes(self.metrics, self.settings, position, self.conditions)


def detect(metrics: Metrics, settings: DetectorSettings, first_position: int = 0) -> list[Signal]:
    """Every edge at or after session `first_position`, sorted by date, then key.

    The edges are found over the whole history (state carries from the first session), so the
    signals of a day do not depend on where a replay starts. A suspect session, or one on which
    an index/ETF the condition reads had no bar, is unknown for that condition: no edge there.
    """
    return Analysis(metrics, settings).signals(first_position)


def active_signals(metrics: Metrics, settings: DetectorSettings) -> dict[str, str]:
    """The state keys active at the last session, with the date each started."""
    return Analysis(metrics, settings).active


def blocked_notes(metrics: Metrics, settings: DetectorSettings, position: int = -1,
                  conditions: list[Condition] | None = None) -> list[str]:
    """Why detectors cannot decide on one session (default: the last), in words for the warnings."""
    if not len(metrics.sessions):
        return []
    position = position % len(metrics.sessions)
    day = metrics.sessions[position].strftime("%Y-%m-%d")
    notes: list[str] = []
    reason = "" if metrics.suspect is None else str(metrics.suspect.iat[position])
    if reason:
        notes.append(f"{day} is suspect ({reason}); no detector fires on it")
        return notes
    carried: dict[str, list[str]] = {}
    flags = metrics.carried_inputs
    for cond in conditions if conditions is not None else all_conditions(metrics, settings):
        for ticker in cond.inputs:
            if ticker in flags and flags[ticker][position]:
                carried.setdefault(ticker, []).append(cond.key)
    for ticker, keys in carried.items():
        notes.append(f"{ticker} has no bar for {day} (its last close is carried); "
                     f"{', '.join(dict.fromkeys(keys))} cannot fire on it")
    return notes
