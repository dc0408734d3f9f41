"""The Telegram application: python-telegram-bot's Application, its handlers, jobs and error handler.

How a signal reaches a chat: the `evaluate` job (after each NYSE close + delay) runs a tick in a
worker thread (bot/runtime/tick.py), which stores new signals and their deliveries in one transaction;
the job then drains the outbox (bot/delivery/drain.py) through `TelegramSender`. The `deliver` job drains
it again every few seconds, so retries and anything left by a restart go out.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypedDict, cast

import asyncio
import hashlib
import logging
import warnings
from dataclasses import dataclass, replace

import httpx
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    ApplicationHandlerStop,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.telegram.chat_io import CONTEXT_TYPES, BotApplication, BotContext, jobs_of
from bot.telegram.commands import (
    BUTTONS,
    COMMANDS,
    Command,
    Handler,
    plain_text,
    stale_button,
    unknown_command,
)
from bot.telegram.chat_io import reply
from bot.telegram.inline import inline_query
from bot.telegram.dashboard import set_menu_button
from bot.delivery.drain import (
    CONCURRENCY,
    Ambiguous,
    ChatGone,
    ChatMoved,
    DrainReport,
    NotTelegram,
    Permanent,
    RateLimited,
    SendError,
    Transient,
    Unreachable,
)
from bot.delivery.outgoing import Part
from bot.delivery.pacing import PacedRequest
from bot.telegram.listening import ListeningWatch
from bot.delivery.request import NotTelegramAnswer, TelegramRequest
from bot.storage import damage_line
from bot.telegram.admins import notify_admins, say_damage
from signals.database import names_busy
from bot.telegram.throttle import ChatThrottle, ThrottledUpdates, throttle_handler
from bot.telegram.needs import BotServices, BotSettings


log = logging.getLogger(__name__)

DELIVER_JOB = "deliver"
WATCH_JOB = "watch"
DELIVER_EVERY_SECONDS = 10.0
HELP_EVERY_SECONDS = 1.0  # a replica helping with a paid broadcast: one indexed query a second when idle
WATCH_EVERY_SECONDS = 5.0
INTEGRITY_JOB = "integrity"
INTEGRITY_EVERY_SECONDS = 24 * 3600.0
NEW_YORK = ZoneInfo("America/New_York")
# Telegram allows about 30 messages a second overall; sending evenly just under it never trips 429.
MESSAGES_PER_SECOND = 29.0  # Telegram's free broadcast limit is about 30 a second
# TELEGRAM_PAID_BROADCAST: private chats up to 1,000 a second (charged in Stars); enough sends in flight
# to reach it at a round trip of ~100 ms, within the HTTP connection pool
PAID_MESSAGES_PER_SECOND = 950.0
PAID_CONCURRENCY = 200
CONNECTIONS = 256
GROUP_MESSAGES_PER_MINUTE = 20


class TelegramSender:
    """Delivery's seam onto the Bot API: PTB's errors become the outcomes delivery acts on."""

    def __init__(self, application: BotApplication, paid_broadcast: bool = False) -> None:
        self._bot = application.bot
        self._paid = paid_broadcast
        self._uploaded: dict[str, str] = {}  # a chart's digest -> Telegram's file_id: each PNG is uploaded once

    async def send(self, chat_id: int, part: Part) -> None:
        try:
            await self._send(chat_id, part)
        except Permanent as refused:
            if part.thread_id is None or "thread not found" not in str(refused).lower():
                raise
            # the forum topic was deleted: the alert still reaches the chat, in its General topic
            log.warning("chat %s: its topic %s is gone; alerts go to the chat itself until a subscription is "
                        "made in another topic", chat_id, part.thread_id)
            await self._send(chat_id, replace(part, thread_id=None))

    async def _send(self, chat_id: int, part: Part) -> None:
        try:
            # paid broadcast is for private chats only
            extra: dict[str, Any] = {"allow_paid_broadcast": True} if self._paid and chat_id > 0 else {}
            if part.thread_id is not None:
                extra["message_thread_id"] = part.thread_id
            if part.photo is None:
                await self._bot.send_message(chat_id, part.text, disable_web_page_preview=True,
                                             disable_notification=part.silent, **extra)
                return
            digest = hashlib.sha256(part.photo).hexdigest()
            photo = self._uploaded.get(digest, part.photo)
            message = await self._bot.send_photo(chat_id, photo, caption=part.text,
                                                 disable_notification=part.silent, **extra)
            if message.photo:
                self._uploaded[digest] = message.photo[-1].file_id
        except RetryAfter as exc:
            raise RateLimited(_retry_seconds(exc)) from exc
        except ChatMigrated as exc:
            raise ChatMoved(exc.new_chat_id) from exc
        except Forbidden as exc:
            raise ChatGone(exc.message) from exc
        except BadRequest as exc:
            lowered = exc.message.lower()
            if "chat not found" in lowered or "deactivated" in lowered:
                raise ChatGone(exc.message) from exc
            raise Permanent(exc.message) from exc  # bad HTML, too long: the same message fails again
        except NotTelegramAnswer as exc:
            raise NotTelegram(exc.message) from exc
        except TimedOut as exc:
            raise _classify_timeout(exc) from exc
        except NetworkError as exc:
            raise _classify_network(exc) from exc
        except TelegramError as exc:  # anything else PTB raises: time may fix it
            raise Transient(f"{type(exc).__name__}: {exc.message}") from exc


def _classify_timeout(error: TimedOut) -> SendError:
    """A connect or pool timeout sent nothing; a read or write timeout may have been acted on."""
    cause = error.__cause__
    if isinstance(cause, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return Unreachable(f"timed out connecting: {error.message}")
    return Ambiguous(f"timed out waiting for the answer: {error.message}")


def _classify_network(error: NetworkError) -> SendError:
    """No connection at all (nothing sent, do not count it) versus a server error (count it)."""
    cause = error.__cause__
    if isinstance(cause, (httpx.ConnectError, httpx.NetworkError)) and not isinstance(cause, httpx.ReadError):
        return Unreachable(error.message)
    if isinstance(cause, (httpx.ReadError, httpx.RemoteProtocolError)):
        return Ambiguous(f"connection dropped before the answer: {error.message}")
    return Transient(error.message)  # 5xx and the like: Telegram answered, with an error


def _retry_seconds(error: RetryAfter) -> float:
    """PTB 22 holds the wait as a timedelta; its public int attribute warns of a coming change."""
    wait = getattr(error, "_retry_after", None)
    if isinstance(wait, timedelta):
        return wait.total_seconds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(error.retry_after)  # type: ignore[arg-type]  # an int here: PTB 22 types it int | timedelta


@dataclass(frozen=True)
class TelegramParts:
    """The Telegram side, built before the services it is handed to (building talks to no one): the
    Application, the sends' pacing, the polling watch, and the sender the runtime's deliverer sends
    through, with how many sends it keeps in flight."""

    application: BotApplication
    pacing: PacedRequest
    listening: ListeningWatch
    sender: TelegramSender
    concurrency: int
    throttle: ChatThrottle  # the updates' per-chat budget, shared by the handler that admits them


def build_telegram(config: BotSettings) -> TelegramParts:
    assert config.telegram_bot_token is not None
    rate = PAID_MESSAGES_PER_SECOND if config.telegram_paid_broadcast else MESSAGES_PER_SECOND
    polling = TelegramRequest(polling=True, connection_pool_size=1)
    pacing = PacedRequest(MESSAGES_PER_SECOND, PAID_MESSAGES_PER_SECOND if config.telegram_paid_broadcast else None,
                          connection_pool_size=CONNECTIONS)
    throttle = ChatThrottle()
    builder = (
        ApplicationBuilder()
        .token(config.telegram_bot_token.get_secret_value())
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=NEW_YORK))
        .rate_limiter(AIORateLimiter(overall_max_rate=1, overall_time_period=1 / rate,
                                     group_max_rate=GROUP_MESSAGES_PER_MINUTE, group_time_period=60,
                                     max_retries=3))
        .context_types(CONTEXT_TYPES)
        .concurrent_updates(ThrottledUpdates(throttle))
        .request(pacing)
        .get_updates_request(polling)
    )
    urls = bot_urls(config)
    if urls:
        builder = builder.base_url(urls["base_url"]).base_file_url(urls["base_file_url"])
    # PTB's builder types its job queue before context_types() and the rate limiter apply: the cast says what it built
    application = cast(BotApplication, builder.build())
    return TelegramParts(application, pacing, ListeningWatch(polling, give_up_seconds=config.polling_give_up_seconds),
                         TelegramSender(application, paid_broadcast=config.telegram_paid_broadcast),
                         PAID_CONCURRENCY if config.telegram_paid_broadcast else CONCURRENCY, throttle)


def serve(telegram: TelegramParts, services: BotServices) -> BotApplication:
    """The Application answering with `services`: its handlers registered, the services handed down."""
    application = telegram.application
    application.bot_data.services = services
    register_handlers(application, telegram.throttle)
    return application


class BotUrls(TypedDict, total=False):
    base_url: str
    base_file_url: str


def bot_urls(config: BotSettings) -> BotUrls:
    """`base_url` and `base_file_url` of a self-hosted Bot API server (TELEGRAM_API_URL); {} for Telegram's."""
    if not config.telegram_api_url:
        return {}
    base = config.telegram_api_url.rstrip("/")
    return {"base_url": base, "base_file_url": base.removesuffix("/bot") + "/file/bot"}


