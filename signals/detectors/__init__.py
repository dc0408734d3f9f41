"""Detectors: metrics in, signals (edges of named conditions) out.

To add a detector, write a function `(Metrics, DetectorSettings) -> list[Condition]` and list it in
`DETECTORS`; its conditions get the shared cool-down and hysteresis of `edges.find_edges`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from signals.detectors.base import Condition
from signals.detectors.breadth import breadth_conditions
from signals.detectors.breakout import breakout_conditions
from signals.detectors.edges import find_edges
from signals.detectors.rates import rates_conditions
from signals.metrics import Metrics
from signals.settings import DetectorSettings
from signals.signal import Signal

DETECTORS: tuple[Callable[[Metrics, DetectorSettings], list[Condition]], ...] = (
    breadth_conditions,
    breakout_conditions,
    rates_conditions,
)


def all_conditions(metrics: Metrics, settings: DetectorSettings) -> list[Condition]:
    return [cond for make in DETECTORS for cond in make(metrics, settings)]


def detect(metrics: Metrics, settings: DetectorSettings, first_position: int = 0) -> list[Signal]:
    """Every edge at or after session `first_position`, sorted by date, then key.

    The edges are found over the whole history (state carries from the first session), so the
    signals of a day do not depend on where a replay starts. A suspect session, or one on which
    an index/ETF the condition reads had no bar, is unknown for that condition: no edge there.
    """
    sessions = metrics.sessions
    signals: list[Signal] = []
    for cond in all_conditions(metrics, settings):
        values = np.where(metrics.unusable(cond.inputs), np.nan, cond.values)  # unknown: the state holds
        edges = find_edges(values, cond.kind, settings.signals.cooldown_sessions,
                           settings.signals.end_after_sessions)
        for position, direction in edges:
            if position < first_position:
                continue
            title, detail = cond.describe(direction, position)
            signals.append(Signal(cond.type, cond.key, sessions[position].strftime("%Y-%m-%d"),
                                  direction, title, detail))  # type: ignore[arg-type]
    signals.sort(key=lambda s: (s.date, s.type, s.key, s.direction))
    return signals


def blocked_notes(metrics: Metrics, settings: DetectorSettings, position: int = -1) -> list[str]:
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
    for cond in all_conditions(metrics, settings):
        for ticker in cond.inputs:
            frame = metrics.carried_inputs
            if frame is not None and ticker in frame.columns and bool(frame[ticker].iat[position]):
                carried.setdefault(ticker, []).append(cond.key)
    for ticker, keys in carried.items():
        notes.append(f"{ticker} has no bar for {day} (its last close is carried); "
                     f"{', '.join(dict.fromkeys(keys))} cannot fire on it")
    return notes
