"""A signed link to the dashboard for a browser outside Telegram (`rotation-bot webapp-link`, the demo).

Telegram opens the page with its launch parameters in the URL fragment (`#tgWebAppData=...`); the
page reads them from there when Telegram's script is absent, so a link carrying an initData signed
with the bot token, and an `expires` minutes away, shows exactly what the Mini App shows that user.
A fragment never reaches a server's logs or a proxy: only the page's API calls carry it, in a header.
"""

from __future__ import annotations

from urllib.parse import quote

from bot.webapp.init_data import user_init_data

PAGE_VERSION = "7.0"  # the Bot API version of Mini Apps the page expects


def chat_start_param(chat_id: int) -> str:
    """How a launch names the chat whose controls it opens (a group's, for one of its administrators)."""
    return f"c{chat_id}"


def dashboard_link(base_url: str, bot_token: str, user_id: int, first_name: str = "", chat_id: int | None = None,
                   minutes: float = 15.0, now: float | None = None) -> str:
    init_data = user_init_data(bot_token, user_id, first_name, now=now, valid_seconds=int(minutes * 60),
                               start_param=chat_start_param(chat_id) if chat_id not in (None, user_id) else None)
    base = base_url if base_url.endswith("/") else base_url + "/"
    return f"{base}#tgWebAppData={quote(init_data, safe='')}&tgWebAppVersion={PAGE_VERSION}&tgWebAppPlatform=web"