def register_handlers(application: BotApplication, throttle: ChatThrottle) -> None:
    application.bot_data.throttle = throttle
    application.add_handler(TypeHandler(Update, _callback_without_chat), group=-2)
    application.add_handler(TypeHandler(Update, throttle_handler(throttle)), group=-1)
    for command in COMMANDS:
        application.add_handler(CommandHandler(command.name, _guarded(command)))
    for route, handler in BUTTONS:
        application.add_handler(CallbackQueryHandler(handler, pattern=route.pattern))
    application.add_handler(CallbackQueryHandler(stale_button))
    application.add_handler(InlineQueryHandler(inline_query))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, plain_text))
    # commands posted in a channel are the channel's business, not requests to the bot
    application.add_handler(MessageHandler(filters.COMMAND & ~filters.UpdateType.CHANNEL_POSTS, unknown_command))
    application.add_error_handler(on_error)


async def _callback_without_chat(update: Update, context: BotContext) -> None:
    """A button on an inline message (shared into another chat) comes without a chat: nothing here can
    act for it, so it is answered (a button never spins) and goes no further."""
    query = update.callback_query
    if query is not None and update.effective_chat is None:
        await query.answer("This button works in the bot's own chat: open it and send /start.")
        raise ApplicationHandlerStop


def _guarded(command: Command) -> Handler:
    """Admin-only commands answer non-admins with a refusal instead of running; a command that met a
    database held by another process (after the engine's own 30 s wait) runs once more before it fails,
    so a lock held 45 s by a backup or a `db` command loses no /subscribe."""

    async def guarded(update: Update, context: BotContext) -> None:
        chat = update.effective_chat
        if command.admin_only and not context.services.is_admin(chat.id if chat else None):
            await reply(update, "This command is for the bot's administrators.")
            return
        try:
            await command.handler(update, context)
        except Exception as exc:  # only a busy database is tried again; the rest goes to on_error
            if not names_busy(exc):
                raise
            log.warning("/%s found the database busy (%s); trying once more", command.name, exc)
            await command.handler(update, context)

    return guarded


