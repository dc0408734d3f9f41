"""When the bot evaluates, and what a leader does: the scheduling policy, kept in the runtime.

The jobs run in python-telegram-bot's JobQueue (handed down by bot/telegram), but what they decide
is the runtime's: a closed session never evaluated is caught up at a start, stale or partial live
data is retried every few minutes until a give-up time, then admins are told once; only the leader
evaluates, so a session is never evaluated twice at once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from telegram import Update

from bot.delivery.channels import attach_channels
from bot.presentation.messages import plural
from bot.runtime.services import Services
from bot.telegram.admins import notify_admins, say_damage
from bot.telegram.application import give_back_orphaned_claims, register_commands, schedule_shared_jobs
from bot.telegram.chat_io import TICK_JOB, BotApplication, BotContext, jobs_of, services_of
from bot.telegram.dashboard import start_dashboard, stop_dashboard
from signals.errors import Cancelled

log = logging.getLogger(__name__)
NEW_YORK = ZoneInfo("America/New_York")


def begin_beats(services: Services) -> None:
    """A new life's heartbeats: an earlier run's say nothing about this one, and `health` says "starting"
    until the first evaluation, for a bounded time."""
    for name in ("loop", "poll", "ticked"):
        services.store.forget_beat(name)
    services.store.beat("started")



async def start_single_bot(application: BotApplication) -> None:
    """One bot on a file: it leads from the start (run_polling polls)."""
    services = _services(application)
    await start_dashboard(application, services)
    schedule_shared_jobs(application, services)
    await take_the_lead(application, services, poll=False)


async def stop_single_bot(application: BotApplication) -> None:
    await stop_dashboard(_services(application))


async def take_the_lead(application: BotApplication, services: Services, poll: bool) -> None:
    """What only the leader does: commands and channels set up, the schedule, and (`poll`) polling.

    A leader that takes over from a dead one first gives back the claims nobody alive holds and
    marks the runs it left unfinished, whose session it then evaluates again (idempotently).
    """
    services.state.leading = True
    await give_back_orphaned_claims(services)
    await register_commands(application, services)
    if services.config.telegram_channels:
        await attach_channels(application.bot, services.store, services.config.telegram_channels)
    interrupted = await asyncio.to_thread(services.store.abandon_unfinished_runs)
    if interrupted:
        log.warning("%d run(s) were interrupted by the last stop; evaluating again", interrupted)
    if poll and application.updater is not None:
        await application.updater.start_polling(timeout=10, bootstrap_retries=-1, allowed_updates=Update.ALL_TYPES)
    schedule_tick(application, services, catch_up=True)


def schedule_tick(application: BotApplication, services: Services, catch_up: bool) -> None:
    """At most one evaluation job: now, when a closed session is unevaluated (`catch_up`), else the next."""
    queue = jobs_of(application)
    for job in queue.get_jobs_by_name(TICK_JOB):
        job.schedule_removal()
    now = datetime.now(timezone.utc)
    if catch_up and needs_catch_up(services, now):
        queue.run_once(tick_job, when=0.5, name=TICK_JOB)
    else:
        schedule_next_tick(application, services)


def needs_catch_up(services: Services, now: datetime) -> bool:
    """A session closed (plus the delay) that no successful run has evaluated yet."""
    last_ok = services.store.last_run("ok")
    if last_ok is None:
        return True
    if services.offline:
        return True  # the folder may have changed while the bot was down; a repeat tick is a no-op
    due = services.calendar.last_due(now)
    return due is not None and last_ok["data_as_of"] < due.session


def schedule_next_tick(application: BotApplication, services: Services) -> None:
    due = services.calendar.next_due(datetime.now(timezone.utc))
    if due is None:
        log.error("the exchange calendar has no future session; update exchange_calendars")
        return
    jobs_of(application).run_once(tick_job, when=due.at, name=TICK_JOB)
    log.info("next evaluation after the %s close, at %s", due.session, due.at.astimezone(NEW_YORK))


# A failed evaluation (a full disk, a database away) is tried again soon, not at the next close: after
# 30 s, then twice as long each time up to 10 minutes, until it succeeds or the next session's own
# evaluation is due (which catches up the missed one).
RETRY_FIRST_SECONDS = 30.0
RETRY_CAP_SECONDS = 600.0


async def _retry_failed_tick(context: BotContext, services: Services, exc: Exception) -> None:
    """One traceback and one admin message for the first failure of a streak; one line per retry after."""
    attempt = context.job.data if context.job is not None and isinstance(context.job.data, int) else 0
    wait = min(RETRY_CAP_SECONDS, RETRY_FIRST_SECONDS * 2 ** attempt)
    due = services.calendar.next_due(datetime.now(timezone.utc))
    if due is not None and datetime.now(timezone.utc) + timedelta(seconds=wait) >= due.at:
        log.warning("scheduled evaluation failed again (%s: %s); the next session's evaluation is due first",
                    type(exc).__name__, exc)
        schedule_next_tick(context.app, services)
        return
    if await say_damage(context, exc):
        log.warning("scheduled evaluation failed on the damaged database; trying again in %.0f s", wait)
    elif attempt == 0:
        log.exception("scheduled evaluation failed; trying again in %.0f s", wait)
        await notify_admins(context, f"\u26a0\ufe0f Scheduled evaluation failed: {type(exc).__name__}: {exc}. "
                                     f"Trying again in {wait:.0f} s, then less and less often until it succeeds.")
    else:
        log.warning("scheduled evaluation failed again (attempt %d: %s: %s); next try in %.0f s", attempt + 1,
                    type(exc).__name__, exc, wait)
    jobs_of(context.app).run_once(tick_job, when=wait, name=TICK_JOB, data=attempt + 1)


async def tick_job(context: BotContext) -> None:
    """The scheduled tick. Stale or partial live data is retried every few minutes for a while;
    then the session is left stale (no detector fired), /status says so, and admins are told once."""
    services = _services(context.app)
    if not services.state.leading:  # only the leader evaluates: a session is never evaluated twice at once
        return
    config = services.config
    now = datetime.now(timezone.utc)
    due = services.calendar.last_due(now)
    try:
        result = await services.tick("schedule")
    except Cancelled:
        log.info("the tick stopped: the bot is shutting down")
        return
    except Exception as exc:  # a failed tick must not stop the schedule; it is recorded in runs
        await _retry_failed_tick(context, services, exc)
        return
    if result is not None and result.outcome != "ok" and due is not None:
        give_up_at = due.at + timedelta(minutes=config.stale_give_up_minutes)
        if now + timedelta(minutes=config.stale_retry_minutes) <= give_up_at:
            jobs_of(context.app).run_once(tick_job, when=timedelta(minutes=config.stale_retry_minutes),
                                       name=TICK_JOB)
            next_try = (now + timedelta(minutes=config.stale_retry_minutes)).astimezone(NEW_YORK)
            unreachable = next((n.split(";")[0] for n in result.notes if "unreachable" in n), None)
            if unreachable:  # one line that says what is wrong and when the bot asks again
                log.warning("%s; next try at %s ET", unreachable, next_try.strftime("%H:%M"))
            else:
                log.info("data %s for %s; next try at %s ET", result.outcome, due.session, next_try.strftime("%H:%M"))
            return
        if services.store.first_notice(f"stale:{due.session}"):
            await notify_admins(context, f"\u26a0\ufe0f Data for the {due.session} session is {result.outcome} after "
                                         f"{config.stale_give_up_minutes:g} minutes of retries; no signal was "
                                         f"evaluated. " + "; ".join(result.notes[:3]))
    elif result is not None:
        log.info("evaluated %s: %s", result.as_of, plural(len(result.new_signals), "new signal"))
    schedule_next_tick(context.app, services)


def _services(application: BotApplication) -> Services:
    """The runtime's own services, as it handed them to the application."""
    services = services_of(application)
    assert isinstance(services, Services), "the runtime builds the services it hands down"
    return services
