"""What a running bot learns about itself while it runs, in one place: everything else it is handed is
built once, before it starts, and never reassigned (the runtime's frozen `Services`).

The jobs and handlers here record it (whether this process leads, what the integrity check found, why
the bot stops itself), `/status` and `health` read it, and the runtime reads the exit reason.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.webapp.server import Dashboard


@dataclass
class BotState:
    leading: bool = False  # this process polls and runs the schedule (always, on a file; one replica on a server)
    damage: list[str] = field(default_factory=list)  # what the last integrity check of the database found
    exit_reason: str | None = None  # set when the bot stops itself (Telegram refused polling for minutes)
    last_failure: tuple[str, str] | None = None  # (when, why) of the last tick that failed, even unrecorded
    dashboard: Dashboard | None = None  # the Mini App's server while it serves (WEBAPP_PORT)
    stop: asyncio.Event | None = None  # the stop of a loop run by hand (a replica, a webhook); None: run_polling's
