"""Walk-forward replay: which alerts would have fired, and how small caps did after each.

`replay` computes the metrics once over the history up to `end` and finds every edge in one
pass; `replay_day_by_day` calls the live `evaluate` once per session. Both see only bars up to
`end`, and they must agree signal for signal (a test and the benchmark check it).

The forward returns (IWM minus SPY over the next 20 and 60 sessions) are the one place that
looks past a signal's date, on purpose: they grade the signal, they never produce one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from signals.detectors import detect
from signals.errors import DataError
from signals.engine import MetricsEngine
from signals.evaluate import evaluate
from signals.market_data import MarketData
from signals.metrics import compute_metrics
from signals.settings import DetectorSettings, load_detector_settings
from signals.signal import Signal
from signals.tickers import SMALL_CAP_ETF, SP500_ETF

HORIZONS = (20, 60)


@dataclass(frozen=True)
class ReplayResult:
    start: str
    end: str
    sessions: int
    signals: list[Signal]
    forward: dict[tuple[str, str, str], dict[str, float | None]] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        items = []
        for signal in self.signals:
            item = signal.to_dict()
            if signal.direction == "start":
                item["forward"] = self.forward.get(signal.identity, {})
            items.append(item)
        return {"start": self.start, "end": self.end, "sessions": self.sessions,
                "signals": items, "stats": self.stats}


def replay(
    data: MarketData, start: str | pd.Timestamp, end: str | pd.Timestamp | None = None,
    settings: DetectorSettings | None = None, engine: MetricsEngine | None = None,
) -> ReplayResult:
    settings = settings or load_detector_settings()
    visible, first = _window(data, start, end)
    metrics = engine.compute(visible) if engine is not None else compute_metrics(visible, settings)
    signals = detect(metrics, settings, first_position=first)
    return _result(visible, first, signals)


def replay_day_by_day(
    data: MarketData, start: str | pd.Timestamp, end: str | pd.Timestamp | None = None,
    settings: DetectorSettings | None = None,
) -> ReplayResult:
    """The reference: one live tick per session (slow; for tests and the benchmark)."""
    settings = settings or load_detector_settings()
    visible, first = _window(data, start, end)
    signals: list[Signal] = []
    engine = MetricsEngine(settings)  # as the running bot keeps one between ticks
    for session in visible.sessions[first:]:
        signals.extend(evaluate(visible, settings, as_of=session, engine=engine).signals)
    return _result(visible, first, signals)


def _window(data: MarketData, start: str | pd.Timestamp, end: str | pd.Timestamp | None) -> tuple[MarketData, int]:
    visible = data.as_of(end)
    try:
        start_stamp = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise DataError(f"not a date: {start!r} (use YYYY-MM-DD)") from exc
    first = int(visible.sessions.searchsorted(start_stamp, side="left"))
    if first >= len(visible.sessions):
        raise DataError(f"no sessions between {start_stamp.date()} and {visible.last_session.date()}")
    return visible, first


def _result(visible: MarketData, first: int, signals: list[Signal]) -> ReplayResult:
    forward = forward_returns(visible, signals)
    return ReplayResult(
        start=visible.sessions[first].strftime("%Y-%m-%d"),
        end=visible.last_session.strftime("%Y-%m-%d"),
        sessions=len(visible.sessions) - first,
        signals=signals,
        forward=forward,
        stats=summarize(signals, forward),
    )


def forward_returns(data: MarketData, signals: list[Signal]) -> dict[tuple[str, str, str], dict[str, float | None]]:
    """IWM's return minus SPY's, in percent, over the next 20 and 60 sessions after each start."""
    if not (data.has(SMALL_CAP_ETF) and data.has(SP500_ETF)):
        return {}
    iwm = data.close[SMALL_CAP_ETF].to_numpy()
    spy = data.close[SP500_ETF].to_numpy()
    sessions = data.sessions
    out: dict[tuple[str, str, str], dict[str, float | None]] = {}
    for signal in signals:
        if signal.direction != "start":
            continue
        position = int(sessions.searchsorted(pd.Timestamp(signal.date)))
        values: dict[str, float | None] = {}
        for horizon in HORIZONS:
            later = position + horizon
            value = None
            if later < len(sessions):
                relative = (iwm[later] / iwm[position] - spy[later] / spy[position]) * 100.0
                value = None if math.isnan(relative) else round(float(relative), 4)
            values[f"iwm_minus_spy_{horizon}d"] = value
        out[signal.identity] = values
    return out


def summarize(signals: list[Signal], forward: dict[tuple[str, str, str], dict[str, float | None]]) -> dict[str, Any]:
    """Per key: how many starts, and the mean and share positive of each forward horizon."""
    by_key: dict[str, dict[str, Any]] = {}
    for signal in signals:
        entry = by_key.setdefault(signal.key, {"type": signal.type, "starts": 0, "ends": 0})
        entry["starts" if signal.direction == "start" else "ends"] += 1
    for key, entry in by_key.items():
        for horizon in HORIZONS:
            name = f"iwm_minus_spy_{horizon}d"
            values = np.array([f[name] for (k, _, _), f in forward.items() if k == key and f.get(name) is not None],
                              dtype="float64")
            entry[f"n_{horizon}d"] = int(len(values))
            entry[f"mean_{horizon}d"] = round(float(values.mean()), 4) if len(values) else None
            entry[f"positive_share_{horizon}d"] = round(float((values > 0).mean()), 4) if len(values) else None
    return {"signals": len(signals), "by_key": dict(sorted(by_key.items()))}
