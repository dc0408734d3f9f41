"""Inline mode: `@bot breadth` in any chat offers the current reading of a topic, ready to share.

The cards are the answers of the topic commands (`bot.presentation.topics.VIEWS`), read from the latest stored
snapshot, so what a user shares is what `/breadth` says. Telegram shows them only once inline mode is
switched on for the bot (@BotFather, /setinline); without a reading yet, a button opens the bot.
"""

from __future__ import annotations

import asyncio

import re

from telegram import InlineQueryResultArticle, InlineQueryResultsButton, InputTextMessageContent, Update
from telegram.constants import ParseMode

from bot.presentation.messages import plain
from bot.presentation.topics import VIEWS
from bot.telegram.chat_io import BotContext, clean
from signals.topics import TOPIC_BY_NAME

CACHE_SECONDS = 300  # Telegram may show the same cards for this long: a reading changes once a session


def topics_for(query: str) -> list[str]:
    """The topics whose name (or label) starts with what was typed; every topic for an empty query,
    none for a query that matches nothing (a card nobody asked for is no answer)."""
    typed = query.strip().lower().lstrip("/")
    if not typed:
        return list(VIEWS)
    return [topic for topic in VIEWS if topic.startswith(typed)
            or (topic in TOPIC_BY_NAME and TOPIC_BY_NAME[topic].label.lower().startswith(typed))]


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
    topics = topics_for(clean(query.query))
    if not topics:
        await query.answer([], cache_time=CACHE_SECONDS, button=InlineQueryResultsButton(
            f"No topic matches; try {', '.join(list(VIEWS)[:3])}…", start_parameter="inline"))
        return
    for topic in topics:
        text = VIEWS[topic].answer(snapshot, settings, None)
        label = TOPIC_BY_NAME[topic].label if topic in TOPIC_BY_NAME else topic
        results.append(InlineQueryResultArticle(
            id=f"{topic}:{as_of}", title=f"{label} \u00b7 {as_of} close", description=_first_reading(text),
            input_message_content=InputTextMessageContent(text, parse_mode=ParseMode.HTML)))
    await query.answer(results, cache_time=CACHE_SECONDS)



READING = re.compile(r"\d%|\d\.\d|\d bp")  # a number that is a reading ("S&P 500" alone is a name)


def _first_reading(text: str) -> str:
    """The answer's first reading after its heading, as plain text, named by the subheading it sits
    under ("S&P 500: Index -0.7% from its 52-week high"): the card's one-line description."""
    heading = ""
    for raw in text.splitlines()[1:]:
        line = plain(raw).strip(" \u2022")
        if READING.search(line):
            return f"{heading}: {line}" if heading else line
        if raw.startswith("<b>") and raw.endswith("</b>"):
            heading = line
    return ""
