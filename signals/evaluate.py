"""One tick of the live bot: the data as of a session in, that session's metrics and new signals out.

This is the path the scheduler runs after each close; the day-by-day replay runs exactly this,
once per session, to prove the vectorized replay equals it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from signals.detectors import Analysis
from signals.engine import MetricsEngine
from signals.market_data import MarketData
from signals.metrics import Metrics, compute_metrics
from signals.settings import DetectorSettings, load_detector_settings
from signals.signal import Signal


@dataclass(frozen=True)
class Evaluation:
    as_of: str
    snapshot: dict[str, Any]  # metrics of the session, JSON-ready
    signals: list[Signal]  # edges dated this session
    notes: tuple[str, ...] = ()
    metrics: Metrics | None = field(default=None, repr=False, compare=False)
    analysis: Analysis | None = field(default=None, repr=False, compare=False)  # the one pass: records, active


def evaluate(
    data: MarketData,
    settings: DetectorSettings | None = None,
    as_of: str | pd.Timestamp | None = None,
    after: str | pd.Timestamp | None = None,
    engine: MetricsEngine | None = None,
) -> Evaluation:
    """Metrics of the `as_of` session and the signals dated after `after` up to it.

    By default only the `as_of` session's own signals; a bot that missed sessions passes the last
    session it evaluated as `after`, and gets the signals of every session since, in one pass.
    A running bot passes its `engine`, which remembers the history's costly part between ticks.
    """
    settings = settings or (engine.settings if engine is not None else load_detector_settings())
    visible = data.as_of(as_of)
    metrics = engine.compute(visible) if engine is not None else compute_metrics(visible, settings)
    last = len(metrics.sessions) - 1
    first = last
    if after is not None:
        first = min(last, int(metrics.sessions.searchsorted(pd.Timestamp(after), side="right")))
    analysis = Analysis(metrics, settings)
    return Evaluation(
        as_of=metrics.sessions[last].strftime("%Y-%m-%d"),
        snapshot=metrics.snapshot(),
        signals=analysis.signals(first),
        notes=metrics.notes + tuple(analysis.blocked_notes()),
        metrics=metrics,
        analysis=analysis,
    )
