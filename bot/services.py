"""What the handlers and jobs share, built once at start and passed down (no module-level state)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from bot.config import AppConfig
from bot.delivery import Deliverer
from bot.schedule import SessionCalendar
from bot.store import Store
from bot.tick import TickResult, run_tick
from signals.errors import RotationError
from signals.market_data import MarketData
from signals.settings import DetectorSettings
from signals.sources.folder import load_folder

log = logging.getLogger(__name__)


@dataclass
class Services:
    config: AppConfig
    settings: DetectorSettings
    store: Store
    calendar: SessionCalendar
    deliverer: Deliverer | None  # None: no Telegram; deliveries wait in the outbox for a bot that has one
    load_data: Callable[[], MarketData]
    tick_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def is_admin(self, chat_id: int | None) -> bool:
        return chat_id is not None and chat_id in self.config.admin_chat_ids

    @property
    def offline(self) -> bool:
        return self.config.rotation_data is not None

    async def tick(self, trigger: str, as_of: str | None = None) -> TickResult | None:
        """Run one tick off the event loop, then deliver; None when a tick is already running."""
        if self.tick_lock.locked():
            return None
        async with self.tick_lock:
            result = await asyncio.to_thread(run_tick, self.store, self.load_data, self.settings, as_of, trigger)
        if self.deliverer is not None:
            await self.deliverer.drain()
        return result


def data_loader(config: AppConfig) -> Callable[[], MarketData]:
    """The market data source of the configuration (the offline folder in this version)."""
    folder = config.rotation_data

    def load() -> MarketData:
        if folder is None:
            raise RotationError(
                "no market data source: set ROTATION_DATA to a data folder "
                "(the live Yahoo Finance source is not part of this version yet)"
            )
        return load_folder(folder)

    return load
