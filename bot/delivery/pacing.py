"""Sends spaced evenly at the wire, whatever released them.

python-telegram-bot's AIORateLimiter parks requests while a `RetryAfter` pause lasts and then lets
them all go at once: measured, the second after a 429 carried 36-38 sends where Telegram allows
about 30. This request class spaces every `send*` call at the HTTP layer, the last point before the
network, so no burst from any queue above it can exceed the rate.

Only a send flagged `allow_paid_broadcast` may go faster than Telegram's free limit, so there are
two lanes: flagged sends at the paid rate, every other send (replies, groups, channels) at the free
rate, also when paid broadcast is on. Replicas on one database send for the same bot, whose limits
Telegram counts once: each paces at its share (`share`), the rates over the replicas alive.
"""

from __future__ import annotations

from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import RequestData

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from bot.delivery.request import TelegramRequest


class Lane:
    """Evenly spaced slots: each caller waits for the next one."""

    def __init__(self, per_second: float, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.per_second = per_second
        self.interval = 1.0 / per_second
        self._clock, self._sleep = clock, sleep  # the running loop's clock unless a test gives one
        self._next_slot = 0.0
        self._lock: asyncio.Lock | None = None

    def share(self, senders: int) -> None:
        """Keep to 1/`senders` of the rate: that many processes send for the same bot."""
        self.interval = max(1, senders) / self.per_second

    async def wait(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        now = self._clock or asyncio.get_running_loop().time
        async with self._lock:
            wait = self._next_slot - now()
            if wait > 0:
                await self._sleep(wait)
            self._next_slot = max(now(), self._next_slot) + self.interval


def is_paid(request_data: Any) -> bool:
    parameters = getattr(request_data, "parameters", None) or {}
    return str(parameters.get("allow_paid_broadcast", "")).lower() == "true"


class PacedRequest(TelegramRequest):
    def __init__(self, per_second: float, paid_per_second: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.free = Lane(per_second)
        self.paid = Lane(paid_per_second) if paid_per_second else None

    def share(self, replicas: int, free_senders: int | None = None) -> None:
        """Pace at 1/`replicas` of the bot's limits: that many replicas send for it; the free lane at
        1/`free_senders` when fewer send free messages (polling without paid broadcast: the leader alone)."""
        self.free.share(replicas if free_senders is None else free_senders)
        if self.paid is not None:
            self.paid.share(replicas)

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: ODVInput[float] = DEFAULT_NONE, write_timeout: ODVInput[float] = DEFAULT_NONE,
                         connect_timeout: ODVInput[float] = DEFAULT_NONE, pool_timeout: ODVInput[float] = DEFAULT_NONE,
                         ) -> tuple[int, bytes]:
        kwargs = {"read_timeout": read_timeout, "write_timeout": write_timeout, "connect_timeout": connect_timeout,
                  "pool_timeout": pool_timeout}
        if url.rsplit("/", 1)[-1].startswith("send"):
            await (self.paid if self.paid is not None and is_paid(request_data) else self.free).wait()
        return await super().do_request(url, method, request_data, **kwargs)
