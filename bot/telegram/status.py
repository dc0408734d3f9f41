"""/status: what the bot knows of itself, in sections that each read what they need.

A section whose store read fails (a damaged page, a lock held too long) becomes one line saying so,
and the rest still answers: /status is what an administrator sends when something is wrong, so it
must not be the first thing to break. Error texts, paths and failing tickers only in admin chats.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bot.presentation.messages import plural
from bot.storage import Replica
from bot.telegram.chat_io import TICK_JOB, BotContext
from bot.telegram.needs import BotServices
from signals.database import names_corruption

NEW_YORK = ZoneInfo("America/New_York")
WARNINGS_SHOWN = 8
T = TypeVar("T")
Row = dict[str, Any]


@dataclass
class Status:
    """The answer, and the store errors its sections met (said to admins by the caller, once)."""

    admin: bool
    lines: list[str] = field(default_factory=lambda: ["<b>Status</b>"])
    store_errors: list[Exception] = field(default_factory=list)

    def read(self, what: str, read: Callable[[], T], otherwise: T) -> T:
        """`read()`, or `otherwise` and a line naming what could not be read."""
        try:
            return read()
        except Exception as exc:  # any store error: this section says it, the others still answer
            self.store_errors.append(exc)
            why = f": {escape(type(exc).__name__)}: {escape(str(exc)[:200])}" if self.admin else ""
            self.lines.append(f"\u26a0\ufe0f Could not read {what}{why}")
            return otherwise

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def status_text(services: BotServices, context: BotContext, admin: bool = False) -> Status:
    status = Status(admin)
    store = services.store
    last = status.read("the runs", store.last_run, None)
    last_ok = status.read("the runs", lambda: store.last_run("ok"), None) if last is not None else None
    last = _with_unrecorded_failure(last, services.state.last_failure)
    status.lines.extend(_last_run_lines(last, admin))
    status.lines.extend(_warning_lines(last, admin))
    status.lines.extend(_damage_lines(services.state.damage, status.store_errors, admin))
    status.lines.append(f"Data as of: {escape(last_ok['data_as_of']) if last_ok else 'none yet'}")
    if services.config.replicated:
        replicas = status.read("the replicas", store.replicas, None)
        if replicas is not None:
            status.lines.append(replicas_line(replicas, store.replica))
    status.lines.extend(_schedule_lines(services, context))
    status.lines.extend(_staleness_lines(services, last, last_ok))
    status.lines.extend(escape(line) for line in services.feed.status_lines(detail=admin))
    counts = status.read("the deliveries", lambda: store.stats()["deliveries"], None)
    if counts is not None:
        status.lines.append(f"Deliveries pending: {counts.get('pending', 0)}, failed: {counts.get('failed', 0)}, "
                            f"expired: {counts.get('expired', 0)}")
    return status


def _with_unrecorded_failure(last: Row | None, failure: tuple[str, str] | None) -> Row | None:
    """A tick that failed where it could not even record its run (a full disk) is still the last run."""
    if failure is not None and (last is None or failure[0] > (last["finished_at"] or last["started_at"])):
        return {"outcome": "error", "finished_at": failure[0], "started_at": failure[0], "error": failure[1],
                "warnings": "[]", "new_signals": 0}
    return last


def _last_run_lines(last: Row | None, admin: bool) -> list[str]:
    if last is None:
        return ["Last run: none yet"]
    finished = _local(last["finished_at"] or last["started_at"])
    if last["outcome"] == "error":
        why = f": {escape(last['error'][:300])}" if admin and last["error"] else \
            " (the bot's administrators have the details)"
        return [f"\u26a0\ufe0f Last run: failed at {finished}{why}"]
    counted = f", {plural(last['new_signals'], 'new signal')}" if last["outcome"] == "ok" else ""
    lines = [f"Last run: {escape(last['outcome'])} at {finished}{counted}"]
    if last["error"] and admin:
        lines.append(f"\u26a0\ufe0f Last error: {escape(last['error'][:300])}")
    elif last["error"]:
        lines.append("\u26a0\ufe0f The last run had a problem; the bot's administrators have the details.")
    return lines


def _warning_lines(last: Row | None, admin: bool) -> list[str]:
    """The data's warnings as the run kept them (a missing file leads: bot/presentation/render.py)."""
    warnings: list[str] = json.loads(last.get("warnings") or "[]") if last is not None else []
    if not warnings:
        return []
    if not admin:
        return [f"\u26a0\ufe0f The data has {plural(len(warnings), 'warning')}; "
                "the bot's administrators have the details."]
    shown = warnings[:WARNINGS_SHOWN]
    lines = [f"\u26a0\ufe0f Data warnings ({len(warnings)}):"]
    lines.extend(f"\u2022 {escape(line[:200])}" for line in shown)
    if len(warnings) > len(shown):
        lines.append(f"\u2022 and {len(warnings) - len(shown)} more (rotation-bot metrics lists each)")
    return lines


def _damage_lines(damage: list[str], store_errors: list[Exception], admin: bool) -> list[str]:
    """What the daily check or any store error found, including an error this very answer met."""
    found = damage or [f"{type(exc).__name__}: {exc}" for exc in store_errors if names_corruption(exc)][:1]
    if not found:
        return []
    return ["\u26a0\ufe0f The database fails its integrity check"
            + (f": {escape(found[0][:200])}" if admin else "; the administrators know.")]


def _schedule_lines(services: BotServices, context: BotContext) -> list[str]:
    lines = ["A tick is running now."] if services.tick_lock.locked() else []
    jobs = context.job_queue.get_jobs_by_name(TICK_JOB) if context.job_queue else ()
    if jobs and jobs[0].next_t is not None:
        lines.append(f"Next run: {_local(jobs[0].next_t.isoformat())}")
    return lines


def _staleness_lines(services: BotServices, last: Row | None, last_ok: Row | None) -> list[str]:
    """A closed session that no good run has evaluated: the numbers everyone sees are old."""
    if services.offline:
        return []
    due = services.calendar.last_due(datetime.now(timezone.utc))
    if due is None:
        return []
    evaluated = last_ok["data_as_of"] if last_ok else None
    if evaluated is None and last is None:
        return [f"No session evaluated yet: the first evaluation (of the {due.session} session) is "
                f"{'running now' if services.tick_lock.locked() else 'due'}."]
    if evaluated is None or evaluated < due.session:
        since = f"the last evaluated session is {escape(evaluated)}" if evaluated else \
            "no session has been evaluated on good data yet"
        return [f"\u26a0\ufe0f Data is stale: the {due.session} session closed but {since}."]
    return []


def replicas_line(replicas: list[Replica], me: str, now: datetime | None = None) -> str:
    """Which replica leads and which stand by, as each last said (this one marked); silent ones are left out."""
    now = now or datetime.now(timezone.utc)
    alive = [r for r in replicas if r.alive(now)]
    leaders = [r for r in alive if r.role == "leader"]
    standbys = [r for r in alive if r.role != "leader"]

    def name(replica: Replica) -> str:
        return escape(replica.name) + (" (this one)" if replica.name == me else "")

    lead = (f"{name(leaders[0])} leads since {_local(leaders[0].leader_since or leaders[0].beat_at)}"
            if leaders else "none leads right now (a standby takes over within seconds)")
    waiting = f"; standing by: {', '.join(name(r) for r in standbys)}" if standbys else ""
    return f"Replicas: {lead}{waiting}"


def _local(stamp: str) -> str:
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(NEW_YORK).strftime("%a %Y-%m-%d %H:%M ET")
