"""Draining the outbox: every pending delivery sent within Telegram's limits, nothing lost.

Sending sits behind the small `Sender` seam (like an httpx transport): the Telegram sender maps
python-telegram-bot's errors onto the outcome classes below, and tests use a fake. This module is
the one place that decides what an answer leads to; README's delivery table says the same.

The promise, kept here and nowhere else: each part of a delivery reaches its chat once, except
when Telegram's answer to a send is lost (`Ambiguous`): then it is sent again, at most
`lost_answer_retries` more times, so one part reaches a chat at most three times by default.
Only the replica that holds a row's claim sends it and records its outcome: a claim lasts
`lease_seconds` and is renewed right before each send, and a row whose claim ran out and passed
to another replica is left to that replica (`Store.hold`).

What Telegram answered decides, never what we hoped: only Telegram's own JSON saying `ok` counts
as sent. An alert is worth sending for a while (`worth_sending`, default 24 hours after the close of
the session it reports, or after it was queued if a catch-up queued it later); every answer that
may change with time (5xx, 429, timeouts, no connection, a proxy's page) is retried with backoff
capped at `backoff_cap_seconds` for as long as that lasts. Past it the alert is `expired`: admins
are told, `/stats` counts it. State is kept per message part, so a split alert whose second part
failed resends only the second.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable, Protocol
from zoneinfo import ZoneInfo

from bot.delivery.outgoing import Composer, Part, TextComposer
from bot.storage import Delivery, Store

log = logging.getLogger(__name__)
NEW_YORK = ZoneInfo("America/New_York")
SESSION_CLOSE = time(16, 0)


class SendError(Exception):
    """Base of the outcomes a sender reports instead of its library's exceptions."""


