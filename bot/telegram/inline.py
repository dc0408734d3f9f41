"""Inline mode: `@bot breadth` in any chat offers the current reading of a topic, ready to share.

The cards are the answers of the topic commands (`bot.presentation.topics.VIEWS`), read from the latest stored
snapshot, so what a user shares is what `/breadth` says. Telegram shows them only once inline mode is
switched on for the bot (@BotFather, /setinline); without a reading yet, a button opens the bot.
"""

from __future__ import annotations

import asyncio

import re
from html import unescape

from telegram import InlineQueryResultArticle, InlineQueryResultsButton, InputTextMessageContent, Update
from telegram.constants import ParseMode

from bot.presentation.topics import VIEWS
from bot.telegram.chat_io import BotContext, clean
from signals.topics import TOPIC_BY_NAME

CACHE_SECONDS = 300  # Telegram may show the same cards for this long: a reading changes once a session


def topics_for(query: str) -> list[str]:
    """The topics whose name starts with what was typed (all of them for nothing or no match)."""
    typed = query.strip().lower().lstrip("/")
    matching = [topic for topic in VIEWS if typed and topic.startswith(typed)]
    return matching or list(VIEWS)


async def inline_query(update: Update, context: BotContext) -> None:
    query = update.inline_query
    if query is None:
        return
    snapshot = await asyncio.to_thread(context.services.store.latest_snapshot)
    if snapshot is None:
        await query.answer([], cache_time=60, button=InlineQueryResultsButton(
            "No reading yet: open the bot", start_parameter="inline"))
        return
    settings = context.services.settings
    as_of = snapshot.get("as_of", "")
    results = []
    for topic in topics_for(clean(query.query)):
        text = VIEWS[topic].answer(snapshot, settings, None)
        label = TOPIC_BY_NAME[topic].label if topic in TOPIC_BY_NAME else topic
        results.append(InlineQueryResultArticle(
            id=f"{topic}:{as_of}", title=f"{label} \u00b7 {as_of} close", description=_first_reading(text),
            input_message_content=InputTextMessageContent(text, parse_mode=ParseMode.HTML)))
    await query.answer(results, cache_time=CACHE_SECONDS)



def _first_reading(text: str) -> str:
    """The answer's first line after its heading, as plain text: the card's one-line description."""
    lines = [unescape(re.sub(r"<[^>]+>", "", line)).strip(" \u2022") for line in text.splitlines()[1:]]
    return next((line for line in lines if any(ch.isdigit() for ch in line)), "")
