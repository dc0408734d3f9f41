"""What a chat may change about what it receives, validated once, stored once, said once.

The chat commands (/subscribe, /digest, /quiet, /timezone, /alert) and the dashboard's controls
both call these, so a change made on one is what the other shows, with the same refusals in the
same words. Who may change a chat is decided by the caller (it knows the Telegram user); the
functions here take a chat id that has already been allowed.
"""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass

from bot.presentation.custom_alert_rules import MAX_ALERTS, OPERATORS, holds, metric_paths, parse_number, shown
from bot.storage import Store
from bot.storage.preferences import ChatSettings, parse_quiet, valid_timezone
from signals.topics import TOPIC_BY_NAME, TOPIC_NAMES

GROUP_ONLY = "Only this group's administrators can change its settings."


@dataclass(frozen=True)
class Change:
    """The outcome in words (HTML, as the chat shows it); `ok` False: nothing was stored."""

    ok: bool
    message: str


def subscribed_line(store: Store, chat_id: int) -> str:
    now = store.subscriptions(chat_id)
    return f"This chat now receives: {', '.join(t for t in TOPIC_NAMES if t in now) or 'nothing'}."


def change_topics(store: Store, chat_id: int, topics: list[str], subscribe: bool) -> Change:
    unknown = [topic for topic in topics if topic not in TOPIC_BY_NAME]
    if unknown or not topics:
        return Change(False, f"Unknown topic {unknown[0]!r}." if unknown else "Which topic?")
    changed = (store.subscribe if subscribe else store.unsubscribe)(chat_id, topics)
    done = ", ".join(changed) if changed else "nothing changed"
    return Change(True, f"{'Subscribed' if subscribe else 'Unsubscribed'}: {done}.\n{subscribed_line(store, chat_id)}")


def set_digest(store: Store, chat_id: int, on: bool) -> Change:
    store.update_chat_settings(chat_id, digest=on)
    if on:
        return Change(True, "Digest on: one message after each session's close with the day's picture and any "
                            "new signals of your topics, instead of one message per signal.")
    return Change(True, "Digest off: each signal arrives as it happens.")


def quiet_usage(text: str) -> str:
    return f"Use /quiet HH:MM-HH:MM (for example /quiet 22:00-07:00) or /quiet off (got {text})."


def set_quiet(store: Store, chat_id: int, text: str) -> Change:
    """`text` is "HH:MM-HH:MM" or "off"; anything else changes nothing."""
    off = text.strip().lower() == "off"
    window = None if off else parse_quiet(text)
    if not off and window is None:
        return Change(False, "not two clock times")
    start, end = window if window else (None, None)
    settings = store.update_chat_settings(chat_id, quiet_start=start, quiet_end=end)
    if window is None:
        return Change(True, "Quiet hours off: alerts notify as they arrive.")
    return Change(True, f"Quiet hours {start}\u2013{end} ({settings.timezone}): alerts still arrive, silently. "
                        f"/timezone changes the zone.")


def set_timezone(store: Store, chat_id: int, text: str) -> Change:
    name = valid_timezone(text)
    if name is None:
        return Change(False, "not an IANA time zone name")
    settings = store.update_chat_settings(chat_id, timezone=name)
    quiet = f" Quiet hours: {settings.describe_quiet()}." if settings.quiet_start else ""
    return Change(True, f"Time zone: {name}.{quiet}")


def add_alert(store: Store, chat_id: int, snapshot: dict[str, Any], path: str, op: str, threshold: float) -> Change:
    """A path known to `snapshot` and a valid operator are the caller's to check (their words differ:
    the command suggests close paths, the page offers a list)."""
    alert_id = store.add_custom_alert(chat_id, path, op, threshold, MAX_ALERTS)
    if alert_id is None:
        return Change(False, f"This chat has {MAX_ALERTS} alerts, the most it can have. /alerts lists them; "
                             f"/alert delete &lt;id&gt; makes room.")
    value = metric_paths(snapshot).get(path)
    past = value is not None and holds(op, value, threshold)
    if past:  # already past the level: it fires at the next crossing, not at once
        store.save_custom_alert_state(alert_id, True, 0, [], snapshot.get("as_of", ""))
    now = shown(value)
    note = (f" It is already {op} {threshold:g} now ({now}): it fires the next time it crosses." if past
            else f" Now {now}; it fires once when it crosses, after a session's close.")
    return Change(True, f"Alert #{alert_id}: <code>{path}</code> {op} {threshold:g}.{note}")


def alert_problem(snapshot: dict[str, Any], path: str, op: str, threshold: str) -> str | None:
    """Why (path, op, threshold) cannot be an alert; None when it can."""
    if path not in metric_paths(snapshot):
        return f"unknown metric path {path!r}"
    if op not in OPERATORS:
        return f"use {' or '.join(OPERATORS)}"
    if parse_number(threshold) is None:
        return "the level is not a number"
    return None


def delete_alert(store: Store, chat_id: int, alert_id: int) -> Change:
    if store.delete_custom_alert(chat_id, alert_id):
        return Change(True, f"Alert #{alert_id} deleted.")
    return Change(False, f"This chat has no alert #{alert_id}. /alerts lists its alerts.")


def chat_controls(store: Store, chat_id: int) -> tuple[ChatSettings, set[str], list[dict[str, Any]]]:
    """What the controls show: settings, topics, own alerts."""
    return store.chat_settings(chat_id), store.subscriptions(chat_id), store.custom_alerts(chat_id)
