"""Running the real bot (python-telegram-bot Application, JobQueue, SQLite) against the fake Bot API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from dataclasses import dataclass, fields

from bot.runtime.assembly import build_services
from bot.runtime.config import load_config
from bot.runtime.scheduling import start_single_bot, stop_single_bot
from bot.runtime.services import Services
from bot.telegram.application import build_telegram, serve
from bot.telegram.chat_io import BotApplication
from tests.builders import csv_text, nyse_sessions, random_walk, write_folder
from tests.fake_telegram import FakeTelegram

ADMIN_CHAT = 900
SESSIONS = nyse_sessions(40, start="2024-01-02")


@dataclass(frozen=True)
class HarnessServices(Services):
    """The services with the Application beside them, for tests that inspect its jobs and queues."""

    application: BotApplication | None = None


def make_folder(root: Path) -> Path:
    """A small data folder whose last session is quiet: no signal fires until `announce_cut`."""
    tickers = ["M1", "M2", "M3", "^GSPC", "SPY", "RSP", "IWM"]
    close = random_walk(SESSIONS, tickers, seed=8)
    close["IWM"] = close["SPY"] * 0.5  # small caps in step with the S&P 500: no phase of the small-cap cycle turns
    prices = {t: csv_text(close[[t]].rename(columns={t: "Close"})) for t in tickers}
    write_folder(root, prices, "ticker,name,sector\nM1,,\nM2,,\nM3,,\n", _rates(cut=False),
                 universes={"russell2000": "ticker,name,sector,weight\nM2,,,0.5\nM3,,,0.5\n"})
    return root


def announce_cut(root: Path) -> None:
    """The Fed cuts, effective (FRED's date) the last session: known, and alerted, at its close."""
    (root / "rates.csv").write_text(_rates(cut=True))


def _rates(cut: bool) -> str:
    lines = ["date,DGS2,DGS3MO,DGS10,DFEDTARU,DFEDTARL"]
    for position, day in enumerate(SESSIONS):
        upper = 5.25 if cut and position >= len(SESSIONS) - 1 else 5.5
        three_month = 4.0 if position == 0 else 5.3  # the curve inverts on the second day: an edge, not history
        lines.append(f"{day:%Y-%m-%d},4.5,{three_month},4.2,{upper},{upper - 0.25}")
    return "\n".join(lines) + "\n"


async def until(condition: Callable[[], Any], timeout: float = 15.0, every: float = 0.05) -> Any:
    """Wait for `condition()` to be truthy; fail the test with a clear message if it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


async def settled(fake, services: HarnessServices, timeout: float = 15.0) -> None:
    """Everything asked of the bot so far is done: every update fetched and handled, no tick running,
    nothing waiting in the outbox. A check that something did *not* happen is made after this, never
    after a fixed sleep (which a slow bot passes by being slow)."""
    application = services.application

    def idle() -> bool:
        return (fake.received_all() and application.update_queue.empty()
                and application.update_processor.current_concurrent_updates == 0
                and not services.tick_lock.locked() and not (services.deliverer and services.deliverer.busy)
                and services.store.stats()["deliveries"].get("pending", 0) == 0)

    await until(idle, timeout=timeout)
    await until(idle, timeout=timeout)  # twice: a handler that had just been dequeued has started by now


def _startup_tick_done(services: Services) -> bool:
    """The catch-up tick that start-up schedules has run and let go of the tick lock."""
    last = services.store.last_run()
    return last is not None and last["outcome"] != "running" and not services.tick_lock.locked()


@asynccontextmanager
async def running_bot(fake: FakeTelegram, folder: Path, database: Path, config_overrides: dict | None = None,
                      **services_overrides: Any):
    """Start the bot like `run_polling` does (post_init included), yield its services, stop it cleanly."""
    config = load_config(telegram_bot_token=fake.token, telegram_api_url=fake.base_url, rotation_data=folder,
                         database_path=database, admin_chat_ids=str(ADMIN_CHAT), **(config_overrides or {}))
    telegram = build_telegram(config)
    built = build_services(config, services_overrides.pop("feed", None), telegram)
    parts = {field.name: getattr(built, field.name) for field in fields(Services)}
    services = HarnessServices(**{**parts, **services_overrides, "application": telegram.application})
    application = serve(telegram, services)
    try:
        async with application:
            await start_single_bot(application)
            await application.start()
            await application.updater.start_polling(poll_interval=0.0, timeout=1)
            try:
                await until(lambda: _startup_tick_done(services), timeout=60)
                yield services
            finally:
                await application.updater.stop()
                await application.stop()
                await stop_single_bot(application)
    finally:
        services.close()
