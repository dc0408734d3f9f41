"""The dashboard's JSON: the stored snapshot as `metrics --json` has it, and the history as columns.

The readings are the snapshot's values unrounded (the page rounds them as the chat answers do), so a
check can compare them with `metrics --json` number for number. The history is columns of one time
axis (unix seconds, as the chart library reads them) rounded to what a chart can show, which keeps
five years of both universes near 60 KB compressed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bot.presentation.messages import picture_lines
from signals.universe_specs import UNIVERSES
from signals.detectors import KEYS, KEY_TOPICS
from signals.metrics import Metrics
from signals.signal import Signal
from signals.topics import TOPIC_BY_NAME, TOPIC_NAMES

METRIC_GROUPS = ("breadth", "breakout", "rates", "sectors", "credit", "cycle", "universes")
SPANS = {"1y": 252, "5y": 1260, "all": None}  # sessions the history covers
BREADTH_LINES = ("index_close", "pct_above_20dma", "pct_above_50dma", "pct_above_200dma",
                 "median_pct_from_52w_high", "net_new_highs", "high_low_index", "mcclellan_summation")
OTHER_LINES = {
    "breakout": ("iwm_close", "iwm_spy_ratio", "iwm_spy_200d_avg"),
    "rates": ("yield_2y", "fed_target_upper", "spread_10y_3m_bp"),
    "credit": ("hyg_ief_ratio",),
    "sectors": ("cyclicals_xlk_ratio", "kre_spy_ratio"),
}
DIGITS = {"iwm_spy_ratio": 4, "iwm_spy_200d_avg": 4, "hyg_ief_ratio": 4, "cyclicals_xlk_ratio": 4,
          "kre_spy_ratio": 4}


def _name(key: str) -> str:
    return KEYS[key].name if key in KEYS else key


def overview(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The latest session: its readings, the active signals with their records, the data's state."""
    records = snapshot.get("records") or {}
    active = [{"key": key, "name": _name(key), "since": since,
               "topic": KEY_TOPICS.get(key, key.split(":")[0]), "record": records.get(key)}
              for key, since in (snapshot.get("active") or {}).items()]
    return {
        "as_of": snapshot["as_of"],
        "headline": picture_lines(snapshot),
        "active": active,
        "metrics": {group: snapshot[group] for group in METRIC_GROUPS if group in snapshot},
        "universes": [{"name": u.name, "label": u.label} for u in UNIVERSES
                      if u.name in (snapshot.get("universes") or {})],
        "data": snapshot.get("data") or {},
        "warnings": list(snapshot.get("notes") or []),
        "topics": [{"name": name, "label": TOPIC_BY_NAME[name].label} for name in TOPIC_NAMES],
    }


def _column(frame: pd.DataFrame, name: str, rows: slice) -> list[float | None]:
    if name not in frame.columns:
        return []
    values = frame[name].to_numpy(dtype=float)[rows].round(DIGITS.get(name, 2))
    return [None if np.isnan(value) else float(value) for value in values]


def history(metrics: Metrics, signals: list[Signal], span: str) -> dict[str, Any]:
    """`span` of history as columns on one axis, and the signals' starts and ends inside it."""
    sessions = metrics.sessions
    count = SPANS[span]
    first = 0 if count is None else max(0, len(sessions) - count)
    rows = slice(first, len(sessions))
    times = (sessions[rows].asi8 // 1_000_000_000).tolist()
    universes = {name: {line: _column(frame, line, rows) for line in BREADTH_LINES}
                 for name, frame in metrics.universes.items()}
    others = {group: {line: _column(metrics.group(group), line, rows) for line in lines}
              for group, lines in OTHER_LINES.items()}
    begin = sessions[first].strftime("%Y-%m-%d")
    marks = [{"key": s.key, "name": _name(s.key), "topic": s.type,
              "date": s.date, "direction": s.direction}
             for s in sorted(signals, key=lambda s: (s.date, s.key)) if s.type != "digest" and s.date >= begin]
    return {"span": span, "first": begin, "last": sessions[-1].strftime("%Y-%m-%d"),
            "available": len(sessions), "time": times, "universes": universes, **others, "signals": marks}
