"""What every topic's answer is made of: numbers as a phone shows them, the heading, the active signals,
the chart button.

A subscriber asks "how close are we?", so every reading names the level its alert fires at, and a
reading past its trigger carries a warning sign. Plain lines rather than wide tables: a phone shows
about 35 monospace characters.
"""

from __future__ import annotations

from html import escape
from typing import Any

from bot.presentation.topics.view import MINUS
from signals.detectors import KEYS
from signals.topics import TOPIC_BY_NAME

__all__ = ["MINUS", "WARN", "active_lines", "head", "number", "past"]

WARN = " \u26a0\ufe0f"  # shown where a reading is past its trigger


def number(value: Any, template: str) -> str:
    if value is None:
        return "n/a"
    return template.format(value).replace("-", MINUS)


def past(flag: bool) -> str:
    return WARN if flag else ""


def head(topic: str, snapshot: dict[str, Any]) -> str:
    return f"<b>{escape(TOPIC_BY_NAME[topic].label)}</b> \u00b7 {escape(snapshot['as_of'])} close"


def active_lines(snapshot: dict[str, Any], topic: str) -> list[str]:
    """The topic's active signals by plain name, with the session each started."""
    prefix = f"{topic}:"
    active = {key: since for key, since in (snapshot.get("active") or {}).items() if key.startswith(prefix)}
    if not active:
        return ["Active: none"]
    names = [f"{KEYS[key].name if key in KEYS else key} (since {since})" for key, since in active.items()]
    return [f"Active: {escape(', '.join(names))}"]