async def on_error(update: object, context: BotContext) -> None:
    """The one handler for what nobody expected: log it whole, tell the user briefly.

    Polling errors arrive here too, without an update (run_polling routes them here): PTB retries
    them by itself, so they are one line each, not a traceback.
    """
    if update is None and isinstance(context.error, TelegramError):
        log.warning("polling Telegram failed: %s: %s", type(context.error).__name__, context.error)
        return
    damaged = await say_damage(context, context.error)
    if not damaged:
        log.error("unexpected error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        answer = ("The bot's database is damaged, so this could not be done; the administrators have been told."
                  if damaged else "Sorry, something went wrong on my side. It has been logged.")
        try:
            await update.effective_message.reply_text(answer)
        except TelegramError:
            log.warning("could not tell the user about the error", exc_info=True)


JobCallback = Callable[[BotContext], Coroutine[Any, Any, None]]


def said_once(job: JobCallback) -> JobCallback:
    """A repeating job's failures said without flooding the log: the first of a kind with its traceback,
    then one line a minute while it lasts (bot/telegram/repeats.py); damage to the store at once."""

    async def run(context: BotContext) -> None:
        name = context.job.name if context.job is not None and context.job.name else job.__name__
        failures = context.bot_data.failures
        try:
            await job(context)
        except Exception as exc:  # a repeating job's failure must not stop it; it is said here, once
            if await say_damage(context, exc):
                return
            verdict = failures.failed(name, exc)
            if verdict is None:
                return
            kind, repeated = verdict
            if kind == "first":
                log.error("the %s job failed (said again at most once a minute while it lasts)", name, exc_info=exc)
            else:
                log.warning("the %s job is still failing (%d times in the last minute): %s: %s", name, repeated,
                            type(exc).__name__, exc)
        else:
            failures.succeeded(name)

    return run


