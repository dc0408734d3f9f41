"""Is the bot listening? Polling watched from outside python-telegram-bot's Updater.

PTB's Updater ends its polling loop for good when getUpdates answers 401 (`InvalidToken`) while
the Application keeps running: the process is alive and deaf. The getUpdates request
(bot/delivery/request.py) turns a 401 into an error PTB's loop retries with its own backoff (1 s
growing to 30 s), as it already does for a 409 `Conflict`, so a token rejected for a moment heals
by itself. This watch decides, every few seconds, whether to give up:
- Telegram has refused polling (401/404/409) for `give_up_seconds` without one good answer in
  between: a revoked token, or another process polling with it;
- no getUpdates request is under way and none started for `stall_seconds`: the loop died.
Then the process exits non-zero with one line, and the supervisor (compose: `restart:
unless-stopped`) starts it again. Meanwhile `rotation-bot health` already fails: the last good
poll is too old.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from bot.delivery.request import TelegramRequest

REFUSALS = {401: "401 Unauthorized: the token was rejected", 404: "404 Not Found: the token was rejected",
            409: "409 Conflict: another process polls with this token"}


@dataclass
class ListeningWatch:
    request: TelegramRequest
    give_up_seconds: float = 180.0
    stall_seconds: float = 90.0  # PTB waits up to 30 s between failed polls, a long poll lasts 10 s
    clock: Callable[[], float] = time.monotonic

    def give_up_reason(self) -> str | None:
        """Why the bot should stop and be restarted, or None while it listens (or may still)."""
        now = self.clock()
        since = self.request.refusals_since
        if since is not None and now - since >= self.give_up_seconds:
            code = self.request.last_refusal[1] if self.request.last_refusal else 0
            return (f"Telegram refused polling for {self.give_up_seconds:g} s "
                    f"({REFUSALS.get(code, f'HTTP {code}')})")
        started = self.request.last_started
        if not self.request.in_flight and started is not None and now - started >= self.stall_seconds:
            return f"polling stopped: no getUpdates request for {now - started:.0f} s"
        return None
