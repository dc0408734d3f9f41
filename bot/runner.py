"""`rotation-bot run` and `evaluate`: wiring the configuration into a running bot or one tick."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import datetime, timezone

from bot.config import AppConfig
from bot.instance_lock import InstanceLock
from bot.schedule import SessionCalendar
from bot.feeds import data_feed
from bot.services import Services
from bot.store import Store
from bot.tick import TickResult
from signals.settings import load_detector_settings

log = logging.getLogger(__name__)


def build_services(config: AppConfig) -> Services:
    settings = load_detector_settings(config.rotation_config)
    store = Store(config.database_path)
    return Services(
        config=config,
        settings=settings,
        store=store,
        calendar=SessionCalendar(config.evaluation_delay_minutes),
        deliverer=None,
        feed=data_feed(config),
    )


def run_bot(config: AppConfig) -> int:
    """Long polling with the schedule; without a token, the same schedule printing to the console."""
    with InstanceLock(config.database_path):
        services = build_services(config)
        try:
            if config.telegram_bot_token is None:
                print("No TELEGRAM_BOT_TOKEN set: running the schedule without Telegram; alerts are printed here.",
                      flush=True)
                asyncio.run(run_console(services))
                return 0
            from bot.app import build_application

            application = build_application(services)
            application.run_polling(stop_signals=(signal.SIGINT, signal.SIGTERM), close_loop=True)
            return 0
        finally:
            services.close()


async def run_console(services: Services) -> None:
    """The console schedule: tick now if a session is unevaluated, then after every close."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    services.store.abandon_unfinished_runs()
    await _console_tick(services)
    while not stop.is_set():
        due = services.calendar.next_due(datetime.now(timezone.utc))
        if due is None:
            log.error("the exchange calendar has no future session")
            return
        print(f"Next evaluation after the {due.session} close, at {due.at.isoformat()}", flush=True)
        wait = max(0.0, (due.at - datetime.now(timezone.utc)).total_seconds())
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait)
        except TimeoutError:
            await _console_tick(services)
    print("Stopped.", flush=True)


async def _console_tick(services: Services) -> None:
    try:
        result = await services.tick("schedule")
    except Exception as exc:  # recorded in runs; the schedule goes on
        log.error("tick failed: %s", exc)
        return
    if result is not None:
        print_tick(result)


def print_tick(result: TickResult) -> None:
    print(f"Evaluated {result.as_of}: {len(result.new_signals)} new signals", flush=True)
    for new in result.new_signals:
        print(f"  {new.date}  {new.direction:<5}  {new.key}: {new.title}", flush=True)


def evaluate_once(config: AppConfig, as_of: str | None) -> TickResult:
    """One tick by hand: evaluate, store, deliver (to Telegram when a token is set), exit."""
    with InstanceLock(config.database_path):
        services = build_services(config)
        try:
            return asyncio.run(_evaluate_and_deliver(services, as_of))
        finally:
            services.close()


async def _evaluate_and_deliver(services: Services, as_of: str | None) -> TickResult:
    if services.config.telegram_bot_token is None:
        result = await services.tick("manual", as_of)
        assert result is not None
        return result
    from bot.app import build_application

    application = build_application(services)
    async with application:
        result = await services.tick("manual", as_of)
        assert result is not None
        return result
