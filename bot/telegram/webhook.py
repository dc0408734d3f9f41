"""Telegram's posts to TELEGRAM_WEBHOOK_URL, taken by a listener that refuses before it reads.

PTB's webhook server (the Updater's) reads a whole body before it looks at the secret header, with
tornado's default cap of 100 MiB: 8 parallel 60 MiB posts without the secret took a bot from 309 to
1,017 MiB. Here the headers decide first: a wrong path, method, content type or secret is refused
as soon as the headers are in, before a byte of the body is read; a body over MAX_BODY_BYTES (an
update is a few KiB; Telegram's largest, a long message with entities, well under 1 MiB) is refused
by its Content-Length, or cut off when it grows past the cap without one. The updates themselves go
where the Updater would put them: the Application's update queue.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import tornado.web
from tornado.httpserver import HTTPServer
from telegram import Update
from telegram.error import TelegramError

from bot.telegram.chat_io import BotApplication

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1 << 20
BODY_TIMEOUT_SECONDS = 10.0  # a body that trickles in slower than this is a client holding a connection
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SET_WEBHOOK_BACKOFF_CAP_SECONDS = 60.0


@dataclass(frozen=True)
class WebhookSettings:
    listen: str
    port: int
    url_path: str  # without the leading slash, as PTB's url_path
    webhook_url: str
    secret_token: str | None


@tornado.web.stream_request_body
class _UpdateHandler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("POST",)

    def initialize(self, bot_application: BotApplication, secret: str | None) -> None:
        self.bot_application = bot_application
        self.secret = secret
        self.body = bytearray()

    def prepare(self) -> None:
        """The headers alone decide whether the body is read at all."""
        if self.secret is not None:
            given = self.request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), self.secret.encode()):
                self._refuse(HTTPStatus.FORBIDDEN)
                return
        if self.request.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            self._refuse(HTTPStatus.FORBIDDEN)
            return
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)

    def data_received(self, chunk: bytes) -> None:
        if self._finished:
            return
        self.body.extend(chunk)
        if len(self.body) > MAX_BODY_BYTES:
            self.body.clear()
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)

    async def post(self) -> None:
        try:
            data = json.loads(bytes(self.body))
            update = Update.de_json(data, self.bot_application.bot)
        except Exception as exc:  # not JSON, or not an update: said to the sender, logged in a line
            log.warning("a webhook post was not an update (%s: %s)", type(exc).__name__, str(exc)[:200])
            self.send_error(HTTPStatus.BAD_REQUEST)
            return
        if update is not None:
            self.bot_application.bot.insert_callback_data(update)
            await self.bot_application.update_queue.put(update)
        self.set_status(HTTPStatus.OK)
        self.finish()

    def _refuse(self, status: HTTPStatus) -> None:
        """Answer now: tornado then closes the connection instead of reading the body that is left."""
        self.set_status(status)
        self.finish()

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        log.warning("webhook request failed: %s", value)


class WebhookListener:
    """The listener, and the setWebhook that points Telegram at it (retried until Telegram answers)."""

    def __init__(self, application: BotApplication, settings: WebhookSettings) -> None:
        self.application = application
        self.settings = settings
        routes = [(rf"/{settings.url_path}/?", _UpdateHandler,
                   {"bot_application": application, "secret": settings.secret_token})]
        self._server = HTTPServer(tornado.web.Application(routes, log_function=lambda handler: None),
                                  max_body_size=MAX_BODY_BYTES, body_timeout=BODY_TIMEOUT_SECONDS,
                                  idle_connection_timeout=60.0)

    async def start(self, sleep: Any = asyncio.sleep) -> None:
        self._server.listen(self.settings.port, address=self.settings.listen)
        await self._point_telegram_here(sleep)

    async def _point_telegram_here(self, sleep: Any) -> None:
        delay, attempt = 1.0, 0
        while True:
            attempt += 1
            try:
                await self.application.bot.set_webhook(self.settings.webhook_url,
                                                       secret_token=self.settings.secret_token,
                                                       allowed_updates=Update.ALL_TYPES)
                return
            except TelegramError as exc:
                log.warning("setWebhook failed (attempt %d: %s: %s); retrying in %.0f s", attempt,
                            type(exc).__name__, exc, delay)
            pause: Awaitable[object] = sleep(delay)
            await pause
            delay = min(SET_WEBHOOK_BACKOFF_CAP_SECONDS, delay * 2)

    async def stop(self) -> None:
        self._server.stop()
        await self._server.close_all_connections()
