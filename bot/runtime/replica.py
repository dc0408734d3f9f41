"""`rotation-bot run` on a shared PostgreSQL database: one replica among any number.

Every replica drains the outbox (claims are row-locked, bot/storage/postgres.py), so a paid
broadcast's fan-out grows with them, and answers the updates that reach it (all of them in webhook
mode; none while polling, which only the leader does). Exactly one leads (bot/runtime/leadership.py): it
polls Telegram and runs the schedule. When it dies, a standby takes the lock within
LEADERSHIP_POLL_SECONDS of the server letting go, gives back the dead leader's claims and catches up
on the session it may have left unevaluated (signals are stored once whoever evaluates). A leader
that loses its lock stops at once and exits, so two replicas never poll nor evaluate at once; the
supervisor starts it again as a standby.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import datetime, timezone

from bot.runtime.config import AppConfig, webhook_settings
from bot.runtime.leadership import LEADERSHIP_POLL_SECONDS, AdvisoryLock, Leadership
from bot.runtime.scheduling import begin_beats, take_the_lead
from bot.runtime.assembly import build_bot
from bot.runtime.services import Services
from bot.storage import Replica, Store
from bot.telegram.chat_io import BotApplication
from bot.telegram.webhook import WebhookListener
from signals.errors import RotationError

log = logging.getLogger(__name__)

# A new leader waits this long before polling when the last leader was seen alive a moment ago: that one
# checks its lock every LEADERSHIP_POLL_SECONDS (each check bounded by as much) and stops polling when it
# fails, so by then it has (the server frees a lock the moment its session ends; the old leader needs
# one check to know).
HANDOVER_SECONDS = 2 * LEADERSHIP_POLL_SECONDS + 1.0


def run_replica(config: AppConfig) -> int:
    """One replica until SIGINT/SIGTERM (0), or until it must stop (RotationError, for the supervisor)."""
    if config.telegram_bot_token is None:
        raise RotationError("replicas on DATABASE_URL need TELEGRAM_BOT_TOKEN (the console schedule runs on a "
                            "SQLite file: unset DATABASE_URL)")
    assert config.database_url is not None
    services, application = build_bot(config)
    try:
        _refuse_a_namesake(services)  # before touching its beats: they may be a running namesake's
        begin_beats(services)
        lock = AdvisoryLock(config.database_url.get_secret_value(), config.replica)
        try:
            asyncio.run(_serve(services, application, lock))
        finally:
            lock.release()
            services.store.retire_replica()
        if services.state.exit_reason:
            raise RotationError(services.state.exit_reason)
        return 0
    finally:
        services.close()


def _refuse_a_namesake(services: Services) -> None:
    refuse_a_live_namesake(services.store, socket.gethostname(), os.getpid())


def refuse_a_live_namesake(store: Store, host: str, pid: int, now: datetime | None = None) -> None:
    """Two live replicas under one name would take each other's claims for a dead one's.

    A namesake that beat lately but ran on this host under a pid that is gone (or is this very process:
    a container restarted, pid 1 again) is the last life of this replica, dead: a supervisor's
    immediate restart goes on at once instead of waiting out the alive bound (25-31 s measured).
    """
    now = now or datetime.now(timezone.utc)
    for replica in store.replicas():
        if replica.name != store.replica or not replica.alive(now):
            continue
        if replica.host == host and (replica.pid == pid or not _pid_running(replica.pid)):
            log.info("replica %s's last life (pid %d on %s) is gone; starting in its place", replica.name,
                     replica.pid, host)
            continue
        raise RotationError(f"a replica named {replica.name!r} is running (pid {replica.pid} on {replica.host}); "
                            f"give each replica its own REPLICA_NAME")


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


async def _serve(services: Services, application: BotApplication, lock: Leadership) -> None:
    from bot.telegram.application import schedule_shared_jobs
    from bot.telegram.dashboard import start_dashboard, stop_dashboard

    config = services.config
    stop = services.stop_on_signals()
    host, pid = socket.gethostname(), os.getpid()
    role = "standby"
    await asyncio.to_thread(services.store.announce_replica, role, host, pid)
    async with application:
        await application.start()
        listener = await _start_webhook(application, config) if config.telegram_webhook_url else None
        await start_dashboard(application, services)  # every replica serves it: they read one database
        schedule_shared_jobs(application, services)
        log.info("replica %s started as a standby", config.replica)
        try:
            while not stop.is_set():
                if role == "standby" and await asyncio.to_thread(lock.try_lead):
                    handover = await asyncio.to_thread(_a_leader_was_alive, services)
                    role = "leader"
                    await asyncio.to_thread(services.store.announce_replica, role, host, pid)
                    if handover:
                        log.info("replica %s holds the lead; polling starts in %.0f s, once the last leader has "
                                 "surely stopped", config.replica, HANDOVER_SECONDS)
                        await asyncio.sleep(HANDOVER_SECONDS)
                    log.info("replica %s leads: it polls Telegram and runs the schedule", config.replica)
                    await take_the_lead(application, services, poll=not config.telegram_webhook_url)
                elif role == "leader" and not await _still_leading(lock):
                    services.state.exit_reason = ("lost the lead (the database connection that held it is gone); "
                                                  "exiting so that the supervisor starts this replica again as a "
                                                  "standby")
                    break
                await asyncio.to_thread(services.store.announce_replica, role, host, pid)
                if services.pacing is not None:
                    alive = await asyncio.to_thread(_alive, services)
                    services.pacing.share(alive, free_senders(config, alive))
                try:
                    await asyncio.wait_for(stop.wait(), timeout=LEADERSHIP_POLL_SECONDS)
                except TimeoutError:
                    pass
        finally:
            services.cancel()
            await stop_dashboard(services)
            if listener is not None:
                await listener.stop()
            updater = application.updater
            if updater is not None and updater.running:
                await updater.stop()
            if application.running:
                await application.stop()


def _alive_replicas(services: Services) -> list[Replica]:
    """The replicas alive now (`Replica.alive`: one bound for the whole bot), this one included."""
    now = datetime.now(timezone.utc)
    return [r for r in services.store.replicas()
            if r.alive(now)]


def free_senders(config: AppConfig, alive: int) -> int:
    """How many replicas send at Telegram's free rate: every one that takes updates (webhook mode: all;
    polling: the leader) or drains the outbox (with paid broadcast: all; without: the leader only). The
    leader alone at 29/s, not 29/N: 2,000 alerts went at 14.4/s with 2 replicas, 9.5/s with 3."""
    return alive if config.telegram_webhook_url or config.telegram_paid_broadcast else 1


def _alive(services: Services) -> int:
    """How many replicas share the bot's limits."""
    return len(_alive_replicas(services))


def _a_leader_was_alive(services: Services) -> bool:
    """Another replica said it led lately: it may still be polling for a moment."""
    return any(r.role == "leader" and r.name != services.store.replica for r in _alive_replicas(services))


async def _still_leading(lock: Leadership) -> bool:
    """The lock's check, bounded: a connection that hangs (a lost network) counts as lost at once."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(lock.still_leading), timeout=LEADERSHIP_POLL_SECONDS)
    except TimeoutError:
        log.error("the database did not answer the lead's check within %.0f s", LEADERSHIP_POLL_SECONDS)
        return False


async def _start_webhook(application: BotApplication, config: AppConfig) -> WebhookListener:
    """Telegram posts updates to TELEGRAM_WEBHOOK_URL; each replica listens behind it (a load balancer's)."""
    listener = WebhookListener(application, webhook_settings(config))
    await listener.start()
    log.info("taking updates by webhook on %s:%d", config.telegram_webhook_listen, config.telegram_webhook_port)
    return listener
