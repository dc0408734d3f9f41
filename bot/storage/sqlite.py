"""The embedded engine: all state in one private SQLite file, the default.

One process uses the file at a time (bot/runtime/instance_lock.py), so a claim needs no row locks: the
write transaction (BEGIN IMMEDIATE) already excludes every other writer. The partial index on
pending rows is named, because SQLite's planner would otherwise sort every due row.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.storage.sql_store import SqlStore
from signals.database import SqliteDatabase


class SqliteStore(SqlStore):
    claim_from = "outbox INDEXED BY outbox_pending_by_id"

    def __init__(self, path: str | Path, replica: str = "main") -> None:
        self.path = Path(path).expanduser()
        super().__init__(SqliteDatabase(self.path), replica)

    def _version_before_records(self) -> int:
        assert isinstance(self.db, SqliteDatabase)
        return self.db.user_version()

    def delivery_counts(self) -> dict[str, int]:
        """Six rows kept by triggers (migration 6): /status reads them instead of scanning the outbox."""
        return {row["status"]: int(row["n"]) for row in
                self.db.query("SELECT status, n FROM outbox_counts WHERE n > 0")}


def full_check(path: Path) -> list[str]:
    """SQLite's full integrity check, read-only (the file is never written, so a damaged one stays as it
    was for recovery): ["ok"], or every problem it found."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute("PRAGMA integrity_check").fetchall()]
    finally:
        connection.close()
