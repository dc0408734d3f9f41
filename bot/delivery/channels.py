"""Channels: one post reaches every reader, so a channel is how the bot serves 100,000 people.

`TELEGRAM_CHANNELS=breakout:@rotation_breakouts,breadth:-1001234567890` (topic `all` allowed): at
start each channel is resolved (getChat: a public @name becomes its id, and the bot must be an
administrator there to post), stored as a chat of type "channel" and subscribed to exactly its
topics. From then on a channel is one more row in the outbox: every new signal of those topics is
posted there once, with the same retries, ordering and crash safety as any chat.

A forum group (a channel's discussion group, say) takes `topic:chat:thread`: the posts go into that
forum topic (`message_thread_id`), e.g. `breadth:-1001234567890:42`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from signals.topics import TOPIC_NAMES

if TYPE_CHECKING:  # the configuration parses TELEGRAM_CHANNELS without loading Telegram's library
    from telegram import Bot

    from bot.storage import Store

log = logging.getLogger(__name__)

_USERNAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$")
_CHAT_ID = re.compile(r"^-100[0-9]{5,15}$")


@dataclass(frozen=True)
class ChannelTarget:
    chat: str  # "@name" or "-100..." as configured
    topics: tuple[str, ...]
    thread: int | None = None  # a forum topic of that chat (message_thread_id); None: the chat itself


def parse_channels(text: str) -> tuple[ChannelTarget, ...]:
    """`topic:chat[:thread]`, comma-separated; a chat named twice collects its topics. ValueError names the bad pair."""
    topics_of: dict[str, list[str]] = {}
    thread_of: dict[str, int | None] = {}
    for pair in (part.strip() for part in text.split(",")):
        if not pair:
            continue
        topic, sep, rest = (piece.strip() for piece in pair.partition(":"))
        chat, has_thread, thread_text = (piece.strip() for piece in rest.partition(":"))
        topic = topic.lower()
        if not sep or (topic != "all" and topic not in TOPIC_NAMES):
            raise ValueError(f"TELEGRAM_CHANNELS: {pair!r} is not topic:chat (topics: {', '.join(TOPIC_NAMES)}, all)")
        if not (_USERNAME.match(chat) or _CHAT_ID.match(chat)):
            raise ValueError(f"TELEGRAM_CHANNELS: {chat!r} is not a channel (@name or -100... id)")
        if has_thread and not re.fullmatch(r"[1-9][0-9]{0,9}", thread_text):
            raise ValueError(f"TELEGRAM_CHANNELS: {pair!r}: after the chat comes a forum topic's id (a number)")
        thread = int(thread_text) if has_thread else None
        if chat in thread_of and thread_of[chat] != thread:
            raise ValueError(f"TELEGRAM_CHANNELS: {chat} is given two forum topics; its posts go to one")
        thread_of[chat] = thread
        wanted = list(TOPIC_NAMES) if topic == "all" else [topic]
        topics_of.setdefault(chat, [])
        topics_of[chat] += [t for t in wanted if t not in topics_of[chat]]
    return tuple(ChannelTarget(chat, tuple(t for t in TOPIC_NAMES if t in topics), thread_of[chat])
                 for chat, topics in topics_of.items())


async def attach_channels(bot: Bot, store: Store, targets: tuple[ChannelTarget, ...]) -> list[int]:
    """Resolve, store and subscribe each configured channel; returns the chat ids attached.

    A channel that cannot be resolved (a wrong name, the bot not a member) is logged in one line and
    skipped: the rest of the bot runs, and the next start tries again.
    """
    import asyncio  # here, with the bot's own imports: the settings parse TELEGRAM_CHANNELS without them

    from telegram.error import TelegramError

    attached: list[int] = []
    for target in targets:
        try:
            chat = await bot.get_chat(target.chat)
        except TelegramError as error:
            log.warning("channel %s: cannot post there (%s); make the bot an administrator of it", target.chat,
                        error.message)
            continue
        await asyncio.to_thread(_store_channel, store, chat.id, chat.type, chat.title or target.chat, target.topics,
                                target.thread)
        attached.append(chat.id)
        where = f" in its topic {target.thread}" if target.thread is not None else ""
        log.info("channel %s (%s) receives %s%s", target.chat, chat.id, ", ".join(target.topics), where)
    return attached


def _store_channel(store: Store, chat_id: int, chat_type: str, title: str, topics: tuple[str, ...],
                   thread: int | None) -> None:
    store.upsert_chat(chat_id, chat_type, title)
    if store.chat_settings(chat_id).thread_id != thread:
        store.update_chat_settings(chat_id, thread_id=thread)
    current = store.subscriptions(chat_id)
    store.subscribe(chat_id, [t for t in topics if t not in current])
    store.unsubscribe(chat_id, [t for t in current if t not in topics])
