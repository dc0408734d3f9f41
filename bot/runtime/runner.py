"""`rotation-bot run` and `evaluate`: wiring the configuration into a running bot or one tick."""

from __future__ import annotations

from typing import Any

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import nullcontext
from datetime import datetime, timezone

from bot.runtime.config import AppConfig, webhook_settings
from bot.runtime.scheduling import begin_beats, start_single_bot, stop_single_bot
from bot.runtime.instance_lock import InstanceLock
from bot.runtime.logs import redact
from bot.presentation.messages import plural
from bot.runtime.schedule import human_time
from bot.runtime.assembly import build_bot, build_services
from bot.runtime.services import Services
from bot.runtime.tick import TickResult
from bot.telegram.chat_io import BotApplication
from signals.errors import Cancelled, RotationError

AppHook = Callable[[BotApplication], Coroutine[Any, Any, None]]  # a post_init or post_shutdown

log = logging.getLogger(__name__)


def run_bot(config: AppConfig) -> int:
    """Long polling (or a webhook) with the schedule; without a token, the same schedule printing to the
    console. On DATABASE_URL, one replica among several (bot/runtime/replica.py)."""
    if config.replicated:
        from bot.runtime.replica import run_replica

        return run_replica(config)
    with InstanceLock(config.database_path):
        if config.telegram_bot_token is None:
            services = build_services(config)
            try:
                begin_beats(services)
                print("No TELEGRAM_BOT_TOKEN set: running the schedule without Telegram; alerts are printed here.",
                      flush=True)
                asyncio.run(run_console(services))
                return 0
            finally:
                services.close()
        services, application = build_bot(config)
        try:
            begin_beats(services)
            if not asyncio.run(_until_stopped(wait_for_telegram(config))):
                print("Stopped before Telegram answered.", flush=True)
                return 0
            # Telegram answered a moment ago; if it blinks now, PTB retries its own start-up too.
            # SIGINT/SIGTERM: the deliverer stops starting sends first, so the stop does not wait for
            # a drain of thousands of messages (what is left goes out at the next start).
            if config.telegram_webhook_url:
                asyncio.run(_serve_webhook(application, services))
            else:
                application.post_init = _with_stop_signals(start_single_bot, services)
                application.post_shutdown = stop_single_bot
                application.run_polling(stop_signals=None, close_loop=True, bootstrap_retries=-1)
            if services.state.exit_reason:
                raise RotationError(services.state.exit_reason)
            return 0
        finally:
            services.close()


async def _serve_webhook(application: BotApplication, services: Services) -> None:
    """One bot taking Telegram's posts (bot/telegram/webhook.py) until SIGINT/SIGTERM or its own stop:
    the Application's life by hand, as a replica's, since PTB's run_webhook would bring its own server."""
    from bot.telegram.webhook import WebhookListener

    stop = services.stop_on_signals()
    listener = WebhookListener(application, webhook_settings(services.config))
    async with application:
        await application.start()
        try:
            await listener.start()
            await start_single_bot(application)
            await stop.wait()
        finally:
            services.cancel()
            await listener.stop()
            if application.running:
                await application.stop()
            await stop_single_bot(application)


STARTUP_BACKOFF_CAP_SECONDS = 60.0
HEARTBEAT_SECONDS = 30.0


async def wait_for_telegram(config: AppConfig, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
    """Ask Telegram who the bot is until it answers: capped backoff, one log line per attempt.

    A network error or an unreadable answer is retried (a restart during a Telegram hiccup must
    not end the bot); a rejected token is not, and becomes one line naming the variable.
    """
    from telegram import Bot
    from telegram.error import InvalidToken, TelegramError

    from bot.telegram.application import bot_urls

    assert config.telegram_bot_token is not None
    token = config.telegram_bot_token.get_secret_value()
    delay, attempt = 1.0, 0
    while True:
        attempt += 1
        try:
            async with Bot(token, **bot_urls(config)):
                return
        except InvalidToken as exc:
            raise RotationError("Telegram rejected TELEGRAM_BOT_TOKEN (wrong or revoked); "
                                "get the bot's token from @BotFather") from exc
        except TelegramError as exc:  # NetworkError, TimedOut, 5xx, an answer that is not JSON
            log.warning("Telegram did not answer (attempt %d: %s: %s); retrying in %.0f s", attempt,
                        type(exc).__name__, redact(str(exc), token), delay)
        await sleep(delay)
        delay = min(STARTUP_BACKOFF_CAP_SECONDS, delay * 2)


def _with_stop_signals(post_init: AppHook, services: Services) -> AppHook:
    async def install(application: BotApplication) -> None:
        def stop() -> None:
            log.info("stopping: finishing the sends in flight")
            services.cancel()  # a refresh in progress stops at its next batch
            if services.deliverer is not None:
                services.deliverer.stop()
            stopping.append(asyncio.ensure_future(_stop_polling_then_run(application)))

        stopping: list[asyncio.Future[None]] = []  # holds the stop task: the loop keeps only weak references
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop)
        if post_init is not None:
            await post_init(application)

    return install


