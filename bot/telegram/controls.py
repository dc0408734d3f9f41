"""A chat's own controls: /settings (with buttons), /digest, /quiet, /timezone.

Stored per chat in SQLite (`chat_settings`), read by the composer at send time. In groups only the
group's administrators change them, as with subscriptions.
"""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.presentation.buttons import SETTING
from bot.telegram.chat_io import BotContext, bind_alerts_here, echo, may_change_chat, remember_chat, reply
from bot.storage.preferences import ChatSettings, parse_quiet, valid_timezone

DEFAULT_QUIET = ("22:00", "07:00")  # what the quiet-hours button turns on
GROUP_ONLY = "Only this group's administrators can change its settings."


def settings_text(settings: ChatSettings, topics: set[str]) -> str:
    digest = "on: one message after each session" if settings.digest else "off: one message per signal"
    return (f"<b>Settings</b>\n"
            f"\u2022 Digest: {digest} (/digest on|off)\n"
            f"\u2022 Quiet hours: {settings.describe_quiet()} (/quiet 22:00-07:00 or /quiet off)\n"
            f"\u2022 Time zone: {settings.timezone} (/timezone Europe/Berlin)\n"
            f"\u2022 Topics: {', '.join(sorted(topics)) or 'none'} (/signals)\n"
            f"\u2022 Your own alerts: /alerts")


def settings_keyboard(settings: ChatSettings) -> InlineKeyboardMarkup:
    digest = "\u2705 Daily digest" if settings.digest else "\u2b1c Daily digest"
    quiet = (f"\u2705 Quiet {settings.quiet_start}\u2013{settings.quiet_end}" if settings.quiet_start
             else f"\u2b1c Quiet {DEFAULT_QUIET[0]}\u2013{DEFAULT_QUIET[1]}")
    return InlineKeyboardMarkup([[InlineKeyboardButton(digest, callback_data=SETTING.data("digest"))],
                                 [InlineKeyboardButton(quiet, callback_data=SETTING.data("quiet"))]])


async def _chat_to_change(update: Update, context: BotContext) -> int | None:
    """The chat a control changes; None (and a refusal sent) for a group member who is not an admin."""
    if not await may_change_chat(update, context):
        await reply(update, GROUP_ONLY)
        return None
    await remember_chat(update, context.services)
    return update.effective_chat.id


async def settings_command(update: Update, context: BotContext) -> None:
    services = context.services
    await remember_chat(update, services)
    chat_id = update.effective_chat.id
    settings = await asyncio.to_thread(services.store.chat_settings, chat_id)
    topics = await asyncio.to_thread(services.store.subscriptions, chat_id)
    await reply(update, settings_text(settings, topics), reply_markup=settings_keyboard(settings))


async def settings_button(update: Update, context: BotContext) -> None:
    """The buttons of /settings: flip digest or quiet hours, redraw the message."""
    query = update.callback_query
    services = context.services
    what = SETTING.value(query.data)
    if what not in ("digest", "quiet"):
        await query.answer("That button is out of date; send /settings for a fresh one.")
        return
    if not await may_change_chat(update, context):
        await query.answer(GROUP_ONLY, show_alert=True)
        return
    await remember_chat(update, services)
    chat_id = update.effective_chat.id
    current = await asyncio.to_thread(services.store.chat_settings, chat_id)
    if what == "digest":
        settings = await asyncio.to_thread(lambda: services.store.update_chat_settings(chat_id,
                                           digest=not current.digest))
        note = "Digest on" if settings.digest else "Digest off"
        await bind_alerts_here(update, services)
    else:
        start, end = (None, None) if current.quiet_start else DEFAULT_QUIET
        settings = await asyncio.to_thread(lambda: services.store.update_chat_settings(chat_id, quiet_start=start,
                                                                              quiet_end=end))
        note = "Quiet hours off" if start is None else f"Quiet {start}\u2013{end} ({settings.timezone})"
    await query.answer(note)
    topics = await asyncio.to_thread(services.store.subscriptions, chat_id)
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
    await asyncio.to_thread(lambda: services.store.update_chat_settings(chat_id, digest=args == ["on"]))
    await bind_alerts_here(update, services)
    if args == ["on"]:
        await reply(update, "Digest on: one message after each session's close with the day's picture and any "
                            "new signals of your topics, instead of one message per signal.")
    else:
        await reply(update, "Digest off: each signal arrives as it happens.")


async def quiet_command(update: Update, context: BotContext) -> None:
    services = context.services
    text = " ".join(context.args or []).strip()
    window = None if text.lower() == "off" else parse_quiet(text)
    if text.lower() != "off" and window is None:
        await reply(update, f"Use /quiet HH:MM-HH:MM (for example /quiet 22:00-07:00) or /quiet off "
                            f"(got {echo(text)}).")
        return
    chat_id = await _chat_to_change(update, context)
    if chat_id is None:
        return
    start, end = window if window else (None, None)
    settings = await asyncio.to_thread(lambda: services.store.update_chat_settings(chat_id, quiet_start=start,
                                                                          quiet_end=end))
    if window is None:
        await reply(update, "Quiet hours off: alerts notify as they arrive.")
    else:
        await reply(update, f"Quiet hours {start}\u2013{end} ({settings.timezone}): alerts still arrive, "
                            f"silently. /timezone changes the zone.")


async def timezone_command(update: Update, context: BotContext) -> None:
    services = context.services
    args = context.args or []
    name = valid_timezone(args[0]) if len(args) == 1 else None
    if name is None:
        await reply(update, f"Use /timezone followed by an IANA time zone name such as Europe/Berlin, "
                            f"America/Chicago or Asia/Tokyo (got {echo(args)}).")
        return
    chat_id = await _chat_to_change(update, context)
    if chat_id is None:
        return
    settings = await asyncio.to_thread(lambda: services.store.update_chat_settings(chat_id, timezone=name))
    quiet = f" Quiet hours: {settings.describe_quiet()}." if settings.quiet_start else ""
    await reply(update, f"Time zone: {name}.{quiet}")
