"""What the handlers and jobs share, built once at start and passed down (no module-level state)."""

from __future__ import annotations

from typing import Any, TYPE_CHECKING

import asyncio
import functools
import logging
import signal
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

from bot.runtime.config import AppConfig
from bot.delivery.drain import Deliverer
from bot.runtime.feeds import DataFeed
from bot.runtime.readings import Readings
from bot.runtime.schedule import SessionCalendar, human_time
from bot.storage import Store
from bot.telegram.state import BotState
from bot.runtime.tick import TickResult, run_tick
from bot.runtime.worker import abandonable
from signals.errors import Cancelled
from signals.engine import MetricsEngine
from signals.metrics import Metrics
from signals.settings import DetectorSettings
from signals.signal import Signal

if TYPE_CHECKING:  # annotations only (the runtime may import any layer: it is the top)
    from bot.delivery.pacing import PacedRequest
    from bot.telegram.listening import ListeningWatch


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """Built once by the runtime (`build_services`), before the Telegram side it is handed to; never
    reassigned. What changes while the bot runs is `state` (bot/telegram/state.py) and the metrics
    `readings` remembers."""

    config: AppConfig
    settings: DetectorSettings
    store: Store
    calendar: SessionCalendar
    feed: DataFeed
    engine: MetricsEngine  # remembers the costly part of history between ticks
    readings: Readings
    deliverer: Deliverer | None = None  # None: no sender; deliveries wait in the outbox for a bot that has one
    pacing: PacedRequest | None = None  # the sends' pacing (Telegram mode only)
    listening: ListeningWatch | None = None  # how polling is doing (Telegram mode only)
    state: BotState = field(default_factory=BotState)
    tick_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ticked: asyncio.Event = field(default_factory=asyncio.Event)  # set once a tick has finished
    stop_requested: threading.Event = field(default_factory=threading.Event)  # SIGINT/SIGTERM came (cancel)

    def cancel(self) -> None:
        """A stop was asked (Ctrl-C, SIGTERM): a refresh stops at its next batch, and a tick that waits on a
        hanging network is left behind within seconds (bot/runtime/worker.py)."""
        self.stop_requested.set()
        self.feed.cancel()

    def stop_on_signals(self) -> asyncio.Event:
        """SIGINT/SIGTERM on the running loop: no new sends, a tick left behind if it hangs, and `stop` set
        (the event returned) for a loop that runs the Application by hand (a replica, a webhook)."""
        stop = self.state.stop = asyncio.Event()

        def stopping() -> None:
            log.info("stopping: finishing the sends in flight")
            self.cancel()
            if self.deliverer is not None:
                self.deliverer.stop()
            stop.set()

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping)
        return stop

    def is_admin(self, chat_id: int | None) -> bool:
        return chat_id is not None and chat_id in self.config.admin_chat_ids

    @property
    def offline(self) -> bool:
        return not self.feed.live

    def expected_session(self) -> str | None:
        """For live data, the last session that has closed (+ delay): its bar should be there."""
        if not self.feed.live:
            return None
        due = self.calendar.last_due(datetime.now(timezone.utc))
        return due.session if due else None

    async def tick(self, trigger: str, as_of: str | None = None, expected_session: str | None = None,
                   deliver: bool = True) -> TickResult | None:
        """Run one tick off the event loop, then deliver (unless `deliver` is False: others send what it
        queued); None when a tick is already running.

        Without `as_of`, live data is checked against the expected session (stale rules apply).
        """
        if self.tick_lock.locked():
            return None
        if expected_session is None and as_of is None:
            expected_session = self.expected_session()
        async with self.tick_lock:
            try:
                result = await abandonable(functools.partial(
                    run_tick, self.store, self.feed, self.settings, as_of, trigger, expected_session, self.engine,
                    self.config.outbox_retention_days), self.stop_requested, name="tick")
            except Cancelled:
                raise
            except Exception as exc:  # kept in memory as well: a full disk cannot record it in the runs table
                self.state.last_failure = (datetime.now(timezone.utc).isoformat(), f"{type(exc).__name__}: {exc}")
                raise
            finally:
                self.ticked.set()  # whoever waits for a first picture gets an answer either way
                await asyncio.to_thread(self.store.beat, "ticked")  # `health`: the start is over
            self.state.last_failure = None
        if result.metrics is not None:
            self.readings.remember(result.metrics)
        if deliver and self.deliverer is not None:
            await self.deliverer.drain()
        return result

    def first_reading_note(self, now: datetime | None = None) -> str:
        """What a command asked before the first reading answers: when it is expected, in words."""
        if self.tick_lock.locked():
            return ("No reading yet: the first evaluation is running now (a first start downloads the history, "
                    "which can take a few minutes). Ask again in a minute.")
        if self.state.last_failure is not None:
            return ("No reading yet: the first evaluation failed; it runs again at the next scheduled run. "
                    "/status has the details.")
        due = self.calendar.next_due(now or datetime.now(timezone.utc))
        when = f"after the {due.session} close, about {human_time(due.at)}" if due else "at the next scheduled run"
        return f"No reading yet: the first is due {when}. /status shows the bot's state."

    async def snapshot(self, wait_seconds: float = 120.0) -> dict[str, Any] | None:
        """The latest stored metrics; right after a start, waits for the first tick rather than say "none yet"."""
        snapshot = await asyncio.to_thread(self.store.latest_snapshot)
        if snapshot is None and not self.ticked.is_set():
            try:
                await asyncio.wait_for(self.ticked.wait(), wait_seconds)
            except TimeoutError:
                return None
            snapshot = await asyncio.to_thread(self.store.latest_snapshot)
        return snapshot

    async def history(self, count: int) -> tuple[list[Signal], dict[str, Any]] | None:
        """The `count` most recent signals and the snapshot their records come from. Asked right after a
        start it waits for the first tick, as `snapshot` does: the history that tick records (a fresh bot
        finds hundreds of signals in the data) is the answer, not "no signals yet". None: no reading yet."""
        snapshot = await self.snapshot()
        if snapshot is None:
            return None
        return await asyncio.to_thread(self.store.recent_signals, count), snapshot

    async def chart(self, name: str) -> tuple[str, bytes] | None:
        return await self.readings.chart(name)

    async def latest_metrics(self) -> Metrics | None:
        return await self.readings.latest_metrics()

    def close(self) -> None:
        self.feed.close()
        self.store.close()
