"""What the handlers and jobs need of what the runtime builds, declared here, below it.

Nothing in bot/telegram names bot/runtime, for types either: the runtime's `Services` and
`AppConfig` satisfy these protocols, and the type check proves it where the runtime hands them
down (`build_application(services)`). A member a handler starts to use is added here first.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Protocol

from pydantic import SecretStr

from bot.delivery.drain import Deliverer
from bot.delivery.pacing import PacedRequest
from bot.storage import Store
from bot.telegram.listening import ListeningWatch
from bot.webapp.server import Dashboard
from signals.metrics import Metrics
from signals.settings import DetectorSettings
from signals.signal import Signal


class BotSettings(Protocol):
    """The settings read on this side (the one frozen settings object is bot/runtime/config.py's)."""

    @property
    def telegram_bot_token(self) -> SecretStr | None: ...
    @property
    def telegram_api_url(self) -> str | None: ...
    @property
    def admin_chat_ids(self) -> tuple[int, ...]: ...
    @property
    def database_name(self) -> str: ...
    @property
    def replicated(self) -> bool: ...
    @property
    def delivery_window_hours(self) -> float: ...
    @property
    def polling_give_up_seconds(self) -> float: ...
    @property
    def telegram_paid_broadcast(self) -> bool: ...
    @property
    def webapp_port(self) -> int | None: ...
    @property
    def webapp_host(self) -> str: ...
    @property
    def webapp_url(self) -> str | None: ...
    @property
    def webapp_auth_max_age_seconds(self) -> int: ...


class DueSession(Protocol):
    @property
    def session(self) -> str: ...  # YYYY-MM-DD
    @property
    def at(self) -> datetime: ...  # UTC: its close plus the evaluation delay


class SessionClock(Protocol):
    def last_due(self, now: datetime) -> DueSession | None: ...
    def next_due(self, now: datetime) -> DueSession | None: ...


class FeedStatus(Protocol):
    def status_lines(self, detail: bool = False) -> list[str]: ...


class TickReport(Protocol):
    @property
    def as_of(self) -> str: ...
    @property
    def new_signals(self) -> list[Signal]: ...


class BotServices(Protocol):
    """The runtime's services as handlers and jobs see them: its parts, and the state a job records."""

    @property
    def config(self) -> BotSettings: ...
    @property
    def settings(self) -> DetectorSettings: ...
    @property
    def store(self) -> Store: ...
    @property
    def calendar(self) -> SessionClock: ...
    @property
    def feed(self) -> FeedStatus: ...
    @property
    def tick_lock(self) -> asyncio.Lock: ...
    @property
    def offline(self) -> bool: ...

    # set once at start by the runtime: the delivery parts
    deliverer: Deliverer | None
    listening: ListeningWatch | None
    pacing: PacedRequest | None
    stop: asyncio.Event | None

    # what the jobs here record (the runtime reads it too)
    leading: bool
    damage: list[str]
    exit_reason: str | None
    last_failure: tuple[str, str] | None
    dashboard: Dashboard | None

    def is_admin(self, chat_id: int | None) -> bool: ...
    def first_reading_note(self, now: datetime | None = None) -> str: ...
    async def snapshot(self, wait_seconds: float = 120.0) -> dict[str, Any] | None: ...
    async def history(self, count: int) -> tuple[list[Signal], dict[str, Any]] | None: ...
    async def chart(self, name: str) -> tuple[str, bytes] | None: ...
    async def latest_metrics(self) -> Metrics | None: ...
    async def tick(self, trigger: str, as_of: str | None = None,
                   expected_session: str | None = None) -> TickReport | None: ...