class RateLimited(SendError):
    """429: Telegram said how long to wait. Retried after the wait, not counted as an attempt."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"rate limited for {seconds:g} s")
        self.seconds = seconds


class ChatGone(SendError):
    """403, chat not found: the bot was blocked or removed. The chat is deactivated."""


class ChatMoved(SendError):
    """A group became a supergroup: the chat keeps everything under its new id."""

    def __init__(self, new_chat_id: int) -> None:
        super().__init__(f"chat migrated to {new_chat_id}")
        self.new_chat_id = new_chat_id


class Transient(SendError):
    """Telegram answered with an error that time may fix (5xx), or a timeout before anything was sent."""


class Unreachable(Transient):
    """No connection to Telegram at all: nothing was sent. Retried, not counted as an attempt."""


class NotTelegram(Transient):
    """A 2xx whose body is not Telegram's JSON: a proxy or a captive portal answered. Nothing was
    delivered (Telegram always answers JSON), so it is retried like a server error."""


class Ambiguous(SendError):
    """The answer was lost after the request left (a dropped connection, a read timeout): Telegram
    may have sent it, or not (a connection dropped before Telegram read it looks the same). Retried
    `lost_answer_retries` (2) times; the next lost answer for the same part counts as delivered
    (recorded `unconfirmed`), so one part reaches a chat at most three times, and is lost only when
    three answers in a row were lost before Telegram saw the request."""


class Permanent(SendError):
    """400 that no retry fixes (bad HTML, too long): failed at once, with the reason."""


class Sender(Protocol):
    async def send(self, chat_id: int, part: Part) -> None: ...


@dataclass
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0
    unconfirmed: int = 0
    deactivated_chats: int = 0
    ambiguous: int = 0
    unreachable: int = 0
    handed_over: int = 0  # rows whose claim another replica holds now: left to it, not sent from here
    errors: list[str] = field(default_factory=list)
    expired_sessions: set[str] = field(default_factory=set)


def worth_until(delivery: Delivery, window: timedelta) -> datetime:
    """The last moment the alert is still news: `window` after its session closed, or after it was
    queued when that came later (a restart catching up missed sessions queues old ones fresh)."""
    session = date.fromisoformat(delivery.signal.date[:10])
    closed = datetime.combine(session, SESSION_CLOSE, NEW_YORK).astimezone(timezone.utc)
    queued = datetime.fromisoformat(delivery.queued_at) if delivery.queued_at else closed
    return max(closed, queued) + window


CONCURRENCY = 16  # sends in flight at once: a free broadcast's rate at a round trip of ~500 ms


class Deliverer:
    def __init__(
        self,
        store: Store,
        sender: Sender,
        worth_sending: timedelta = timedelta(hours=24),
        backoff_seconds: float = 2.0,
        backoff_cap_seconds: float = 60.0,
        concurrency: int = CONCURRENCY,
        composer: Composer | None = None,
        clock: Callable[[], datetime] | None = None,
        lost_answer_retries: int = 2,
        lease_seconds: float = 300.0,
        claim_limit: int = 1000,
    ) -> None:
        self.store = store
        self.sender = sender
        self.composer = composer or TextComposer()
        self.worth_sending = worth_sending
        self.backoff_seconds = backoff_seconds
        self.backoff_cap_seconds = backoff_cap_seconds
        self.concurrency = concurrency
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.lost_answer_retries = lost_answer_retries
        self.lease_seconds = lease_seconds
        self.claim_limit = claim_limit
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
                due = await asyncio.to_thread(self.store.due_deliveries, self._stamp(), self.claim_limit,
                                              self.lease_seconds)
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

        Before each, the claim on it and on the chat's rows after it is renewed: a row no longer
        held (its claim ran out and another replica took it) ends this chat's turn here, so the
        holder sends it and what follows, in order. The rows after a stop were claimed with it:
        their claim is released, so they wait behind it rather than for the claim to run out.
        """
        progressed = False
        async with gate:
            for position, delivery in enumerate(deliveries):
                rest = [d.id for d in deliveries[position + 1:]]
                outcome = False
                if not self._stopping:
                    held = await asyncio.to_thread(self.store.hold, [delivery.id, *rest], self._stamp(),
                                                   self.lease_seconds)
                    if delivery.id in held:
                        outcome = await self._attempt(delivery, report)
                    else:
                        report.handed_over += 1
                        log.info("delivery %s to chat %s is held by another replica now: left to it", delivery.id,
                                 delivery.chat_id)
                progressed = progressed or outcome
                if not outcome:
                    if rest:
                        await asyncio.to_thread(self.store.release_leases, rest)
                    break
        return progressed

    async def _attempt(self, delivery: Delivery, report: DrainReport) -> bool:
        """One try at a delivery; True when it is settled (sent, failed, expired) and the chat may move on."""
        if self._now() > worth_until(delivery, self.worth_sending):
            await self._expire(delivery, delivery.last_error or "not sent in time", report)
            return True
        chat_id = delivery.chat_id
        parts = await self.composer.compose(delivery)
        sent_parts = delivery.parts_sent
        lost_answers = delivery.ambiguous  # answers lost for the part at `parts_sent`
        unconfirmed = None
        try:
            for number, part in enumerate(parts):
                if number < sent_parts:
                    continue  # accepted at an earlier attempt
                try:
                    chat_id = await self._send_part(delivery, chat_id, part)
                except Ambiguous as unclear:
                    if lost_answers < self.lost_answer_retries:
                        raise
                    unconfirmed = f"unconfirmed: {lost_answers + 1} answers lost after sending ({unclear})"
                sent_parts, lost_answers = number + 1, 0
                if sent_parts < len(parts) and not await asyncio.to_thread(self.store.mark_part_sent, delivery.id,
                                                                            sent_parts):
                    report.handed_over += 1
                    log.warning("delivery %s lost its claim after part %s of %s: its holder sends the rest",
                                delivery.id, sent_parts, len(parts))
                    return False
        except RateLimited as limited:
            return await self._retry(delivery, str(limited), limited.seconds, report, count=False)
        except ChatGone as gone:
            report.deactivated_chats += 1
            report.errors.append(f"chat {chat_id}: {gone}")
            await asyncio.to_thread(self.store.deactivate_chat, chat_id, f"undeliverable: {gone}")
            log.warning("chat %s deactivated: %s", chat_id, gone)
            return False
        except Permanent as refused:
            await self._fail(delivery, chat_id, f"refused by Telegram: {refused}", report)
            return True  # settled: the chat's next message is free to go
        except Ambiguous as unclear:
            report.ambiguous += 1
            return await self._retry(delivery, f"ambiguous: {unclear}", self.backoff_seconds, report, count=True,
                                     ambiguous=True)
        except Unreachable as down:
            report.unreachable += 1
            return await self._retry(delivery, f"unreachable: {down}", self._backoff(delivery), report, count=False)
        except Exception as error:  # Transient, NotTelegram, ChatMoved twice, or anything unexpected
            if not isinstance(error, (Transient, ChatMoved)):
                log.warning("unexpected error sending delivery %s: %s: %s", delivery.id, type(error).__name__, error)
            reason = str(error) if isinstance(error, SendError) else f"{type(error).__name__}: {error}"
            return await self._retry(delivery, reason, self._backoff(delivery), report, count=True)
        if unconfirmed:
            report.unconfirmed += 1
        await self._mark_sent(delivery, report, note=unconfirmed)
        return True

    async def _send_part(self, delivery: Delivery, chat_id: int, part: Part) -> int:
        """Send one part; returns the chat id it went to (a migrated group has a new one)."""
        try:
            await self.sender.send(chat_id, part)
        except ChatMoved as moved:
            await asyncio.to_thread(self.store.migrate_chat, chat_id, moved.new_chat_id)
            chat_id = moved.new_chat_id
            await self.sender.send(chat_id, part)
        return chat_id

    def _backoff(self, delivery: Delivery) -> float:
        return min(self.backoff_cap_seconds, self.backoff_seconds * 2 ** min(delivery.attempts, 16))

    async def _retry(self, delivery: Delivery, reason: str, wait: float, report: DrainReport, *, count: bool,
                     ambiguous: bool = False) -> bool:
        """Try again after `wait`, unless that is past the alert's window: then it has expired."""
        at = self._now() + timedelta(seconds=wait)
        if at > worth_until(delivery, self.worth_sending):
            await self._expire(delivery, reason, report)
            return True
        report.retried += 1
        if not await asyncio.to_thread(self.store.mark_retry, delivery.id, reason,
                                       at.isoformat(timespec="microseconds"), count, ambiguous):
            log.info("delivery %s changed hands before its retry was recorded: its holder retries it", delivery.id)
        return False

    async def _mark_sent(self, delivery: Delivery, report: DrainReport, note: str | None = None) -> None:
        if await asyncio.to_thread(self.store.mark_sent, delivery.id, note):
            report.sent += 1
        else:  # another drain, or an unsubscribe, got to the row first: nothing to count
            log.debug("delivery %s was no longer pending", delivery.id)

    async def _fail(self, delivery: Delivery, chat_id: int, reason: str, report: DrainReport) -> None:
        if not await asyncio.to_thread(self.store.mark_failed, delivery.id, reason):
            return  # settled or handed over meanwhile: its holder's outcome stands
        report.failed += 1
        report.errors.append(f"chat {chat_id}: {reason}")
        log.error("delivery %s to chat %s failed: %s", delivery.id, chat_id, reason)

    async def _expire(self, delivery: Delivery, reason: str, report: DrainReport) -> None:
        if not await asyncio.to_thread(self.store.mark_expired, delivery.id, f"expired: {reason}"):
            return
        report.expired += 1
        report.expired_sessions.add(delivery.signal.date)
        log.warning("delivery %s to chat %s expired (%s of %s, no longer news): %s", delivery.id, delivery.chat_id,
                    delivery.signal.key, delivery.signal.date, reason)

    def _now(self) -> datetime:
        return self.clock()

    def _stamp(self) -> str:
        return self._now().isoformat(timespec="microseconds")
