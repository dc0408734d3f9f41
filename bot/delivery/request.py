"""The HTTP seam under python-telegram-bot: only Telegram's own JSON counts as Telegram's answer.

Telegram answers every request with a JSON object holding `ok`. A 2xx whose body is anything else
(an HTML page from a proxy or a captive portal, an empty body) did not come from Telegram, so
nothing was delivered; PTB would raise its base `TelegramError` for it, which reads like any other
failure. Here it becomes `NotTelegramAnswer`, which delivery retries and never records as sent.

The same class keeps what the getUpdates requests saw (the last good answer, the refusals 401 and
409, the requests under way): bot/telegram/listening.py reads it to tell a listening bot from a deaf one.

Its connections are spread over small httpx pools (`POOL_CONNECTIONS` each). httpcore's pool scans
every connection for every waiting request at each event (encode/httpcore#1035, open), so one pool
holding a paid broadcast's 200 connections spends its time scanning: measured at a 100 ms round trip
(benchmarks/bench_replicas.py), 68-69 requests a second in one pool of 256, 522-708 in 64 pools of 4.
"""

from __future__ import annotations

from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import RequestData

import asyncio
import json
import math
import time

import httpx
from telegram.error import TelegramError
from telegram.request import BaseRequest, HTTPXRequest

POOL_CONNECTIONS = 4


class NotTelegramAnswer(TelegramError):
    """A 2xx answer whose body is not Telegram's JSON."""


class PollingRefused(TelegramError):
    """401/404 to getUpdates. PTB would raise `InvalidToken`, which ends its polling loop for good;
    this plain `TelegramError` is retried by the loop with backoff (bot/telegram/listening.py gives up later)."""


def is_telegram_json(payload: bytes) -> bool:
    try:
        answer = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(answer, dict) and "ok" in answer


class TelegramRequest(BaseRequest):
    def __init__(self, polling: bool = False, connection_pool_size: int = 1) -> None:
        self.polling = polling  # the getUpdates request: a refused token is retried, not fatal
        self.last_ok: float | None = None  # time.monotonic() of the last good answer
        self.last_ok_wall: float | None = None  # the same as time.time(), for the heartbeat
        self.last_refusal: tuple[float, int] | None = None  # (when, status) of the last 401/404/409
        self.refusals_since: float | None = None  # first refusal since the last good answer
        self.last_started: float | None = None
        self.in_flight = 0
        pools = math.ceil(connection_pool_size / POOL_CONNECTIONS)
        size = math.ceil(connection_pool_size / pools)
        shared = {"verify": httpx.create_ssl_context()}  # one CA bundle loaded, not one per pool
        self._pools = [HTTPXRequest(connection_pool_size=size, httpx_kwargs=shared) for _ in range(pools)]
        self._busy = [0] * pools

    @property
    def read_timeout(self) -> float | None:
        return self._pools[0].read_timeout

    async def initialize(self) -> None:
        await asyncio.gather(*(pool.initialize() for pool in self._pools))

    async def shutdown(self) -> None:
        await asyncio.gather(*(pool.shutdown() for pool in self._pools))

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: ODVInput[float] = DEFAULT_NONE, write_timeout: ODVInput[float] = DEFAULT_NONE,
                         connect_timeout: ODVInput[float] = DEFAULT_NONE, pool_timeout: ODVInput[float] = DEFAULT_NONE,
                         ) -> tuple[int, bytes]:
        kwargs = {"read_timeout": read_timeout, "write_timeout": write_timeout, "connect_timeout": connect_timeout,
                  "pool_timeout": pool_timeout}
        self.last_started = time.monotonic()
        self.in_flight += 1
        chosen = min(range(len(self._pools)), key=self._busy.__getitem__)  # the pool with the fewest in flight
        self._busy[chosen] += 1
        try:
            code, payload = await self._pools[chosen].do_request(url, method, request_data, **kwargs)
        finally:
            self.in_flight -= 1
            self._busy[chosen] -= 1
        now = time.monotonic()
        if 200 <= code <= 299:
            if not is_telegram_json(payload):
                snippet = payload[:60].decode("utf-8", "replace").replace("\n", " ")
                raise NotTelegramAnswer(f"a {code} answer that is not Telegram's (a proxy or portal?): {snippet!r}")
            self.last_ok, self.last_ok_wall, self.refusals_since = now, time.time(), None
        elif code in (401, 404, 409):
            self.last_refusal = (now, code)
            if self.refusals_since is None:
                self.refusals_since = now
            if self.polling and code != 409:
                raise PollingRefused(f"getUpdates refused: HTTP {code}")
        return code, payload
