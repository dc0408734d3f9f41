"""The dashboard's HTTP server: the page, its static files and the `/api/` it reads, in the bot's loop.

Tornado, because it is already what python-telegram-bot's webhook server runs on (the `webhooks`
extra), so the page costs no new dependency and shares the bot's asyncio loop: an API call reads the
store off the loop (`asyncio.to_thread`) exactly as a command does. Every `/api/` request carries
Telegram's initData (`Authorization: tma <initData>`); without a valid one the answer is 401 and no
data. A request body is capped before it is read, each user has a request budget, and every answer
carries a Content-Security-Policy that allows the page's own origin only (no CDN, no inline script).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, Protocol

import tornado.httpserver
import tornado.netutil
import tornado.web

from bot.presentation.chat_changes import (
    GROUP_ONLY,
    Change,
    add_alert,
    alert_problem,
    change_topics,
    chat_controls,
    delete_alert,
    set_digest,
    set_quiet,
    set_timezone,
)
from bot.presentation.messages import plain
from bot.presentation.custom_alert_rules import LEVEL_CONVENTIONS, MAX_ALERTS, metric_paths, parse_number, shown
from bot.storage import Store
from bot.webapp.init_data import InvalidInitData, WebAppUser, validate_init_data
from bot.webapp.payloads import SPANS, history, overview
from signals.metrics import Metrics
from signals.signal import Signal

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024  # a control change is a few hundred bytes: a larger body is answered 413
READ_AT_MOST_BYTES = 4 * MAX_BODY_BYTES  # past this the connection is refused before the body is read
REQUESTS_PER_MINUTE = 120  # per user: a page load is 3 requests, a busy session of taps a few dozen
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'")
STATIC = files("bot.webapp") / "static"


class DashboardSource(Protocol):
    """What the page reads: the runtime's services satisfy it (the page never sees the token)."""

    @property
    def store(self) -> Store: ...

    async def snapshot(self, wait_seconds: float = ...) -> dict[str, Any] | None: ...

    async def latest_metrics(self) -> Metrics | None: ...


MayChange = Callable[[int, int], Awaitable[bool]]  # (chat, user) -> may this user change this chat


@dataclass
class RequestBudget:
    """A token bucket per user: REQUESTS_PER_MINUTE, refilled continuously; the clock is injected."""

    per_minute: int = REQUESTS_PER_MINUTE
    clock: Callable[[], float] = time.monotonic
    _left: dict[int, tuple[float, float]] = field(default_factory=dict)

    def take(self, user_id: int) -> bool:
        now = self.clock()
        tokens, then = self._left.get(user_id, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - then) * self.per_minute / 60.0)
        if tokens < 1.0:
            self._left[user_id] = (tokens, now)
            return False
        self._left[user_id] = (tokens - 1.0, now)
        if len(self._left) > 100_000:  # forget the idle: a bucket refilled to full says nothing
            self._left = {key: value for key, value in self._left.items() if now - value[1] < 60}
        return True


@dataclass
class Dashboard:
    source: DashboardSource
    bot_token: str
    may_change: MayChange
    max_age_seconds: int = 86_400
    budget: RequestBudget = field(default_factory=RequestBudget)
    clock: Callable[[], float] = time.time
    _history_cache: dict[tuple[str, str], bytes] = field(default_factory=dict)
    port: int | None = None  # the port bound, once started
    _server: tornado.httpserver.HTTPServer | None = None

    def application(self) -> tornado.web.Application:
        routes: list[Any] = [
            (r"/", PageHandler, {"dashboard": self}),
            (r"/static/(.*)", StaticHandler, {"path": str(STATIC)}),
            (r"/api/overview", OverviewHandler, {"dashboard": self}),
            (r"/api/history", HistoryHandler, {"dashboard": self}),
            (r"/api/controls", ControlsHandler, {"dashboard": self}),
        ]
        return tornado.web.Application(routes, compress_response=True, default_handler_class=NotFound)

    async def start(self, host: str, port: int) -> int:
        """Listen on (host, port); the port bound (0 picks a free one)."""
        server = tornado.httpserver.HTTPServer(self.application(), max_body_size=READ_AT_MOST_BYTES,
                                               max_buffer_size=READ_AT_MOST_BYTES, xheaders=True)
        sockets = tornado.netutil.bind_sockets(port, host)
        server.add_sockets(sockets)
        self._server = server
        self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    async def history_bytes(self, as_of: str, span: str) -> bytes | None:
        """The history as JSON bytes, built once per session and span (a page load reads it whole)."""
        cached = self._history_cache.get((as_of, span))
        if cached is not None:
            return cached
        metrics = await self.source.latest_metrics()
        if metrics is None:
            return None
        signals: list[Signal] = await asyncio.to_thread(self.source.store.recent_signals, 10_000)
        body = await asyncio.to_thread(lambda: json.dumps(history(metrics, signals, span),
                                                          separators=(",", ":")).encode())
        self._history_cache = {key: value for key, value in self._history_cache.items() if key[0] == as_of}
        self._history_cache[(as_of, span)] = body
        return body