async def _stop_polling_then_run(application: BotApplication) -> None:
    """Polling first, here, where a loop that died of a rejected token cannot turn the stop into a
    traceback; then the Application (run_polling's own stop then finds the Updater stopped)."""
    from telegram.error import TelegramError

    updater = application.updater
    if updater is not None and updater.running:
        try:
            await updater.stop()
        except TelegramError as exc:
            log.debug("the polling loop had ended with %s", exc)
    application.stop_running()


async def _until_stopped(waiting: Awaitable[object]) -> bool:
    """Run `waiting` unless SIGINT/SIGTERM comes first (then False, and the program ends cleanly)."""
    task = asyncio.ensure_future(waiting)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await task
        return True
    except asyncio.CancelledError:
        return False
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def run_console(services: Services) -> None:
    """The console schedule: tick now if a session is unevaluated, then after every close."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stopping() -> None:
        stop.set()
        services.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping)
    services.store.abandon_unfinished_runs()
    beating = asyncio.create_task(_beat_until(services, stop))  # alive during the first tick too
    await _console_tick(services)
    while not stop.is_set():
        due = services.calendar.next_due(datetime.now(timezone.utc))
        if due is None:
            log.error("the exchange calendar has no future session")
            return
        print(f"Next evaluation after the {due.session} close, at {human_time(due.at)}", flush=True)
        while not stop.is_set() and datetime.now(timezone.utc) < due.at:
            wait = max(0.0, (due.at - datetime.now(timezone.utc)).total_seconds())
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
            except TimeoutError:
                pass
        if not stop.is_set():
            await _console_tick(services)
    await beating
    print("Stopped.", flush=True)


async def _beat_until(services: Services, stop: asyncio.Event) -> None:
    """The console schedule's heartbeat, every HEARTBEAT_SECONDS, ticks or not (`rotation-bot health`)."""
    while not stop.is_set():
        await asyncio.to_thread(services.store.beat, "loop")
        try:
            await asyncio.wait_for(stop.wait(), timeout=HEARTBEAT_SECONDS)
        except TimeoutError:
            pass


async def _console_tick(services: Services) -> None:
    try:
        result = await services.tick("schedule")
    except Cancelled:
        return  # stopping
    except Exception as exc:  # recorded in runs; the schedule goes on
        log.error("tick failed: %s", exc)
        return
    if result is not None:
        print_tick(result)


def print_tick(result: TickResult) -> None:
    history = (f"; {plural(result.found_in_history, 'earlier signal')} found in the history (recorded for "
               f"/history, not sent)" if result.found_in_history else "")
    print(f"Evaluated {result.as_of}: {plural(len(result.new_signals), 'new signal')}{history}", flush=True)
    for new in result.new_signals:
        print(f"  {new.date}  {new.direction:<5}  {new.key}: {new.title}", flush=True)


def tick_by_hand(config: AppConfig, as_of: str | None) -> TickResult:
    """One tick by hand: evaluate, store, deliver (to Telegram when a token is set), exit."""
    # on a server, signals are stored once whoever evaluates: a tick by hand beside running replicas is safe
    with nullcontext() if config.replicated else InstanceLock(config.database_path):
        if config.telegram_bot_token is None:
            services, application = build_services(config), None
        else:
            services, application = build_bot(config)
        try:
            return asyncio.run(_tick_and_deliver(services, application, as_of))
        finally:
            services.close()


def _replicas_running(services: Services) -> bool:
    """Replicas alive on the server send what a tick by hand queues, at the bot's shared rate: a second
    sender here would not know that rate (44 sends in one second were measured beside a leader)."""
    if not services.config.replicated:
        return False
    now = datetime.now(timezone.utc)
    running = [r for r in services.store.replicas() if r.alive(now)]
    if running:
        log.warning("%d replica(s) running: they deliver what this evaluation queues", len(running))
    return bool(running)


async def _tick_and_deliver(services: Services, application: BotApplication | None,
                                as_of: str | None) -> TickResult:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # a refresh stops at its next batch, nothing half-written
        loop.add_signal_handler(signum, services.cancel)
    if application is None or await asyncio.to_thread(_replicas_running, services):
        result = await services.tick("manual", as_of, deliver=False)  # queued only: others send it
        assert result is not None
        return result
    async with application:
        result = await services.tick("manual", as_of)
        assert result is not None
        return result
