"""Logging for the programs (never configured on import of a library module).

httpx logs every request URL at INFO, and Bot API URLs contain the token: its logger is held at
WARNING. Whatever still mentions the token (an exception message, a traceback, a URL in an error)
is masked by the formatter, after the whole record (message, traceback, stack) is formatted.
APScheduler logs two INFO lines per job run; the outbox drain runs every 10 s, so it is held at
WARNING too (DEBUG shows everything).
"""

from __future__ import annotations

import logging
from urllib.parse import quote


def redact(text: str, secret: str | None) -> str:
    """`text` with the token, raw or URL-quoted, replaced by <token>."""
    if not secret:
        return text
    for form in {secret, quote(secret, safe=""), quote(secret)}:
        text = text.replace(form, "<token>")
    return text


class RedactToken(logging.Filter):
    """Masks the token in the record itself (message, traceback, stack), so every handler after this
    one sees it masked too."""

    def __init__(self, secret: str | None) -> None:
        super().__init__()
        self.secret = secret
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secret:
            return True
        record.msg = redact(record.getMessage(), self.secret)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secret)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secret)
        return True


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secret: str | None) -> None:
        super().__init__(fmt)
        self.secret = secret

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secret)


class OneLineNetworkErrors(logging.Filter):
    """python-telegram-bot logs an unreadable answer or a failed poll with its traceback: one line is
    enough for trouble on the network, which the bot retries anyway (DEBUG keeps the traceback)."""

    PREFIXES = ("telegram.request", "telegram.ext.Updater", "telegram.ext._updater", "telegram._bot",
                "telegram.ext._utils.networkloop")

    def filter(self, record: logging.LogRecord) -> bool:
        ours = record.name == "telegram.ext" or record.name.startswith(self.PREFIXES)
        if record.exc_info and ours and record.levelno > logging.DEBUG:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def setup_logging(level: str, secret: str | None = None) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secret))
    if level != "DEBUG":
        handler.addFilter(OneLineNetworkErrors())
    handler.addFilter(RedactToken(secret))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(quiet if noisy == "apscheduler" else logging.WARNING)