def schedule_shared_jobs(application: BotApplication, services: BotServices) -> None:
    """What every replica does: drain the outbox, beat, check the database."""
    queue = jobs_of(application)
    for name in (DELIVER_JOB, WATCH_JOB):
        for job in queue.get_jobs_by_name(name):
            job.schedule_removal()
    # replicas sharing a paid broadcast look often: a leader's tick queues thousands at once
    helping = services.config.replicated and services.config.telegram_paid_broadcast
    queue.run_repeating(said_once(deliver_job), interval=HELP_EVERY_SECONDS if helping else DELIVER_EVERY_SECONDS,
                        first=0.1, name=DELIVER_JOB)
    queue.run_repeating(said_once(watch_job), interval=WATCH_EVERY_SECONDS, first=0.1, name=WATCH_JOB)
    if not queue.get_jobs_by_name(INTEGRITY_JOB):  # the start checked already (bot/runtime/runner.py)
        queue.run_repeating(said_once(integrity_job), interval=INTEGRITY_EVERY_SECONDS,
                            first=INTEGRITY_EVERY_SECONDS, name=INTEGRITY_JOB)


async def give_back_orphaned_claims(services: BotServices) -> None:
    """Deliveries claimed by a replica that stopped (killed mid-drain) go out again, from here."""
    released = await asyncio.to_thread(services.store.release_orphaned_leases, at_start=False)
    if released:
        log.warning("%d deliveries were claimed by a replica that stopped; they go out again now", released)


async def register_commands(application: BotApplication, services: BotServices) -> None:
    public = [BotCommand(c.name, c.help) for c in COMMANDS if not c.admin_only]
    everything = [BotCommand(c.name, c.help) for c in COMMANDS]
    await application.bot.set_my_commands(public, scope=BotCommandScopeDefault())
    for chat_id in services.config.admin_chat_ids:
        try:
            await application.bot.set_my_commands(everything, scope=BotCommandScopeChat(chat_id))
        except TelegramError as exc:
            log.warning("could not register admin commands for chat %s: %s", chat_id, exc)
    await set_menu_button(application.bot, services.config)


