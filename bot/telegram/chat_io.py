"""What every handler needs: the shared services, answering (split, escaped echoes), safe parsing.

Small on purpose: commands.py, controls.py and custom_alerts.py build on it, so each of them holds
only its own handlers.
"""

from __future__ import annotations

import asyncio
import re
from html import escape
from typing import Any, TypeAlias, TypeVar, cast

from dataclasses import dataclass, field

from telegram import CallbackQuery, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot, JobQueue

from bot.presentation.messages import split_message
from bot.telegram.throttle import ChatThrottle
from bot.telegram.needs import BotServices
from bot.telegram.repeats import RepeatedFailures


T = TypeVar("T")


@dataclass
class BotData:
    """What the application holds for every handler and job: typed, never looked up by a string."""

    services: BotServices | None = None
    throttle: ChatThrottle | None = None
    failures: RepeatedFailures = field(default_factory=RepeatedFailures)


class BotContext(CallbackContext[ExtBot[Any], dict[str, Any], dict[str, Any], BotData]):
    """The context every handler and job receives (PTB's contexttypesbot example)."""

    def __init__(self, application: BotApplication, chat_id: int | None = None, user_id: int | None = None) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)

    @property
    def app(self) -> BotApplication:
        """`application` as build_application made it (PTB types it by the context's own type variable)."""
        return cast("BotApplication", self.application)

    @property
    def services(self) -> BotServices:
        services = self.bot_data.services
        assert services is not None, "build_application sets the services before any update"
        return services


CONTEXT_TYPES = ContextTypes(context=BotContext, bot_data=BotData)
# the Application as CONTEXT_TYPES and the job queue make it, for every signature that takes one
BotApplication: TypeAlias = ("Application[ExtBot[Any], BotContext, dict[str, Any], dict[str, Any], BotData, "
                             "JobQueue[BotContext]]")


TICK_JOB = "tick"  # the one scheduled tick (bot/runtime/scheduling.py); /status reads it
ECHO_LIMIT = 64  # characters of a user's own words quoted back


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def services_of(application: BotApplication) -> BotServices:
    """The services build_application handed the application (set before it starts)."""
    services = application.bot_data.services
    if services is None:
        raise LookupError("the application was not built by build_application: it has no services")
    return services


def jobs_of(application: BotApplication) -> JobQueue[BotContext]:
    """The job queue (python-telegram-bot's job-queue extra is a dependency, so it is always there)."""
    queue = application.job_queue
    if queue is None:
        raise LookupError("python-telegram-bot was installed without its job-queue extra")
    return queue


def chat_of(update: Update) -> int:
    """The chat an update came from: every handler that asks is registered for updates that have one
    (commands, messages, button presses), so a missing chat is a registration mistake, said so."""
    chat = update.effective_chat
    if chat is None:
        raise LookupError(f"update {update.update_id} has no chat: its handler is registered for the wrong updates")
    return chat.id


def query_of(update: Update) -> CallbackQuery:
    """The button press of a CallbackQueryHandler's update (always there for those handlers)."""
    query = update.callback_query
    if query is None:
        raise LookupError(f"update {update.update_id} has no button press: its handler is registered for the "
                          "wrong updates")
    return query


def clean(text: str) -> str:
    """`text` without lone surrogates (a client can send "\\ud83d" alone): they cannot be encoded as
    UTF-8, so echoing or storing them would fail; each becomes U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


async def reply(update: Update, text: str, **kwargs: Any) -> None:
    """Answer in the chat; a text over Telegram's 4,096 characters goes out in parts (buttons on the last)."""
    if update.effective_message is None:
        return
    parts = split_message(clean(text))
    for part in parts[:-1]:
        await update.effective_message.reply_text(part)
    await update.effective_message.reply_text(parts[-1], **kwargs)


def echo(words: list[str] | str) -> str:
    """A user's input quoted back: cut to ECHO_LIMIT characters, then escaped for HTML."""
    text = clean(words if isinstance(words, str) else " ".join(words))
    cut = text[:ECHO_LIMIT] + ("\u2026" if len(text) > ECHO_LIMIT else "")
    return f"\u201c{escape(cut)}\u201d"


def small_number(word: str, low: int, high: int) -> int | None:
    """`word` as an integer in [low, high]; None for anything else (`²`, `٣`, `1e3`, `-1`, 40 digits)."""
    if not re.fullmatch(r"[0-9]{1,6}", word):
        return None
    value = int(word)
    return value if low <= value <= high else None


async def remember_chat(update: Update, services: BotServices) -> None:
    chat = update.effective_chat
    if chat is not None:
        await asyncio.to_thread(services.store.upsert_chat, chat.id, chat.type, chat.title or chat.full_name or "")



def topic_of(update: Update) -> int | None:
    """The forum topic a message (or the message under a button) was sent in; None outside topics."""
    message = update.effective_message
    if message is None or not message.is_topic_message:
        return None
    return message.message_thread_id


async def bind_alerts_here(update: Update, services: BotServices) -> None:
    """In a forum group, alerts go to the topic where the chat's subscriptions were last changed
    (/subscribe, the topic buttons, /digest, /alert); the General topic, or no topic, is the chat itself."""
    chat = update.effective_chat
    if chat is None or not chat.is_forum:
        return
    thread = topic_of(update)
    current = await asyncio.to_thread(services.store.chat_settings, chat.id)
    if current.thread_id != thread:
        await asyncio.to_thread(lambda: services.store.update_chat_settings(chat.id, thread_id=thread))


async def may_change_chat(update: Update, context: BotContext) -> bool:
    """Who may change what a chat receives: in a private chat its own user; in a group or channel its
    administrators. A button pressed by someone else (a forwarded message, a forged callback) changes nothing."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return user.id == chat.id
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
