"""The Telegram commands: one table from which handlers, `set_my_commands` and /help are generated.

Each handler is thin: parse the arguments, call one store or service function, reply with a message
from `bot.presentation.messages`. Bad input is answered where it happens, listing what is valid; anything
unexpected goes to the one error handler in `bot.telegram.application`.
"""

from __future__ import annotations

import asyncio


from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar
from html import escape
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.presentation.buttons import CHART, HISTORY, SETTING, TOGGLE_TOPIC, ButtonRoute
from bot.presentation.chat_changes import change_topics
from bot.presentation.topics import CHARTS, VIEWS, TopicView
from bot.telegram.admins import say_damage
from bot.telegram.dashboard import with_dashboard
from bot.telegram.status import status_text
from bot.telegram.custom_alerts import alert_command, alerts_command
from bot.telegram.controls import digest_command, quiet_command, settings_button, settings_command, timezone_command
from bot.telegram.chat_io import (
    ECHO_LIMIT,
    bind_alerts_here,
    chat_of,
    echo,
    may_change_chat,
    query_of,
    remember_chat,
    reply,
    small_number,
)
from bot.presentation.messages import (
    history_message,
    picture_lines,
    plural,
    signal_message,
)
from signals.topics import TOPIC_BY_NAME, TOPIC_NAMES, TOPICS
from signals.universe_specs import UNIVERSES
from bot.telegram.chat_io import BotContext
from bot.telegram.needs import BotServices


Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]
T = TypeVar("T")
NEW_YORK = ZoneInfo("America/New_York")
HISTORY_DEFAULT, HISTORY_MAX = 10, 50
CHECKED, UNCHECKED = "\u2705", "\u2b1c"


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    help: str
    admin_only: bool = False
    usage: str = ""


def chart_keyboard(*names: str) -> InlineKeyboardMarkup:
    labels = {u.chart: f"{u.label} chart" for u in UNIVERSES}
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"\U0001F4C8 {labels.get(name, 'Chart')}",
                                                       callback_data=CHART.data(name)) for name in names]])


def topics_keyboard(subscribed: set[str]) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(f"{CHECKED if topic in subscribed else UNCHECKED} {TOPIC_BY_NAME[topic].label}",
                                  callback_data=TOGGLE_TOPIC.data(topic))] for topic in TOPIC_NAMES]
    return InlineKeyboardMarkup(rows)


def parse_topics(args: list[str]) -> list[str] | None:
    """`all` or known topic names (case-insensitive); None when any argument is unknown or none given."""
    words = [word.lower() for word in args]
    if not words:
        return None
    if words == ["all"]:
        return list(TOPIC_NAMES)
    if all(word in TOPIC_NAMES for word in words):
        return list(dict.fromkeys(words))
    return None


def valid_topics_text() -> str:
    return ", ".join(TOPIC_NAMES) + " or all"


# handlers -------------------------------------------------------------------------------------


async def start(update: Update, context: BotContext) -> None:
    services = context.services
    await remember_chat(update, services)
    subscribed = await asyncio.to_thread(services.store.subscriptions, chat_of(update))
    await reply(
        update,
        "<b>rotation-bot</b> watches the US market for a rotation out of a few mega-caps into the broad "
        "market and small caps, and alerts you when the picture changes:\n"
        + "".join(f"\u2022 <b>{topic.name}</b>: {escape(topic.about)}\n" for topic in TOPICS)
        + "\nTap a topic to subscribe, /settings for a daily digest or quiet hours, /help for the commands.",
        reply_markup=with_dashboard(topics_keyboard(subscribed), update, services.config),
    )


async def help_command(update: Update, context: BotContext) -> None:
    services = context.services
    admin = services.is_admin(chat_of(update) if update.effective_chat else None)
    await reply(update, help_text(admin))


def help_text(admin: bool) -> str:
    lines = ["<b>Commands</b>"]
    for command in COMMANDS:
        if command.admin_only and not admin:
            continue
        usage = f" {escape(command.usage)}" if command.usage else ""
        lines.append(f"/{command.name}{usage} \u2014 {escape(command.help)}")
    return "\n".join(lines)


def snapshot_command(view: TopicView) -> Handler:
    """A topic's reading (`/rates`); a topic with choices takes one (`/breadth russell2000`)."""
    async def show(update: Update, context: BotContext) -> None:
        services = context.services
        await remember_chat(update, services)
        args = [a.lower() for a in (context.args or [])]
        choice = None
        if view.choices and args:
            if len(args) > 1 or args[0] not in view.choices:
                await reply(update, f"Use /{view.name}, or /{view.name} followed by {' or '.join(view.choices)} "
                                    f"(got {echo(context.args or [])}).")
                return
            choice = args[0]
        snapshot = await services.snapshot()  # asked in the first seconds after a start: answered when ready
        if snapshot is None:
            await reply(update, services.first_reading_note())
            return
        await reply(update, view.answer(snapshot, services.settings, choice),
                    reply_markup=with_dashboard(chart_keyboard(*view.charts_for(choice)), update, services.config))

    show.__name__ = f"show_{view.name}"
    return show


