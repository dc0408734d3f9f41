"""The rules of a chat's own alerts, apart from Telegram: which metric paths exist, how an alert
advances by one session. The tick runs `evaluate_custom_alerts`; `custom_alerts.py` holds the commands.

An alert is an edge under the built-in keys' rules: it fires when its condition turns true, at most
`max_starts` times in any `starts_window_sessions` sessions, and re-arms after `end_after_sessions`
sessions back on the other side.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from bot.storage import Store
from signals.settings import DetectorSettings
from signals.signal import Signal

MAX_ALERTS = 20
OPERATORS = ("above", "below")
SKIPPED = {"as_of", "notes", "data", "records", "active", "warnings"}  # snapshot parts that are not metrics
# Running counts whose level is set by the first session of data (the A/D line): a threshold on them
# would mean something else after every re-download, so they are no alert's path.
START_DEPENDENT = {"ad_line"}
LEVEL_CONVENTIONS = ("mcclellan_summation is the Ratio-Adjusted Summation Index as a level that does not "
                     "depend on where the data starts (19 x EMA39 − 9 x EMA19 of the ratio-adjusted net "
                     "advances: zero is neutral, ±500 strong); ad_line is left out, its level is set by "
                     "the first session of data.")
_NUMBER = re.compile(r"^[+-]?(?:[0-9]{1,9}(?:\.[0-9]{1,6})?|\.[0-9]{1,6})$")


def metric_paths(snapshot: dict[str, Any]) -> dict[str, float | None]:
    """Every numeric metric of a snapshot by dotted path (`rates.yield_2y`, `universes.sp500.members`)."""
    paths: dict[str, float | None] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if (not prefix and key in SKIPPED) or key in START_DEPENDENT:
                    continue
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif isinstance(node, bool):
            return
        elif node is None or isinstance(node, (int, float)):
            paths[prefix] = None if node is None or (isinstance(node, float) and math.isnan(node)) else float(node)

    walk("", snapshot)
    return paths


def shown(value: float | None) -> str:
    """A metric's value as a person reads it: two decimals at most (62.6179 -> "62.62"), "n/a" if unknown."""
    return "n/a" if value is None else f"{round(value, 2):g}"


def parse_number(word: str) -> float | None:
    """ASCII decimal numbers only ("30", "-1.5", "+4.25"); no exponents, no other digits."""
    return float(word) if _NUMBER.match(word) else None


def holds(op: str, value: float, threshold: float) -> bool:
    return value > threshold if op == "above" else value < threshold


def evaluate_custom_alerts(store: Store, snapshot: dict[str, Any], settings: DetectorSettings,
                           position: Callable[[str], int]) -> int:
    """Advance every alert by the snapshot's session; record one signal per alert that fires.

    `position(date)` is a session's index, so "2 starts in any 60 sessions" counts sessions. A
    session already seen by an alert changes nothing (a tick run twice). Returns how many fired.
    """
    session = snapshot["as_of"]
    paths = metric_paths(snapshot)
    rules = settings.signals
    fired = 0
    for alert in store.custom_alerts():
        if alert["last_session"] == session:
            continue
        value = paths.get(alert["path"])
        active, false_run, starts = bool(alert["active"]), int(alert["false_run"]), json.loads(alert["starts"])
        if value is None:  # unknown: the state holds
            store.save_custom_alert_state(alert["id"], active, false_run, starts, session)
            continue
        past = holds(alert["op"], value, alert["threshold"])
        if active:
            false_run = 0 if past else false_run + 1
            if false_run >= rules.end_after_sessions:
                active, false_run = False, 0
        elif past:
            now = position(session)
            recent = [d for d in starts if now - position(d) < rules.starts_window_sessions]
            if len(recent) < rules.max_starts:
                active, starts = True, [*recent, session]
                title = (f"Your alert #{alert['id']}: {alert['path']} is {shown(value)}, {alert['op']} "
                         f"{alert['threshold']:g}")
                signal = Signal("custom", f"custom:{alert['id']}", session, "start", title,
                                {"path": alert["path"], "value": value, "op": alert["op"],
                                 "threshold": alert["threshold"]})
                fired += store.record_for_chat(signal, alert["chat_id"])
        store.save_custom_alert_state(alert["id"], active, false_run, starts, session)
    return fired