def _secure(handler: tornado.web.RequestHandler) -> None:
    handler.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("Referrer-Policy", "no-referrer")


class NotFound(tornado.web.RequestHandler):
    def prepare(self) -> None:
        _secure(self)
        raise tornado.web.HTTPError(404)


class PageHandler(tornado.web.RequestHandler):
    def initialize(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    def get(self) -> None:
        _secure(self)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.write((STATIC / "index.html").read_bytes())


class StaticHandler(tornado.web.StaticFileHandler):
    def set_extra_headers(self, path: str) -> None:
        _secure(self)


class ApiHandler(tornado.web.RequestHandler):
    """initData first, then the user's budget: a forged or stale request learns nothing, not even
    whether the bot has a reading yet."""

    dashboard: Dashboard
    user: WebAppUser

    def initialize(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    def prepare(self) -> None:
        _secure(self)
        self.set_header("Cache-Control", "no-store")
        if len(self.request.body or b"") > MAX_BODY_BYTES:
            self.answer(413, {"error": f"The request is larger than {MAX_BODY_BYTES // 1024} KB."})
            return
        header = self.request.headers.get("Authorization", "")
        init_data = header[4:] if header.startswith("tma ") else ""
        try:
            self.user = validate_init_data(init_data, self.dashboard.bot_token, self.dashboard.max_age_seconds,
                                           self.dashboard.clock())
        except InvalidInitData as exc:
            log.info("dashboard: refused %s %s: %s", self.request.method, self.request.path, exc)
            self.answer(401, {"error": "Open the dashboard from the bot in Telegram (this link is not signed "
                                       "for you, or it has expired)."})
            return
        if not self.dashboard.budget.take(self.user.user_id):
            self.set_header("Retry-After", "30")
            self.answer(429, {"error": "Too many requests: wait a moment."})

    def answer(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(body, separators=(",", ":"), allow_nan=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": self._reason}))

    async def reading(self) -> dict[str, Any] | None:
        snapshot = await self.dashboard.source.snapshot(wait_seconds=5.0)
        if snapshot is None:
            self.answer(503, {"error": "No reading yet: the first evaluation has not finished. Try again in a "
                                       "minute."})
        return snapshot


class OverviewHandler(ApiHandler):
    async def get(self) -> None:
        snapshot = await self.reading()
        if snapshot is not None:
            self.answer(200, overview(snapshot))


class HistoryHandler(ApiHandler):
    async def get(self) -> None:
        span = self.get_query_argument("span", "5y")
        if span not in SPANS:
            self.answer(400, {"error": f"span is one of {', '.join(SPANS)}"})
            return
        snapshot = await self.reading()
        if snapshot is None:
            return
        body = await self.dashboard.history_bytes(snapshot["as_of"], span)
        if body is None:
            self.answer(503, {"error": "No history yet."})
            return
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(body)


class ControlsHandler(ApiHandler):
    """A chat's controls: GET shows them, POST changes one, through the same functions as the commands."""

    async def chat_allowed(self, chat_id: int) -> bool:
        if chat_id == self.user.user_id:  # a user's private chat with the bot has the user's id
            return True
        known = await asyncio.to_thread(self.dashboard.source.store.chat, chat_id)
        if known is None:
            return False
        try:
            return await self.dashboard.may_change(chat_id, self.user.user_id)
        except Exception as exc:  # Telegram could not say: no is the safe answer
            log.warning("dashboard: could not check chat %s for user %s: %s", chat_id, self.user.user_id, exc)
            return False

    def chat_of(self, given: object) -> int | None:
        if given is None or given == "":
            return self.user.user_id
        try:
            return int(str(given))
        except ValueError:
            return None

    async def get(self) -> None:
        chat_id = self.chat_of(self.get_query_argument("chat", None))
        if chat_id is None or not await self.chat_allowed(chat_id):
            self.answer(403, {"error": GROUP_ONLY})
            return
        self.answer(200, await self.controls(chat_id))

    async def controls(self, chat_id: int) -> dict[str, Any]:
        store = self.dashboard.source.store
        settings, topics, alerts = await asyncio.to_thread(chat_controls, store, chat_id)
        snapshot = await asyncio.to_thread(store.latest_snapshot) or {}
        paths = metric_paths(snapshot)
        return {"chat": chat_id, "topics": sorted(topics), "digest": settings.digest,
                "quiet": {"start": settings.quiet_start, "end": settings.quiet_end},
                "timezone": settings.timezone,
                "alerts": [{"id": a["id"], "path": a["path"], "op": a["op"], "threshold": a["threshold"],
                            "now": shown(paths.get(a["path"])), "active": bool(a["active"])} for a in alerts],
                "max_alerts": MAX_ALERTS, "paths": sorted(paths), "levels": LEVEL_CONVENTIONS}

    async def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            self.answer(400, {"error": "The body is not a JSON object."})
            return
        chat_id = self.chat_of(body.get("chat"))
        if chat_id is None or not await self.chat_allowed(chat_id):
            self.answer(403, {"error": GROUP_ONLY})
            return
        if chat_id == self.user.user_id:
            await asyncio.to_thread(self.dashboard.source.store.upsert_chat, chat_id, "private",
                                    self.user.first_name)
        change = await self.change(chat_id, body)
        self.answer(200 if change.ok else 422, {"ok": change.ok, "message": plain(change.message),
                                                "controls": await self.controls(chat_id)})

    async def change(self, chat_id: int, body: dict[str, Any]) -> Change:
        store = self.dashboard.source.store
        action, value = body.get("action"), body.get("value")
        if action == "topic" and isinstance(value, str) and isinstance(body.get("on"), bool):
            return await asyncio.to_thread(change_topics, store, chat_id, [value], body["on"])
        if action == "digest" and isinstance(value, bool):
            return await asyncio.to_thread(set_digest, store, chat_id, value)
        if action == "quiet" and isinstance(value, str) and len(value) <= 32:
            change = await asyncio.to_thread(set_quiet, store, chat_id, value)
            return change if change.ok else Change(False, "Quiet hours are two clock times, like 22:00-07:00, "
                                                          "or off.")
        if action == "timezone" and isinstance(value, str) and len(value) <= 64:
            change = await asyncio.to_thread(set_timezone, store, chat_id, value)
            return change if change.ok else Change(False, "Use an IANA time zone name such as Europe/Berlin.")
        if action == "alert_add" and isinstance(value, dict):
            path, op, level = (str(value.get(k, ""))[:200] for k in ("path", "op", "threshold"))
            snapshot = await asyncio.to_thread(store.latest_snapshot) or {}
            problem = alert_problem(snapshot, path, op, level)
            if problem is not None:
                return Change(False, f"No alert: {problem}.")
            threshold = parse_number(level)
            assert threshold is not None
            return await asyncio.to_thread(add_alert, store, chat_id, snapshot, path, op, threshold)
        if action == "alert_delete" and isinstance(value, int) and not isinstance(value, bool):
            return await asyncio.to_thread(delete_alert, store, chat_id, value)
        return Change(False, "That control is not known.")