async def signals_command(update: Update, context: BotContext) -> None:
    services = context.services
    await remember_chat(update, services)
    subscribed = await asyncio.to_thread(services.store.subscriptions, chat_of(update))
    lines = ["<b>Signals</b> (tap to toggle)"]
    for topic in TOPIC_NAMES:
        state = "subscribed" if topic in subscribed else "off"
        lines.append(f"\u2022 {TOPIC_BY_NAME[topic].label} (<code>{topic}</code>): {state}")
    await reply(update, "\n".join(lines), reply_markup=topics_keyboard(subscribed))


def subscription_command(subscribe: bool) -> Handler:
    verb = "subscribe" if subscribe else "unsubscribe"

    async def change(update: Update, context: BotContext) -> None:
        services = context.services
        await remember_chat(update, services)
        topics = parse_topics(context.args or [])
        if topics is None:
            given = " ".join(context.args or [])
            problem = f"Unknown topic {echo(given)}." if given else "Which topic?"
            await reply(update, f"{problem} Use /{verb} followed by {valid_topics_text()}.")
            return
        if not await may_change_chat(update, context):
            await reply(update, "Only this group's administrators can change its subscriptions.")
            return
        change = await asyncio.to_thread(change_topics, services.store, chat_of(update), topics, subscribe)
        await bind_alerts_here(update, services)
        await reply(update, change.message)

    change.__name__ = verb
    return change


async def history(update: Update, context: BotContext) -> None:
    services = context.services
    args = context.args or []
    count = HISTORY_DEFAULT
    if args:
        number = small_number(args[0], 1, HISTORY_MAX) if len(args) == 1 else None
        if number is None:
            await reply(update, f"Use /history or /history N with N from 1 to {HISTORY_MAX} (got {echo(args)}).")
            return
        count = number
    found = await services.history(count)
    if found is None:
        await reply(update, services.first_reading_note())
        return
    signals, snapshot = found
    if not signals:
        await reply(update, f"No signals in the data so far (evaluated to {snapshot.get('as_of')}).")
        return
    detail = InlineKeyboardMarkup([[InlineKeyboardButton("Full detail", callback_data=HISTORY.data(count))]])
    await reply(update, history_message(signals, snapshot.get("records") or {}, snapshot.get("active") or {}),
                reply_markup=detail)


async def history_button(update: Update, context: BotContext) -> None:
    """The button under /history: the same signals as their full alerts."""
    query = query_of(update)
    count = small_number(HISTORY.value(query.data), 1, HISTORY_MAX)
    if count is None:
        await query.answer("That button is out of date; send /history for a fresh one.")
        return
    await query.answer()
    signals = await asyncio.to_thread(context.services.store.recent_signals, count)
    await reply(update, "\n\n".join(signal_message(s) for s in signals) or "No signals yet.")


async def chart(update: Update, context: BotContext) -> None:
    services = context.services
    args = context.args or []
    name = args[0].lower() if args else "breadth"
    if len(args) > 1 or name not in CHARTS:
        await reply(update, f"Use /chart followed by {', '.join(CHARTS)} (got {echo(args)}).")
        return
    await send_chart(update, services, name)


async def chart_button(update: Update, context: BotContext) -> None:
    """The chart button under a topic's answer."""
    query = query_of(update)
    name = CHART.value(query.data)
    if name not in CHARTS:
        await query.answer("That button is out of date; send /chart for a fresh one.")
        return
    await query.answer()
    await send_chart(update, context.services, name)


async def send_chart(update: Update, services: BotServices, name: str) -> None:
    stored = await services.chart(name)
    if stored is None:
        await reply(update, services.first_reading_note().replace("No reading yet", "No chart yet", 1))
        return
    as_of, png = stored
    if update.effective_message is not None:
        await update.effective_message.reply_photo(png, caption=f"{escape(CHARTS[name].title)} \u00b7 {as_of} close")


async def status(update: Update, context: BotContext) -> None:
    services = context.services
    admin = services.is_admin(chat_of(update) if update.effective_chat else None)
    answer = await asyncio.to_thread(status_text, services, context, admin)
    await reply(update, answer.text)
    for error in answer.store_errors:
        await say_damage(context, error)


async def run_now(update: Update, context: BotContext) -> None:
    services = context.services
    if services.tick_lock.locked():
        await reply(update, "A tick is already running; /status shows it.")
        return
    await reply(update, "Running a tick now\u2026")
    result = await services.tick("admin")
    if result is None:
        await reply(update, "A tick is already running; /status shows it.")
        return
    counted = plural(len(result.new_signals), "new signal")
    await reply(update, f"Tick done: data as of {escape(result.as_of)}, {counted}.")


