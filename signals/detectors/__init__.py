"""Detectors: metrics in, signals (edges of named conditions) out.

To add a detector, write a function `(Metrics, DetectorSettings) -> list[Condition]` and list it in
`DETECTORS`; its conditions get the shared cool-down and hysteresis of `edges.find_edges`.
"""

from __future__ import annotations

from collections.abc import Callable

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
    signals of a day do not depend on where a replay starts.
    """
    sessions = metrics.sessions
    signals: list[Signal] = []
    for cond in all_conditions(metrics, settings):
        edges = find_edges(cond.values, cond.kind, settings.signals.cooldown_sessions,
                           settings.signals.end_after_sessions)
        for position, direction in edges:
            if position < first_position:
                continue
            title, detail = cond.describe(direction, position)
            signals.append(Signal(cond.type, cond.key, sessions[position].strftime("%Y-%m-%d"),
                                  direction, title, detail))  # type: ignore[arg-type]
    signals.sort(key=lambda s: (s.date, s.type, s.key, s.direction))
    return signals
