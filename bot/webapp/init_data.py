"""Telegram's `initData`: the signed query string a Mini App receives, checked as Telegram specifies.

https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app: the data-check-
string is every received field except `hash`, sorted by key, `key=value` joined by line feeds; the
secret key is HMAC-SHA256 of the bot token keyed with "WebAppData"; the hash is the hex HMAC-SHA256
of the data-check-string under that key. Only the standard library's `hmac` and `hashlib` do the
work, and the comparison is constant-time. A signed `expires` field (a unix time) is honoured too:
`rotation-bot webapp-link` uses it for links valid for minutes; Telegram never sends one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

MAX_INIT_DATA_CHARS = 4096  # Telegram's are well under 1 KB; a longer one is not Telegram's


class InvalidInitData(ValueError):
    """initData that is missing, malformed, forged or too old: the request gets nothing."""


@dataclass(frozen=True)
class WebAppUser:
    user_id: int
    first_name: str
    auth_date: int


def _secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def _data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def sign_init_data(bot_token: str, fields: dict[str, str]) -> str:
    """`fields` signed as Telegram signs them, as a query string (for `webapp-link` and tests)."""
    digest = hmac.new(_secret_key(bot_token), _data_check_string(fields).encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


def user_init_data(bot_token: str, user_id: int, first_name: str = "", now: float | None = None,
                   valid_seconds: int | None = None, start_param: str | None = None) -> str:
    """A signed initData for `user_id`, as Telegram would give it to that user's Mini App (`start_param`
    as a t.me/...?startapp= link passes it)."""
    moment = int(time.time() if now is None else now)
    fields = {"auth_date": str(moment),
              "user": json.dumps({"id": user_id, "first_name": first_name or str(user_id)}, separators=(",", ":"))}
    if valid_seconds is not None:
        fields["expires"] = str(moment + valid_seconds)
    if start_param is not None:
        fields["start_param"] = start_param
    return sign_init_data(bot_token, fields)


def validate_init_data(init_data: str, bot_token: str, max_age_seconds: int, now: float | None = None) -> WebAppUser:
    """The user `init_data` was signed for, or InvalidInitData saying why not (logged, never shown with data)."""
    if not init_data or len(init_data) > MAX_INIT_DATA_CHARS:
        raise InvalidInitData("no initData" if not init_data else "initData too long")
    pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=False)
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise InvalidInitData("a field appears twice")
    received = fields.get("hash", "")
    expected = hmac.new(_secret_key(bot_token), _data_check_string(fields).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(received.encode(), expected.encode()):
        raise InvalidInitData("the signature does not match")
    moment = time.time() if now is None else now
    try:
        auth_date = int(fields.get("auth_date", ""))
        expires = int(fields["expires"]) if "expires" in fields else None
        user = json.loads(fields.get("user", ""))
        user_id = int(user["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInitData("initData lacks auth_date or user") from exc
    if moment - auth_date > max_age_seconds or auth_date - moment > 60:
        raise InvalidInitData("initData is too old")
    if expires is not None and moment > expires:
        raise InvalidInitData("the link has expired")
    return WebAppUser(user_id, str(user.get("first_name", "")), auth_date)