async def stats(update: Update, context: BotContext) -> None:
    numbers = await asyncio.to_thread(context.services.store.stats)
    topics = ", ".join(f"{t} {numbers['subscriptions'].get(t, 0)}" for t in TOPIC_NAMES)
    deliveries = ", ".join(f"{k} {v}" for k, v in sorted(numbers["deliveries"].items())) or "none"
    channels = [f"\u2022 {escape(row['title'] or str(row['id']))}: sent {row['sent'] or 0}, pending "
                f"{row['pending'] or 0}, failed {row['failed'] or 0}{'' if row['active'] else ' (cannot post)'}"
                for row in numbers["channels"]]
    await reply(update, f"<b>Stats</b>\nChats: {numbers['active_chats']} active of {numbers['chats']}\n"
                        f"Subscriptions: {topics}\nSignals stored: {numbers['signals']}, digests "
                        f"{numbers['digests']}, own alerts set {numbers['own_alerts']}\nDeliveries: {deliveries}\n"
                        f"Channels: {len(channels) or 'none'}" + "".join(f"\n{line}" for line in channels))


async def toggle_button(update: Update, context: BotContext) -> None:
    """The inline buttons of /start and /signals: flip one topic and redraw the buttons."""
    query = query_of(update)
    services = context.services
    topic = TOGGLE_TOPIC.value(query.data)
    if topic not in TOPIC_NAMES:
        await query.answer("That button is out of date; send /signals for a fresh one.")
        return
    if not await may_change_chat(update, context):
        await query.answer("Only this group's administrators can change its subscriptions.", show_alert=True)
        return
    await remember_chat(update, services)
    chat_id = chat_of(update)
    subscribe = topic not in await asyncio.to_thread(services.store.subscriptions, chat_id)
    await asyncio.to_thread(change_topics, services.store, chat_id, [topic], subscribe)
    note = f"Subscribed to {topic}" if subscribe else f"Unsubscribed from {topic}"
    await bind_alerts_here(update, services)
    await query.answer(note)
    await query.edit_message_reply_markup(topics_keyboard(await asyncio.to_thread(services.store.subscriptions,
                                                                                  chat_id)))


async def plain_text(update: Update, context: BotContext) -> None:
    """Words in a private chat: a person expects an answer. A short hint and the current headline."""
    snapshot = await asyncio.to_thread(context.services.store.latest_snapshot)
    if snapshot is None:
        now = context.services.first_reading_note()
    else:
        now = f"Now ({escape(snapshot['as_of'])} close): {escape(picture_lines(snapshot)[0])}."
    await reply(update, f"I answer commands rather than messages: /breadth for the current picture, /help for "
                        f"the rest.\n{now}")


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command nobody handles: explained, unless it was meant for another bot in the group."""
    text = (update.effective_message.text or "") if update.effective_message else ""
    word = text.split()[0] if text.split() else ""
    _, _, addressee = word.partition("@")
    if addressee and addressee.lower() != (context.bot.username or "").lower():
        return  # /breadth@otherbot: not ours to answer
    await reply(update, f"Unknown command {escape(word[:ECHO_LIMIT])}. /help lists what I understand.")


async def stale_button(update: Update, context: BotContext) -> None:
    """Any other button press is answered too, or the user's spinner never stops."""
    if update.callback_query is not None:
        await update.callback_query.answer("That button is out of date; send /signals for a fresh one.")


COMMANDS: tuple[Command, ...] = (
    Command("start", start, "what the bot does, with buttons to subscribe"),
    Command("help", help_command, "this list"),
    # one reading per topic, from its view (bot/presentation/topics/): /breadth takes a universe
    *(Command(view.name, snapshot_command(view), view.topic.reading,
              usage=f"[{'|'.join(view.choices)}]" if view.choices else "") for view in VIEWS.values()),
    Command("signals", signals_command, "the signal topics and this chat's subscriptions"),
    Command("subscribe", subscription_command(True), "receive alerts of a topic", usage="<topic|all>"),
    Command("unsubscribe", subscription_command(False), "stop alerts of a topic", usage="<topic|all>"),
    Command("chart", chart, "a chart of the last year: " + ", ".join(CHARTS), usage="[name]"),
    Command("history", history, "recent signals, one line each, and each key's record", usage="[n]"),
    Command("settings", settings_command, "this chat's digest, quiet hours, time zone, with buttons"),
    Command("digest", digest_command, "one message per session instead of one per signal", usage="on|off"),
    Command("quiet", quiet_command, "alerts arrive silently in these hours", usage="HH:MM-HH:MM|off"),
    Command("timezone", timezone_command, "the time zone of your quiet hours", usage="<IANA name>"),
    Command("alert", alert_command, "your own alert on any metric, or delete one",
            usage="<metric path> above|below <number> | delete <id>"),
    Command("alerts", alerts_command, "your own alerts, with their current values"),
    Command("status", status, "last run, data as-of, next run, warnings"),
    Command("run", run_now, "run a tick now", admin_only=True),
    Command("stats", stats, "chats, subscriptions, deliveries", admin_only=True),
)

# every inline button's route and its handler, beside the commands (bot/presentation/buttons.py spells the data)
BUTTONS: tuple[tuple[ButtonRoute, Handler], ...] = (
    (TOGGLE_TOPIC, toggle_button),
    (SETTING, settings_button),
    (CHART, chart_button),
    (HISTORY, history_button),
)
