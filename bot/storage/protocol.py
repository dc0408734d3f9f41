"""What the bot needs of its state, in its own words: the `Store` every other module talks to.

Two engines implement it (bot/storage/sqlite.py, bot/storage/postgres.py) and one contract suite
(tests/test_store.py) holds both to it. Times are ISO-8601 strings in UTC, as the store keeps them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.storage.preferences import ChatSettings
from signals.signal import Signal


@dataclass(frozen=True)
class Delivery:
    id: int
    chat_id: int
    signal: Signal
    attempts: int
    parts_sent: int = 0  # parts of a split message already accepted by Telegram
    ambiguous: int = 0  # answers lost after sending the part at `parts_sent` (Telegram may have sent it)
    queued_at: str | None = None  # when the outbox row was written
    last_error: str | None = None


# The one bound of "alive": a replica whose last beat is older is taken for dead (its claims go out
# again, /status no longer lists it, its name may be taken). Beats come every 5 s (WATCH_EVERY_SECONDS).
ALIVE_WITHIN_SECONDS = 20.0


@dataclass(frozen=True)
class Replica:
    """A running bot on this store, as it last said."""

    name: str
    role: str  # "leader" or "standby"
    host: str
    pid: int
    started_at: str
    beat_at: str
    leader_since: str | None

    def alive(self, now: datetime) -> bool:
        return now - datetime.fromisoformat(self.beat_at) < timedelta(seconds=ALIVE_WITHIN_SECONDS)


class Store(Protocol):
    """What both engines implement, and declare (`class SqlStore(Store)`): a method missing from an
    engine fails where the engine is made (its class is abstract), and the type check names it."""

    description: str  # the file or the server, for messages (never a password)
    dialect: str  # "sqlite" or "postgresql"
    replica: str  # this process's name among replicas (its claims carry it)

    @property
    @abstractmethod
    def schema_version(self) -> int: ...
    @abstractmethod
    def close(self) -> None: ...

    # chats and subscriptions
    @abstractmethod
    def upsert_chat(self, chat_id: int, chat_type: str = "private", title: str = "") -> None: ...
    @abstractmethod
    def chat(self, chat_id: int) -> dict[str, Any] | None: ...
    @abstractmethod
    def subscribe(self, chat_id: int, topics: Iterable[str]) -> list[str]: ...
    @abstractmethod
    def unsubscribe(self, chat_id: int, topics: Iterable[str]) -> list[str]: ...
    @abstractmethod
    def subscriptions(self, chat_id: int) -> set[str]: ...
    @abstractmethod
    def deactivate_chat(self, chat_id: int, reason: str) -> int: ...
    @abstractmethod
    def migrate_chat(self, old_id: int, new_id: int) -> None: ...

    # signals and the outbox
    @abstractmethod
    def record_signals(self, signals: Iterable[Signal],
                       digest: Callable[[list[Signal]], Signal] | None = None) -> list[Signal]: ...
    @abstractmethod
    def has_signals(self) -> bool: ...
    @abstractmethod
    def record_history(self, signals: Iterable[Signal]) -> int: ...
    @abstractmethod
    def record_for_chat(self, signal: Signal, chat_id: int) -> bool: ...
    @abstractmethod
    def recent_signals(self, limit: int = 10, topics: Iterable[str] | None = None) -> list[Signal]: ...
    @abstractmethod
    def due_deliveries(self, now: str | None = None, limit: int = 500,
                       lease_seconds: float = 300.0) -> list[Delivery]: ...
    @abstractmethod
    def hold(self, ids: Iterable[int], now: str | None = None, lease_seconds: float = 300.0) -> set[int]: ...
    @abstractmethod
    def release_leases(self, ids: Iterable[int]) -> int: ...
    @abstractmethod
    def release_orphaned_leases(self, alive_within_seconds: float = ALIVE_WITHIN_SECONDS,
                                at_start: bool = True) -> int: ...
    @abstractmethod
    @abstractmethod
    def mark_sent(self, delivery_id: int, note: str | None = None) -> bool: ...
    @abstractmethod
    def mark_part_sent(self, delivery_id: int, parts_sent: int) -> bool: ...
    @abstractmethod
    def mark_retry(self, delivery_id: int, error: str, next_attempt_at: str, count_attempt: bool = True,
                   ambiguous: bool = False) -> bool: ...
    @abstractmethod
    def mark_failed(self, delivery_id: int, error: str) -> bool: ...
    @abstractmethod
    def mark_expired(self, delivery_id: int, reason: str) -> bool: ...
    @abstractmethod
    def oldest_waiting(self) -> str | None: ...
    @abstractmethod
    @abstractmethod
    def prune_sent(self, older_than_days: float = 30.0, now: datetime | None = None) -> int: ...

    # per-chat controls and a chat's own alerts
    @abstractmethod
    def chat_settings(self, chat_id: int) -> ChatSettings: ...
    @abstractmethod
    def update_chat_settings(self, chat_id: int, **changes: Any) -> ChatSettings: ...
    @abstractmethod
    def add_custom_alert(self, chat_id: int, path: str, op: str, threshold: float, limit: int) -> int | None: ...
    @abstractmethod
    def custom_alerts(self, chat_id: int | None = None) -> list[dict[str, Any]]: ...
    @abstractmethod
    def delete_custom_alert(self, chat_id: int, alert_id: int) -> bool: ...
    @abstractmethod
    def save_custom_alert_state(self, alert_id: int, active: bool, false_run: int, starts: list[str],
                                session: str) -> None: ...

    # snapshots, charts, runs
    @abstractmethod
    def save_snapshot(self, as_of: str, payload: dict[str, Any]) -> None: ...
    @abstractmethod
    def latest_snapshot(self) -> dict[str, Any] | None: ...
    @abstractmethod
    def save_chart(self, name: str, as_of: str, png: bytes) -> None: ...
    @abstractmethod
    def chart(self, name: str) -> tuple[str, bytes] | None: ...
    @abstractmethod
    def start_run(self, trigger: str) -> int: ...
    @abstractmethod
    def finish_run(self, run_id: int, outcome: str, data_as_of: str | None = None, new_signals: int = 0,
                   error: str | None = None, warnings: Iterable[str] = ()) -> None: ...
    @abstractmethod
    def last_run(self, outcome: str | None = None) -> dict[str, Any] | None: ...
    @abstractmethod
    def abandon_unfinished_runs(self) -> int: ...

    # the running bot: heartbeats, replicas, notices, checks
    @abstractmethod
    def beat(self, name: str, at: datetime | None = None) -> None: ...
    @abstractmethod
    def forget_beat(self, name: str) -> None: ...
    @abstractmethod
    def heartbeats(self) -> dict[str, str]: ...
    @abstractmethod
    def announce_replica(self, role: str, host: str, pid: int, at: datetime | None = None) -> None: ...
    @abstractmethod
    def retire_replica(self) -> None: ...
    @abstractmethod
    def replicas(self) -> list[Replica]: ...
    @abstractmethod
    def first_notice(self, key: str) -> bool: ...
    @abstractmethod
    def stats(self) -> dict[str, Any]: ...
    @abstractmethod
    def integrity(self) -> list[str]: ...
