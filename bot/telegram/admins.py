"""What the administrators are told, and the one place a damaged store is said (log, admins, /status)."""

from __future__ import annotations

import logging
from html import escape

from telegram.error import TelegramError

from bot.storage import damage_line
from bot.telegram.chat_io import BotContext
from signals.database import names_corruption

log = logging.getLogger(__name__)


async def notify_admins(context: BotContext, text: str) -> None:
    for chat_id in context.services.config.admin_chat_ids:
        try:
            await context.bot.send_message(chat_id, escape(text))
        except TelegramError:
            log.warning("could not notify admin chat %s", chat_id, exc_info=True)


async def say_damage(context: BotContext, error: BaseException | None) -> bool:
    """A store error that names corruption is said at once (the log, the admins, /status), not at the
    next daily check: whatever touched the damaged pages found out first. True when it was one."""
    if not names_corruption(error):
        return False
    services = context.services
    if not services.state.damage:
        services.state.damage = [f"{type(error).__name__}: {error}"]
        line = damage_line(services.config.database_name, services.state.damage)
        log.error(line)
        await notify_admins(context, f"\u26a0\ufe0f {line}")
    return True
