"""What a run needs, built in one place and once: the store (checked), the data feed, the engine, the
deliverer and, with a token, the Telegram side, wired before anything starts so that nothing is
assigned after construction (`Services` is frozen)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.delivery.drain import CONCURRENCY, Deliverer, Sender
from bot.delivery.outgoing import AlertComposer
from bot.runtime.config import AppConfig
from bot.runtime.feeds import DataFeed, data_feed
from bot.runtime.readings import Readings
from bot.runtime.schedule import SessionCalendar
from bot.runtime.services import Services
from bot.storage import damage_line, open_store
from signals.engine import MetricsEngine
from signals.errors import RotationError
from signals.settings import load_detector_settings

if TYPE_CHECKING:  # the Telegram side is imported only by runs that talk to Telegram
    from bot.telegram.application import TelegramParts
    from bot.telegram.chat_io import BotApplication

log = logging.getLogger(__name__)


def build_services(config: AppConfig, feed: DataFeed | None = None, telegram: TelegramParts | None = None,
                   sender: Sender | None = None, charts_on_alerts: bool = True) -> Services:
    """What a run needs, built once, on the configured data feed (or `feed`: the demo's replay of the
    sample). Deliveries go through `sender` (the demo's console), else `telegram`'s; with neither they
    wait in the outbox for a bot that has one."""
    settings = load_detector_settings(config.rotation_config)
    store = open_store(config.database, replica=config.replica)
    damage = store.integrity()
    if damage:  # never run on a damaged store: alerts could be lost or sent twice without anyone knowing
        store.close()
        raise RotationError(damage_line(config.database_name, damage))
    # rows a killed process (this replica's last life, or a replica that died) had claimed go out again
    released = store.release_orphaned_leases()
    if released:
        log.warning("%d deliveries were in flight when the last run stopped; they go out again now", released)
    feed = feed if feed is not None else data_feed(config)
    engine = MetricsEngine(settings)
    readings = Readings(store, feed, settings, engine)
    sender = sender if sender is not None else telegram.sender if telegram is not None else None
    deliverer = None
    if sender is not None:
        composer = AlertComposer(store, readings.chart if charts_on_alerts else None)
        deliverer = Deliverer(store, sender, composer=composer,
                              worth_sending=timedelta(hours=config.delivery_window_hours),
                              concurrency=telegram.concurrency if telegram is not None else CONCURRENCY)
    return Services(config, settings, store, SessionCalendar(config.evaluation_delay_minutes), feed, engine, readings,
                    deliverer, pacing=telegram.pacing if telegram is not None else None,
                    listening=telegram.listening if telegram is not None else None)


def build_bot(config: AppConfig) -> tuple[Services, BotApplication]:
    """The services and the Telegram Application that answers with them (built offline: nothing is asked
    of Telegram until the Application starts)."""
    from bot.telegram.application import build_telegram, serve

    telegram = build_telegram(config)
    services = build_services(config, telegram=telegram)
    return services, serve(telegram, services)
