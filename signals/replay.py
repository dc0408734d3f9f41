"""Walk-forward replay: which alerts would have fired, and how small caps did after each.

`replay` computes the metrics once over the history up to `end` and finds every edge in one
pass; `replay_day_by_day` calls the live `evaluate` once per session. Both see only bars up to
`end`, and they must agree signal for signal (a test and the benchmark check it).

The forward returns (IWM minus SPY over the next 20 and 60 sessions) and their grading
(`signal_value`) are the one place that looks past a signal's date, on purpose: they grade the
signal, they never produce one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from signals.detectors import KEYS, Analysis, detect
from signals.errors import DataError
from signals.engine import MetricsEngine
from signals.evaluate import evaluate
from signals.market_data import MarketData
from signals.metrics import compute_metrics
from signals.settings import DetectorSettings, load_detector_settings
from signals.signal import Signal
from signals.record_trust import ALPHA, ERAS, MIN_STARTS, PLACEBO_SHIFTS, TOO_FEW, graded_positions, judge
from signals.signal_value import (
    HORIZONS,
    Baseline,
    Grade,
    Tally,
    forward_relative,
    grade_picks,
    record_line,
)
from signals.metrics.breakout import small_cap_series


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
        stats=summarize(visible, first, signals),
    )


def _relative_forward(data: MarketData) -> dict[int, np.ndarray] | None:
    """IWM's forward return minus SPY's per horizon; ^RUT's minus ^GSPC's in index-only history (the
    same pair the breakout keys read: `small_cap_series`)."""
    _, pair = small_cap_series(data)
    if pair is None:
        return None
    small = data.close[pair[0]].to_numpy(dtype="float64")
    large = data.close[pair[1]].to_numpy(dtype="float64")
    return {horizon: forward_relative(small, large, horizon) for horizon in HORIZONS}


def forward_returns(data: MarketData, signals: list[Signal]) -> dict[tuple[str, str, str], dict[str, float | None]]:
    """IWM's return minus SPY's, in percent, over the next 20 and 60 sessions after each start."""
    relative = _relative_forward(data)
    if relative is None:
        return {}
    out: dict[tuple[str, str, str], dict[str, float | None]] = {}
    for signal in signals:
        if signal.direction != "start":
            continue
        position = int(data.sessions.searchsorted(pd.Timestamp(signal.date)))
        values: dict[str, float | None] = {}
        for horizon, series in relative.items():
            value = float(series[position]) if position < len(series) else math.nan
            values[f"iwm_minus_spy_{horizon}d"] = None if math.isnan(value) else round(value, 4)
        out[signal.identity] = values
    return out


def summarize(data: MarketData, first: int, signals: list[Signal]) -> dict[str, Any]:
    """The base rate over the span and, per key, its starts graded against it (see `signal_value`)."""
    tallies: dict[str, Tally] = {}
    positions = data.sessions.searchsorted(pd.DatetimeIndex([signal.date for signal in signals])).tolist()
    for signal, position in zip(signals, positions):
        tally = tallies.setdefault(signal.key, Tally(signal.type))
        if signal.direction == "start":
            tally.starts.append(int(position))
        else:
            tally.ends += 1
    return summarize_tallies(data, first, tallies)


def summarize_tallies(data: MarketData, first: int, tallies: dict[str, Tally]) -> dict[str, Any]:
    """`summarize` from each key's start positions and end count: what a tick's record needs, without words."""
    relative = _relative_forward(data)
    base: dict[str, Any] = {}
    baselines: dict[int, Baseline] = {}
    for horizon in HORIZONS:
        if relative:
            baselines[horizon] = Baseline.of(relative[horizon], first, horizon)
        rate = baselines[horizon].rate() if relative else {"mean": None, "n": 0, "hit_rate": None}
        base[f"mean_{horizon}d"], base[f"n_{horizon}d"] = rate["mean"], rate["n"]
        base[f"hit_rate_{horizon}d"] = rate["hit_rate"]
    by_key: dict[str, dict[str, Any]] = {}
    picks = {(key, horizon): graded_positions(tally.starts, series, first)  # found once: the grade's and the verdict's
             for key, tally in tallies.items() for horizon, series in (relative or {}).items()}
    for key, tally in tallies.items():
        entry: dict[str, Any] = {"type": tally.type, "starts": len(tally.starts), "ends": tally.ends}
        for horizon in HORIZONS:
            graded = (grade_picks(picks[(key, horizon)], relative[horizon], horizon, baselines[horizon]) if relative
                      else Grade(0, None, None, None, None))
            entry[f"n_{horizon}d"] = graded.n
            entry[f"mean_{horizon}d"] = graded.mean
            entry[f"excess_{horizon}d"] = graded.excess
            entry[f"t_{horizon}d"] = graded.t
            entry[f"hit_rate_{horizon}d"] = graded.hit_rate
            entry[f"base_{horizon}d"] = base[f"mean_{horizon}d"]
        by_key[key] = entry
    tests = judge(by_key, {key: tally.starts for key, tally in tallies.items()}, relative or {}, first,
                  data.sessions, picks) if relative else 0
    if not relative:
        for entry in by_key.values():
            entry.update(verdict=TOO_FEW, p_adjusted=None, eras=[], verdict_horizon=HORIZONS[-1])
    total = sum(len(tally.starts) + tally.ends for tally in tallies.values())
    _, pair = small_cap_series(data)
    return {"signals": total, "pair": "/".join(pair) if pair else None, "base": base,
            "by_key": dict(sorted(by_key.items())), "tests": tests,
            "confidence": (f"verdict: a placebo p (all of a key's starts shifted together over the graded "
                           f"sessions, up to {PLACEBO_SHIFTS:,} shifts) adjusted by Holm for the {tests} tests "
                           f"made (key x horizon with {MIN_STARTS}+ graded starts); \"edge\" or \"against\" "
                           f"needs p_adjusted < {ALPHA:g} and the {ERAS} eras (halves of the graded sessions) "
                           f"of one sign. t: the excess over its standard error, counting the overlap of "
                           f"forward windows (Newey-West weights), descriptive only")}


WARM_UP_SESSIONS = 252  # the slowest metric (a 52-week high) needs this much history before grading


def track_records(data: MarketData, analysis: Analysis) -> dict[str, str]:
    """Each registered key's record before the last session, in one line (alerts, /history).

    `analysis` is the tick's own pass over `data`: the edges come from the same history, so the
    record a subscriber reads is the one a replay to the day before would print.
    """
    sessions = analysis.metrics.sessions
    if len(sessions) == 0:
        return {}
    first = min(WARM_UP_SESSIONS, len(sessions) - 1)
    stats = summarize_tallies(data, first, analysis.tallies(first, len(sessions) - 1))
    since = sessions[first].strftime("%Y-%m-%d")  # the first graded session, not its year
    return {key: record_line(stats["by_key"].get(key), since, stats["tests"]) for key in KEYS}
