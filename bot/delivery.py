"""Draining the outbox: every pending delivery sent once, within Telegram's limits, nothing lost.

Sending sits behind the small `Sender` seam (like an httpx transport): the Telegram sender maps
python-telegram-bot's errors onto the few outcomes delivery cares about, and tests use a fake.

Outcomes of one attempt:
- sent: marked sent at once (a crash between sending and marking resends only that message);
- rate limited (`RetryAfter` past the limiter's own retries): retried after the wait, not counted;
- transient (network, timeout, 5xx): retried with exponential backoff, failed after `max_attempts`;
- chat gone (403, chat not found): the chat is deactivated and its pending deliveries cancelled;
- chat moved (a group became a supergroup): the chat keeps everything under its new id, and the
  message is sent there.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol

from bot.messages import signal_message, split_message
from bot.store import Delivery, Store

log = logging.getLogger(__name__)


class SendError(Exception):
    """Base of the outcomes a sender reports instead of its library's exceptions."""


class RateLimited(SendError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"rate limited for {seconds:g} s")
        self.seconds = seconds


class ChatGone(SendError):
    """The bot was blocked or removed, or the chat does not exist: stop sending there."""


class ChatMoved(SendError):
    def __init__(self, new_chat_id: int) -> None:
        super().__init__(f"chat migrated to {new_chat_id}")
        self.new_chat_id = new_chat_id


class Transient(SendError):
    """Worth retrying later: network trouble, a timeout, a server error."""


class Sender(Protocol):
    async def send(self, chat_id: int, text: str) -> None: ...


@dataclass
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deactivated_chats: int = 0
    errors: list[str] = field(default_factory=list)


class Deliverer:
    def __init__(
        self,
        store: Store,
        sender: Sender,
        max_attempts: int = 8,
        backoff_seconds: float = 2.0,
        backoff_cap_seconds: float = 600.0,
        concurrency: int = 16,
    ) -> None:
        self.store = store
        self.sender = sender
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.backoff_cap_seconds = backoff_cap_seconds
        self.concurrency = concurrency
        self._lock = asyncio.Lock()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def drain(self) -> DrainReport:
        """Send everything due now; one drain at a time (a second caller waits, then finds less to do)."""
        report = DrainReport()
        async with self._lock:
            while True:
                due = await asyncio.to_thread(self.store.due_deliveries, None, 1000)
                if not due:
                    break
                by_chat: dict[int, list[Delivery]] = defaultdict(list)
                for delivery in due:
                    by_chat[delivery.chat_id].append(delivery)
                gate = asyncio.Semaphore(self.concurrency)
                results = await asyncio.gather(*(self._send_chat(items, gate, report) for items in by_chat.values()))
                if not any(results):
                    break  # nothing was sent this round: what remains waits for its retry time
        return report

    async def _send_chat(self, deliveries: list[Delivery], gate: asyncio.Semaphore, report: DrainReport) -> bool:
        """One chat's deliveries in order; stops at the first that cannot go out now."""
        progressed = False
        async with gate:
            for delivery in deliveries:
                outcome = await self._attempt(delivery, report)
                progressed = progressed or outcome
                if not outcome:
                    break
        return progressed

    async def _attempt(self, delivery: Delivery, report: DrainReport) -> bool:
        chat_id = delivery.chat_id
        try:
            for part in split_message(signal_message(delivery.signal)):
                try:
                    await self.sender.send(chat_id, part)
                except ChatMoved as moved:
                    await asyncio.to_thread(self.store.migrate_chat, chat_id, moved.new_chat_id)
                    chat_id = moved.new_chat_id
                    await self.sender.send(chat_id, part)
        except RateLimited as limited:
            report.retried += 1
            self.store.mark_retry(delivery.id, str(limited), _later(limited.seconds), count_attempt=False)
            return False
        except ChatGone as gone:
            report.deactivated_chats += 1
            report.errors.append(f"chat {chat_id}: {gone}")
            self.store.deactivate_chat(chat_id, f"undeliverable: {gone}")
            log.warning("chat %s deactivated: %s", chat_id, gone)
            return False
        except (Transient, ChatMoved) as error:
            if delivery.attempts + 1 >= self.max_attempts:
                report.failed += 1
                report.errors.append(f"chat {chat_id}: {error}")
                self.store.mark_failed(delivery.id, str(error))
                log.error("delivery %s to chat %s failed after %d attempts: %s",
                          delivery.id, chat_id, delivery.attempts + 1, error)
            else:
                report.retried += 1
                wait = min(self.backoff_cap_seconds, self.backoff_seconds * 2 ** delivery.attempts)
                self.store.mark_retry(delivery.id, str(error), _later(wait))
            return False
        self.store.mark_sent(delivery.id)
        report.sent += 1
        return True


def _later(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")