async def watch_job(context: BotContext) -> None:
    """The scheduler's turn and the last good poll, for `rotation-bot health`; and the stop with one line
    when polling has been refused or dead too long (bot/telegram/listening.py)."""
    services = context.services
    watch = services.listening
    polled = watch.request.last_ok_wall if watch is not None else None
    await asyncio.to_thread(services.store.beat, "loop")
    if polled is not None:
        await asyncio.to_thread(services.store.beat, "poll", datetime.fromtimestamp(polled, timezone.utc))
    if services.state.leading and services.config.replicated:  # a standby that died holds claims nobody sends
        await give_back_orphaned_claims(services)
    reason = watch.give_up_reason() if watch is not None else None
    if reason and services.state.exit_reason is None:
        services.state.exit_reason = f"{reason}; exiting so that the supervisor starts the bot again"
        if services.state.stop is not None:
            services.state.stop.set()
        else:
            context.app.stop_running()


async def integrity_job(context: BotContext) -> None:
    """Once a day, PRAGMA quick_check: damage found while running is said, not lived with in silence."""
    services = context.services
    try:
        damage = await asyncio.to_thread(services.store.integrity)
    except Exception as exc:  # sqlite3.DatabaseError: the file cannot even be checked
        damage = [f"{type(exc).__name__}: {exc}"]
    if damage and damage != services.state.damage:
        line = damage_line(services.config.database_name, damage)
        log.error(line)
        await notify_admins(context, f"\u26a0\ufe0f {line}")
    services.state.damage = damage


BACKLOG_NOTICE_MINUTES = 30  # alerts waiting longer than this: the administrators are told (once)


async def deliver_job(context: BotContext) -> None:
    services = context.services
    throttle = context.bot_data.throttle
    if throttle is not None:
        throttle.forget_idle()
    deliverer = services.deliverer
    if deliverer is None or deliverer.busy:
        return  # a drain in progress will pick up whatever is due
    if not services.state.leading and not services.config.telegram_paid_broadcast:
        return  # Telegram's free limit (~30 a second) is one bot's: one pacer, the leader's, keeps under it
    report = await deliverer.drain()
    if report.sent or report.failed or report.expired or report.deactivated_chats:
        log.info("delivered %d (%d unconfirmed), retrying %d, failed %d, expired %d, chats deactivated %d",
                 report.sent, report.unconfirmed, report.retried, report.failed, report.expired,
                 report.deactivated_chats)
    await _tell_admins_of_expired(context, services, report)
    await _tell_admins_of_a_backlog(context, services)


async def _tell_admins_of_expired(context: BotContext, services: BotServices,
                                  report: DrainReport) -> None:
    """Alerts that stopped being news before Telegram took them: admins hear of it once per session."""
    for session in sorted(report.expired_sessions):
        if await asyncio.to_thread(services.store.first_notice, f"expired:{session}"):
            expired = (await asyncio.to_thread(services.store.stats))["deliveries"].get("expired", 0)
            await notify_admins(context, f"\u26a0\ufe0f Alerts of the {session} session expired undelivered: "
                                         f"Telegram did not take them within {services.config.delivery_window_hours:g} "
                                         f"hours of the close ({expired} expired in all, see /stats).")


async def _tell_admins_of_a_backlog(context: BotContext, services: BotServices) -> None:
    """Alerts that wait (Telegram unreachable, rate limits) are kept, not dropped: admins hear of it once."""
    oldest = await asyncio.to_thread(services.store.oldest_waiting)
    if oldest is None:
        return
    waited = datetime.now(timezone.utc) - datetime.fromisoformat(oldest)
    if waited < timedelta(minutes=BACKLOG_NOTICE_MINUTES):
        return
    if await asyncio.to_thread(services.store.first_notice, f"backlog:{oldest}"):
        pending = (await asyncio.to_thread(services.store.stats))["deliveries"].get("pending", 0)
        await notify_admins(context, f"\u26a0\ufe0f {pending} alerts are waiting to be delivered, the oldest for "
                                     f"{int(waited.total_seconds() // 60)} minutes. Nothing is dropped; they go out "
                                     f"as soon as Telegram accepts them.")
