"""A chat's own controls: /settings (with buttons), /digest, /quiet, /timezone.

Stored per chat in SQLite (`chat_settings`), read by the composer at send time. In groups only the
group's administrators change them, as with subscriptions.
"""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.presentation.buttons import SETTING
from bot.presentation.chat_changes import GROUP_ONLY, quiet_usage, set_digest, set_quiet, set_timezone
from bot.telegram.chat_io import (BotContext, bind_alerts_here, chat_of, echo, may_change_chat, query_of, remember_chat,
                                  reply)
from bot.storage.preferences import ChatSettings, parse_quiet, valid_timezone

DEFAULT_QUIET = ("22:00", "07:00")  # what the quiet-hours button turns on


def settings_text(settings: ChatSettings, topics: set[str]) -> str:
    digest = "on: one message after each session" if settings.digest else "off: one message per signal"
    return (f"<b>Settings</b>\n"
            f"\u2022 Digest: {digest} (/digest on|off)\n"
            f"\u2022 Quiet hours: {settings.describe_quiet()} (/quiet 22:00-07:00 or /quiet off)\n"
            f"\u2022 Time zone: {settings.timezone} (/timezone Europe/Berlin)\n"
            f"\u2022 Topics: {', '.join(sorted(topics)) or 'none'} (/signals)\n"
            f"\u2022 Your own alerts: /alerts")


def settings_keyboard(settings: ChatSettings) -> InlineKeyboardMarkup:
    """Each button carries the state it turns on, not "flip": a button drawn before another change
    (a /digest on since) still does what its label says, or says that it already holds."""
    digest = "\u2705 Daily digest" if settings.digest else "\u2b1c Daily digest"
    quiet = (f"\u2705 Quiet {settings.quiet_start}\u2013{settings.quiet_end}" if settings.quiet_start
             else f"\u2b1c Quiet {DEFAULT_QUIET[0]}\u2013{DEFAULT_QUIET[1]}")
    turn_digest = "digest-off" if settings.digest else "digest-on"
    turn_quiet = "quiet-off" if settings.quiet_start else "quiet-on"
    return InlineKeyboardMarkup([[InlineKeyboardButton(digest, callback_data=SETTING.data(turn_digest))],
                                 [InlineKeyboardButton(quiet, callback_data=SETTING.data(turn_quiet))]])


async def _chat_to_change(update: Update, context: BotContext) -> int | None:
    """The chat a control changes; None (and a refusal sent) for a group member who is not an admin."""
    if not await may_change_chat(update, context):
        await reply(update, GROUP_ONLY)
        return None
    await remember_chat(update, context.services)
    return chat_of(update)


async def settings_command(update: Update, context: BotContext) -> None:
    services = context.services
    await remember_chat(update, services)
    chat_id = chat_of(update)
    settings = await asyncio.to_thread(services.store.chat_settings, chat_id)
    topics = await asyncio.to_thread(services.store.subscriptions, chat_id)
    await reply(update, settings_text(settings, topics), reply_markup=settings_keyboard(settings))


async def settings_button(update: Update, context: BotContext) -> None:
    """The buttons of /settings: set digest or quiet hours to what the pressed button showed, redraw."""
    query = query_of(update)
    services = context.services
    what = SETTING.value(query.data)
    if what not in ("digest-on", "digest-off", "quiet-on", "quiet-off"):
        await query.answer("That button is out of date; send /settings for a fresh one.")
        return
    if not await may_change_chat(update, context):
        await query.answer(GROUP_ONLY, show_alert=True)
        return
    await remember_chat(update, services)
    chat_id = chat_of(update)
    store = services.store
    current = await asyncio.to_thread(store.chat_settings, chat_id)
    if what.startswith("digest"):
        wanted = what == "digest-on"
        if current.digest == wanted:
            note = f"The digest is already {'on' if wanted else 'off'} (changed since this message)"
        else:
            await asyncio.to_thread(set_digest, store, chat_id, wanted)
            note = "Digest on" if wanted else "Digest off"
        await bind_alerts_here(update, services)
    else:
        wanted = what == "quiet-on"
        if bool(current.quiet_start) == wanted:
            note = (f"Quiet hours are already {current.describe_quiet() if wanted else 'off'} "
                    f"(changed since this message)")
        else:
            await asyncio.to_thread(set_quiet, store, chat_id, "-".join(DEFAULT_QUIET) if wanted else "off")
            note = f"Quiet {DEFAULT_QUIET[0]}\u2013{DEFAULT_QUIET[1]} ({current.timezone})" if wanted \
                else "Quiet hours off"
    await query.answer(note)
    settings = await asyncio.to_thread(store.chat_settings, chat_id)
    topics = await asyncio.to_thread(store.subscriptions, chat_id)
    await query.edit_message_text(settings_text(settings, topics), reply_markup=settings_keyboard(settings))


async def digest_command(update: Update, context: BotContext) -> None:
    services = context.services
    args = [a.lower() for a in (context.args or [])]
    if args not in (["on"], ["off"]):
        await reply(update, f"Use /digest on or /digest off (got {echo(context.args or [])}).")
        return
    chat_id = await _chat_to_change(update, context)
    if chat_id is None:
        return
    change = await asyncio.to_thread(set_digest, services.store, chat_id, args == ["on"])
    await bind_alerts_here(update, services)
    await reply(update, change.message)


async def quiet_command(update: Update, context: BotContext) -> None:
    services = context.services
    text = " ".join(context.args or []).strip()
    if text.lower() != "off" and parse_quiet(text) is None:
        await reply(update, quiet_usage(echo(text)))
        return
    chat_id = await _chat_to_change(update, context)
    if chat_id is None:
        return
    change = await asyncio.to_thread(set_quiet, services.store, chat_id, text)
    await reply(update, change.message if change.ok else quiet_usage(echo(text)))


async def timezone_command(update: Update, context: BotContext) -> None:
    services = context.services
    args = context.args or []
    usage = (f"Use /timezone followed by an IANA time zone name such as Europe/Berlin, "
             f"America/Chicago or Asia/Tokyo (got {echo(args)}).")
    if len(args) != 1 or valid_timezone(args[0]) is None:
        await reply(update, usage)
        return
    chat_id = await _chat_to_change(update, context)
    if chat_id is None:
        return
    change = await asyncio.to_thread(set_timezone, services.store, chat_id, args[0])
    await reply(update, change.message if change.ok else usage)
