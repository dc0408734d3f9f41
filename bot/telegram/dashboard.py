"""The dashboard Mini App on the Telegram side: who may change a chat, the buttons that open it, its server.

The page itself (bot/webapp/) knows nothing of python-telegram-bot: it gets the services it reads and
a `may_change(chat, user)` that asks Telegram here. The page is served whenever WEBAPP_PORT is set;
Telegram shows it (menu button, Dashboard buttons) only when WEBAPP_URL says where it is public.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import (Bot, Chat, ChatMember, InlineKeyboardButton, InlineKeyboardMarkup, MenuButtonWebApp, Update,
                      WebAppInfo)
from telegram.error import TelegramError

from bot.telegram.chat_io import BotApplication
from bot.webapp.server import Dashboard
from bot.telegram.needs import BotServices, BotSettings


log = logging.getLogger(__name__)

DASHBOARD_LABEL = "Dashboard"


def dashboard_button(config: BotSettings) -> InlineKeyboardButton | None:
    """The button that opens the page inside Telegram; web_app buttons work in private chats only."""
    if not config.webapp_url:
        return None
    return InlineKeyboardButton(DASHBOARD_LABEL, web_app=WebAppInfo(config.webapp_url))


def with_dashboard(markup: InlineKeyboardMarkup, update: Update, config: BotSettings) -> InlineKeyboardMarkup:
    """`markup` with a Dashboard row below it, in a private chat when the page is public."""
    button = dashboard_button(config)
    chat = update.effective_chat
    if button is None or chat is None or chat.type != Chat.PRIVATE:
        return markup
    return InlineKeyboardMarkup([*markup.inline_keyboard, [button]])


async def set_menu_button(bot: Bot, config: BotSettings) -> None:
    """The chat's menu button opens the dashboard (every private chat with the bot)."""
    if not config.webapp_url:
        return
    try:
        await bot.set_chat_menu_button(menu_button=MenuButtonWebApp(DASHBOARD_LABEL, WebAppInfo(config.webapp_url)))
    except TelegramError as exc:
        log.warning("could not set the dashboard's menu button: %s", exc)


def may_change_with(bot: Bot) -> Callable[[int, int], Awaitable[bool]]:
    """A chat's administrators (and its creator) may change what it receives, as in the chat commands."""

    async def may_change(chat_id: int, user_id: int) -> bool:
        member = await bot.get_chat_member(chat_id, user_id)
        return member.status in (ChatMember.ADMINISTRATOR, ChatMember.OWNER)

    return may_change


async def start_dashboard(application: BotApplication, services: BotServices) -> Dashboard | None:
    """Serve the page on WEBAPP_HOST:WEBAPP_PORT in the bot's loop; None when no port is set."""
    config = services.config
    if config.webapp_port is None or config.telegram_bot_token is None:
        return None
    dashboard = Dashboard(services, config.telegram_bot_token.get_secret_value(), may_change_with(application.bot),
                          max_age_seconds=config.webapp_auth_max_age_seconds)
    port = await dashboard.start(config.webapp_host, config.webapp_port)
    log.info("dashboard on http://%s:%d/%s", config.webapp_host, port,
             f" (public at {config.webapp_url})" if config.webapp_url else " (no WEBAPP_URL: Telegram shows no button)")
    services.state.dashboard = dashboard
    return dashboard


async def stop_dashboard(services: BotServices) -> None:
    if services.state.dashboard is not None:
        await services.state.dashboard.stop()
        services.state.dashboard = None
