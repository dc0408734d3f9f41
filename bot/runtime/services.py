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
from bot.runtime.schedule import SessionCalendar, human_time
from bot.storage import Store
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
    from bot.webapp.server import Dashboard


log = logging.getLogger(__name__)


@dataclass
class Services:
    config: AppConfig
    settings: DetectorSettings
    store: Store
    calendar: SessionCalendar
    deliverer: Deliverer | None  # None: no Telegram; deliveries wait in the outbox for a bot that has one
    feed: DataFeed
    tick_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    engine: MetricsEngine = field(init=False)  # remembers the costly part of history between ticks
    latest: Metrics | None = None  # the last tick's metrics, for charts drawn on demand
    chart_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ticked: asyncio.Event = field(default_factory=asyncio.Event)  # set once a tick has finished
    listening: ListeningWatch | None = None  # how polling is doing (Telegram mode only)
    pacing: PacedRequest | None = None  # the sends' pacing (Telegram mode only)
    last_failure: tuple[str, str] | None = None  # (when, why) of the last tick that failed, even unrecorded
    damage: list[str] = field(default_factory=list)  # what the last integrity check of the database found
    exit_reason: str | None = None  # set when the bot stops itself (Telegram refused polling for minutes)
    leading: bool = False  # this process polls and runs the schedule (always, on a file; one replica on a server)
    dashboard: Dashboard | None = None  # the Mini App's server, when WEBAPP_PORT is set
    stop: asyncio.Event | None = None  # a replica's stop (bot/runtime/replica.py); None: run_polling owns the loop
    stop_requested: threading.Event = field(default_factory=threading.Event)  # SIGINT/SIGTERM came (cancel)

    def __post_init__(self) -> None:
        self.engine = MetricsEngine(self.settings)

    def cancel(self) -> None:
        """A stop was asked (Ctrl-C, SIGTERM): a refresh stops at its next batch, and a tick that waits on a
        hanging network is left behind within seconds (bot/runtime/worker.py)."""
        self.stop_requested.set()
        self.feed.cancel()

    def stop_on_signals(self) -> asyncio.Event:
        """SIGINT/SIGTERM on the running loop: no new sends, a tick left behind if it hangs, and `stop` set
        (the event returned) for a loop that runs the Application by hand (a replica, a webhook)."""
        stop = self.stop = asyncio.Event()

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

    async def tick(self, trigger: str, as_of: str | None = None, expected_session: str | None = None
                   ) -> TickResult | None:
        """Run one tick off the event loop, then deliver; None when a tick is already running.

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
                self.last_failure = (datetime.now(timezone.utc).isoformat(), f"{type(exc).__name__}: {exc}")
                raise
            finally:
                self.ticked.set()  # whoever waits for a first picture gets an answer either way
                await asyncio.to_thread(self.store.beat, "ticked")  # `health`: the start is over
            self.last_failure = None
        self.latest = result.metrics
        if self.deliverer is not None:
            await self.deliverer.drain()
        return result

    def first_reading_note(self, now: datetime | None = None) -> str:
        """What a command asked before the first reading answers: when it is expected, in words."""
        if self.tick_lock.locked():
            return ("No reading yet: the first evaluation is running now (a first start downloads the history, "
                    "which can take a few minutes). Ask again in a minute.")
        if self.last_failure is not None:
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
        """The chart of the latest evaluated session: drawn once per session, when first asked.

        Drawing takes about a third of a second, so ticks do not draw charts nobody asks for; the
        PNG is stored, so later asks (and restarts) send the bytes. None before any evaluation.
        """
        snapshot = await asyncio.to_thread(self.store.latest_snapshot)
        if snapshot is None:
            return None
        as_of = snapshot["as_of"]
        stored = await asyncio.to_thread(self.store.chart, name)
        if stored is not None and stored[0] == as_of:
            return stored
        async with self.chart_lock:  # a burst of /chart asks draws once
            stored = await asyncio.to_thread(self.store.chart, name)
            if stored is not None and stored[0] == as_of:
                return stored
            png = await asyncio.to_thread(self._draw, name, as_of)
            await asyncio.to_thread(self.store.save_chart, name, as_of, png)
            return as_of, png

    async def latest_metrics(self) -> Metrics | None:
        """The metrics of the latest stored session (the dashboard's history): the last tick's, or
        computed again after a restart, once, off the loop."""
        snapshot = await asyncio.to_thread(self.store.latest_snapshot)
        if snapshot is None:
            return None
        async with self.chart_lock:
            metrics = self.latest
            if metrics is None or metrics.sessions[-1].strftime("%Y-%m-%d") != snapshot["as_of"]:
                as_of = snapshot["as_of"]
                metrics = await asyncio.to_thread(lambda: self.engine.compute(self.feed.load().as_of(as_of)))
                self.latest = metrics
            return metrics

    def _draw(self, name: str, as_of: str) -> bytes:
        from bot.presentation.charts import render_chart  # matplotlib is loaded only when a chart is drawn

        metrics = self.latest
        if metrics is None or metrics.sessions[-1].strftime("%Y-%m-%d") != as_of:
            metrics = self.engine.compute(self.feed.load().as_of(as_of))  # after a restart
        return render_chart(name, metrics, self.settings)

    def close(self) -> None:
        self.feed.close()
        self.store.close()
