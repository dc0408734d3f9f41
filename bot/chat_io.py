"""What every handler needs: the shared services, answering (split, escaped echoes), safe parsing.

Small on purpose: commands.py, controls.py and custom_alerts.py build on it, so each of them holds
only its own handlers.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from html import escape
from typing import Any, TypeVar

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import ContextTypes

from bot.messages import split_message
from bot.services import Services

T = TypeVar("T")


def services_of(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data["services"]


ECHO_LIMIT = 64  # characters of a user's own words quoted back


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """`text` without lone surrogates (a client can send "\\ud83d" alone): they cannot be encoded as
    UTF-8, so echoing or storing them would fail; each becomes U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


async def reply(update: Update, text: str, **kwargs) -> None:
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


async def off_loop(function: Callable[..., T], *args: Any) -> T:
    """SQLite work runs in a worker thread: a handler never waits on the event loop behind a write
    (a tick's or the price cache's) holding the database."""
    return await asyncio.to_thread(function, *args)


async def remember_chat(update: Update, services: Services) -> None:
    chat = update.effective_chat
    if chat is not None:
        await off_loop(services.store.upsert_chat, chat.id, chat.type, chat.title or chat.full_name or "")



def topic_of(update: Update) -> int | None:
    """The forum topic a message (or the message under a button) was sent in; None outside topics."""
    message = update.effective_message
    if message is None or not message.is_topic_message:
        return None
    return message.message_thread_id


async def bind_alerts_here(update: Update, services: Services) -> None:
    """In a forum group, alerts go to the topic where the chat's subscriptions were last changed
    (/subscribe, the topic buttons, /digest, /alert); the General topic, or no topic, is the chat itself."""
    chat = update.effective_chat
    if chat is None or not chat.is_forum:
        return
    thread = topic_of(update)
    current = await off_loop(services.store.chat_settings, chat.id)
    if current.thread_id != thread:
        await off_loop(lambda: services.store.update_chat_settings(chat.id, thread_id=thread))


async def may_change_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Who may change what a chat receives: in a private chat its own user; in a group or channel its
    administrators. A button pressed by someone else (a forwarded message, a forged callback) changes nothing."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return user.id == chat.id
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
