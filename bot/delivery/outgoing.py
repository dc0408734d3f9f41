"""What one delivery looks like when it leaves: parts (a photo with a caption, texts), loud or silent.

The outbox stores what to say (a signal, a digest, a chat's own alert); this module decides how, at
send time: a topic's alert is its chart as a photo with the text as caption (Telegram allows 1,024
characters there; the rest follows as a reply), a digest is filtered to the chat's topics, inside
the chat's quiet hours every part goes out with `disable_notification`, and in a forum group every
part goes to the topic the chat's subscriptions were made in.

The split into parts depends only on the stored text, never on whether the chart could be drawn, so
a delivery resumed after a crash skips exactly the parts Telegram already accepted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Protocol

from bot.presentation.messages import CAPTION_LIMIT, MESSAGE_LIMIT, digest_message, signal_message, split_message
from bot.presentation.chart_keys import chart_for
from bot.storage import Delivery, Store

log = logging.getLogger(__name__)

ChartSource = Callable[[str], Awaitable["tuple[str, bytes] | None"]]


@dataclass(frozen=True)
class Part:
    text: str
    photo: bytes | None = None  # sent as a photo with `text` as its caption
    silent: bool = False  # disable_notification
    thread_id: int | None = None  # message_thread_id: the forum topic the chat's alerts go to


class Composer(Protocol):
    async def compose(self, delivery: Delivery) -> list[Part]: ...


def caption_parts(text: str) -> list[str]:
    """The caption (at most 1,024 characters, cut at a line) and what follows it in messages."""
    first, *rest = split_message(text, CAPTION_LIMIT)
    return [first, *split_message("\n".join(rest), MESSAGE_LIMIT)] if rest else [first]


class TextComposer:
    """Plain text parts: what a delivery says without charts or chat controls (and what tests use)."""

    async def compose(self, delivery: Delivery) -> list[Part]:
        return [Part(part) for part in split_message(signal_message(delivery.signal))]


class AlertComposer:
    """The running bot's composer: charts on topic alerts, digests per chat, quiet hours."""

    def __init__(self, store: Store, charts: ChartSource | None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.store = store
        self.charts = charts
        self.clock = clock

    async def compose(self, delivery: Delivery) -> list[Part]:
        signal = delivery.signal
        settings = await asyncio.to_thread(self.store.chat_settings, delivery.chat_id)
        silent = settings.quiet_at(self.clock())
        if signal.type == "digest":
            topics = await asyncio.to_thread(self.store.subscriptions, delivery.chat_id)
            parts = [Part(text) for text in split_message(digest_message(signal, topics))]
        elif chart_for(signal) is not None:
            texts = caption_parts(signal_message(signal))
            parts = [Part(texts[0], await self._chart(chart_for(signal))), *(Part(t) for t in texts[1:])]
        else:
            parts = [Part(text) for text in split_message(signal_message(signal))]
        return [replace(part, silent=silent, thread_id=settings.thread_id) for part in parts]

    async def _chart(self, name: str | None) -> bytes | None:
        """The topic's latest chart; None (the caption goes as text) if it cannot be drawn now."""
        if self.charts is None or name is None:
            return None
        try:
            drawn = await self.charts(name)
        except Exception as error:  # a chart must never hold an alert back
            log.warning("chart %s could not be drawn for an alert: %s: %s", name, type(error).__name__, error)
            return None
        return drawn[1] if drawn else None
