"""Draining the outbox: every pending delivery sent once, within Telegram's limits, nothing lost.

Sending sits behind the small `Sender` seam (like an httpx transport): the Telegram sender maps
python-telegram-bot's errors onto the few outcomes delivery cares about, and tests use a fake.

Outcomes of one attempt (state is kept per message part: a split alert whose second part failed
resends only the second):
- sent: each part is recorded as Telegram accepts it, the delivery once all are (a crash between
  sending and recording resends only what was in flight);
- rate limited (`RetryAfter` past the limiter's own retries): retried after the wait, not counted;
- unreachable (no connection to Telegram at all): retried with capped backoff and *not* counted, so
  an outage of an hour loses nothing; admins are told once when alerts wait too long;
- transient (5xx, a timeout before anything was sent): retried with exponential backoff, failed
  after `max_attempts`;
- accepted but unreadable (a 2xx answer whose body is not JSON, a proxy's page): Telegram took it,
  so it is recorded as sent (with a note) and never sent again;
- ambiguous (a connection dropped before the answer, a read timeout: Telegram may or may not have
  sent it): retried; the first such retry is free, later ones count as attempts. Losing an alert is
  worse than a rare second copy, so each duplicate stands for an answer lost after Telegram sent;
- permanent (a 400 that no retry can fix: bad HTML, a message too long): failed at once, with why;
- chat gone (403, chat not found): the chat is deactivated and its pending deliveries cancelled;
- chat moved (a group became a supergroup): the chat keeps everything under its new id, and the
  message is sent there.
An error the sender does not know is treated as transient: it never aborts a drain.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol

from bot.outgoing import Composer, Part, TextComposer
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
    """Worth retrying later: a server error, a timeout before anything was sent."""


class Unreachable(Transient):
    """No connection to Telegram at all: nothing was sent, and waiting is all one can do."""


class Ambiguous(SendError):
    """Telegram may have acted on it (an unreadable answer, a read timeout): resending may duplicate."""


class AcceptedUnreadable(SendError):
    """Telegram answered 2xx (it sent the message) but the answer could not be read."""


class Permanent(SendError):
    """Telegram refused this message for good (bad HTML, too long): retrying cannot help."""


class Sender(Protocol):
    async def send(self, chat_id: int, part: Part) -> None: ...


@dataclass
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deactivated_chats: int = 0
    ambiguous: int = 0
    unreachable: int = 0
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
        unreachable_cap_seconds: float = 60.0,
        composer: Composer | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.composer = composer or TextComposer()
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.backoff_cap_seconds = backoff_cap_seconds
        self.concurrency = concurrency
        self.unreachable_cap_seconds = unreachable_cap_seconds
        self._stopping = False
        self._lock = asyncio.Lock()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def stop(self) -> None:
        """Finish the sends in flight, start no new one: a shutdown must not wait for 2,000 messages."""
        self._stopping = True

    async def drain(self) -> DrainReport:
        """Send everything due now; one drain at a time (a second caller waits, then finds less to do)."""
        report = DrainReport()
        async with self._lock:
            while not self._stopping:
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
        """One chat's deliveries in order; stops at the first that cannot go out now.

        The rows after it were claimed with it: their claim is released, so they wait behind it
        (in order) rather than for the claim to run out.
        """
        progressed = False
        async with gate:
            for position, delivery in enumerate(deliveries):
                outcome = False if self._stopping else await self._attempt(delivery, report)
                progressed = progressed or outcome
                if not outcome:
                    rest = [d.id for d in deliveries[position + 1:]]
                    if rest:
                        await asyncio.to_thread(self.store.release_leases, rest)
                    break
        return progressed

    async def _attempt(self, delivery: Delivery, report: DrainReport) -> bool:
        chat_id = delivery.chat_id
        parts = await self.composer.compose(delivery)
        sent_parts = delivery.parts_sent
        try:
            for number, part in enumerate(parts):
                if number < sent_parts:
                    continue  # accepted at an earlier attempt
                try:
                    await self.sender.send(chat_id, part)
                except ChatMoved as moved:
                    await asyncio.to_thread(self.store.migrate_chat, chat_id, moved.new_chat_id)
                    chat_id = moved.new_chat_id
                    await self.sender.send(chat_id, part)
                sent_parts = number + 1
                if sent_parts < len(parts):
                    await asyncio.to_thread(self.store.mark_part_sent, delivery.id, sent_parts)
        except RateLimited as limited:
            report.retried += 1
            await asyncio.to_thread(self.store.mark_retry, delivery.id, str(limited), _later(limited.seconds), False)
            return False
        except ChatGone as gone:
            report.deactivated_chats += 1
            report.errors.append(f"chat {chat_id}: {gone}")
            await asyncio.to_thread(self.store.deactivate_chat, chat_id, f"undeliverable: {gone}")
            log.warning("chat %s deactivated: %s", chat_id, gone)
            return False
        except Permanent as refused:
            await self._fail(delivery, chat_id, f"refused by Telegram: {refused}", report)
            return True  # settled: the chat's next message is free to go
        except AcceptedUnreadable as unreadable:
            await self._mark_sent(delivery, report, note=f"sent; the answer was unreadable: {unreadable}")
            return True
        except Ambiguous as unclear:
            if delivery.ambiguous >= 1 and delivery.attempts + 1 >= self.max_attempts:
                await self._fail(delivery, chat_id, f"ambiguous answers: {unclear}", report)
                return False
            report.retried += 1
            report.ambiguous += 1
            await asyncio.to_thread(self.store.mark_retry, delivery.id, f"ambiguous: {unclear}",
                                    _later(self.backoff_seconds), delivery.ambiguous >= 1, True)
            return False
        except Unreachable as down:
            report.retried += 1
            report.unreachable += 1
            wait = min(self.unreachable_cap_seconds, self.backoff_seconds * 2 ** min(delivery.attempts, 10))
            await asyncio.to_thread(self.store.mark_retry, delivery.id, f"unreachable: {down}", _later(wait), False)
            return False
        except Exception as error:  # Transient, ChatMoved twice, or anything the sender did not expect
            if not isinstance(error, (Transient, ChatMoved)):
                log.warning("unexpected error sending delivery %s: %s: %s", delivery.id, type(error).__name__, error)
            reason = str(error) if isinstance(error, SendError) else f"{type(error).__name__}: {error}"
            if delivery.attempts + 1 >= self.max_attempts:
                await self._fail(delivery, chat_id, reason, report)
            else:
                report.retried += 1
                wait = min(self.backoff_cap_seconds, self.backoff_seconds * 2 ** delivery.attempts)
                await asyncio.to_thread(self.store.mark_retry, delivery.id, reason, _later(wait))
            return False
        await self._mark_sent(delivery, report)
        return True

    async def _mark_sent(self, delivery: Delivery, report: DrainReport, note: str | None = None) -> None:
        if await asyncio.to_thread(self.store.mark_sent, delivery.id, note):
            report.sent += 1
        else:  # another drain, or an unsubscribe, got to the row first: nothing to count
            log.debug("delivery %s was no longer pending", delivery.id)

    async def _fail(self, delivery: Delivery, chat_id: int, reason: str, report: DrainReport) -> None:
        report.failed += 1
        report.errors.append(f"chat {chat_id}: {reason}")
        await asyncio.to_thread(self.store.mark_failed, delivery.id, reason)
        log.error("delivery %s to chat %s failed after %d attempts: %s", delivery.id, chat_id,
                  delivery.attempts + 1, reason)


def _later(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")
