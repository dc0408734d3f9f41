"""All of the bot's state in one SQLite file: chats, subscriptions, signals, the outbox, snapshots, runs.

Everything a restart needs is here; nothing lives only in memory. The schema is versioned with
SQLite's `user_version` and migrated forward at open. The file is private (mode 0600) and in WAL
mode, so commands can read while a tick writes.

One connection is shared by the event loop and the worker thread of a tick, behind a lock: every
method is a short statement or transaction, so contention is negligible.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from signals.signal import Signal
from bot.preferences import ChatSettings
from signals.sqlite_file import connect_private
from signals.topics import TOPIC_NAMES


MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE chats (
        id INTEGER PRIMARY KEY,
        type TEXT NOT NULL DEFAULT 'private',
        title TEXT NOT NULL DEFAULT '',
        active INTEGER NOT NULL DEFAULT 1,
        inactive_reason TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE subscriptions (
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE ON DELETE CASCADE,
        topic TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (chat_id, topic)
    );
    CREATE TABLE signals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        date TEXT NOT NULL,
        direction TEXT NOT NULL,
        type TEXT NOT NULL,
        title TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        UNIQUE (key, date, direction)
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        signal_id INTEGER NOT NULL REFERENCES signals(id),
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE (signal_id, chat_id)
    );
    CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);
    CREATE INDEX outbox_chat ON outbox (chat_id, status);
    CREATE TABLE snapshots (
        as_of TEXT PRIMARY KEY,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        trigger TEXT NOT NULL DEFAULT 'schedule',
        data_as_of TEXT,
        outcome TEXT NOT NULL DEFAULT 'running',
        new_signals INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
    """,
    # 2: one-time notices (an admin is told once that a session's data is stale)
    """
    CREATE TABLE notices (key TEXT PRIMARY KEY, created_at TEXT NOT NULL);
    """,
    # 3: the charts of the latest session, drawn when first asked, so /chart serves stored bytes
    """
    CREATE TABLE charts (name TEXT PRIMARY KEY, as_of TEXT NOT NULL, png BLOB NOT NULL, created_at TEXT NOT NULL);
    """,
    # 4: delivery state per message part (a split alert whose second part failed never resends the
    # first), and answers Telegram may or may not have acted on (retried once, then left alone)
    """
    ALTER TABLE outbox ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN ambiguous INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN lease_until TEXT;
    """,
    # 5: heartbeats (the event loop, ticks) that `rotation-bot health` reads; sent rows pruned by age
    """
    CREATE TABLE heartbeats (name TEXT PRIMARY KEY, at TEXT NOT NULL);
    CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE status = 'sent';
    """,
    # 6: delivery counts kept by triggers, so /status and /stats read six rows instead of scanning
    # the outbox; pending rows served in id order by a partial index (no sort of every due row)
    """
    CREATE TABLE outbox_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL);
    INSERT INTO outbox_counts (status, n) SELECT status, COUNT(*) FROM outbox GROUP BY status;
    CREATE TRIGGER outbox_counted_insert AFTER INSERT ON outbox BEGIN
        INSERT INTO outbox_counts (status, n) VALUES (NEW.status, 1)
            ON CONFLICT(status) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER outbox_counted_delete AFTER DELETE ON outbox BEGIN
        UPDATE outbox_counts SET n = n - 1 WHERE status = OLD.status;
    END;
    CREATE TRIGGER outbox_counted_update AFTER UPDATE OF status ON outbox WHEN OLD.status <> NEW.status BEGIN
        UPDATE outbox_counts SET n = n - 1 WHERE status = OLD.status;
        INSERT INTO outbox_counts (status, n) VALUES (NEW.status, 1)
            ON CONFLICT(status) DO UPDATE SET n = n + 1;
    END;
    CREATE INDEX outbox_pending_by_id ON outbox (id) WHERE status = 'pending';
    """,
    # 7: the sectors and credit topics arrive. A chat that took every topic there was (it asked for
    # "all", or ticked each) gets the new ones too; a chat that chose some keeps its choice.
    """
    INSERT OR IGNORE INTO subscriptions (chat_id, topic, created_at)
        SELECT chat_id, new.topic, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
        FROM subscriptions JOIN (SELECT 'sectors' AS topic UNION ALL SELECT 'credit') AS new
        WHERE subscriptions.topic IN ('breadth', 'breakout', 'rates')
        GROUP BY chat_id, new.topic HAVING COUNT(DISTINCT subscriptions.topic) = 3;
    """,
    # 8: per-chat controls (digest, quiet hours, time zone) and a chat's own alerts on metric paths
    """
    CREATE TABLE chat_settings (
        chat_id INTEGER PRIMARY KEY REFERENCES chats(id) ON UPDATE CASCADE ON DELETE CASCADE,
        digest INTEGER NOT NULL DEFAULT 0,
        quiet_start TEXT,
        quiet_end TEXT,
        timezone TEXT NOT NULL DEFAULT 'America/New_York',
        updated_at TEXT NOT NULL
    );
    CREATE TABLE custom_alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON UPDATE CASCADE ON DELETE CASCADE,
        path TEXT NOT NULL,
        op TEXT NOT NULL,
        threshold REAL NOT NULL,
        active INTEGER NOT NULL DEFAULT 0,
        false_run INTEGER NOT NULL DEFAULT 0,
        starts TEXT NOT NULL DEFAULT '[]',
        last_session TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX custom_alerts_chat ON custom_alerts (chat_id);
    """,
    # 9: a run keeps the data warnings it saw (bad rows, truncated or missing files), so /status can
    # name them; outbox rows past their window are 'expired' (no schema change: a status value)
    """
    ALTER TABLE runs ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';
    """,
    # 10: a forum group's alerts go to one of its topics (message_thread_id); NULL: the chat itself
    """
    ALTER TABLE chat_settings ADD COLUMN thread_id INTEGER;
    """,
    # 11: the cycle topic arrives; as in 7, a chat that took every topic there was gets it too
    """
    INSERT OR IGNORE INTO subscriptions (chat_id, topic, created_at)
        SELECT chat_id, 'cycle', strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') FROM subscriptions
        WHERE topic IN ('breadth', 'breakout', 'rates', 'sectors', 'credit')
        GROUP BY chat_id HAVING COUNT(DISTINCT topic) = 5;
    """,
)


# who gets a digest: active chats that asked for digests and follow at least one topic
_DIGEST_AUDIENCE = ("SELECT DISTINCT chats.id FROM chats JOIN chat_settings ON chat_settings.chat_id = chats.id "
                    "JOIN subscriptions ON subscriptions.chat_id = chats.id WHERE chats.active = 1 AND digest = 1")


def full_check(path: Path) -> list[str]:
    """SQLite's full integrity check, read-only (the file is never written, so a damaged one stays as it
    was for recovery): ["ok"], or every problem it found."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute("PRAGMA integrity_check").fetchall()]
    finally:
        connection.close()


def damage_line(path: Path, damage: list[str]) -> str:
    """What `Store.integrity` found, as one line that names the file, what is wrong, and what to do."""
    more = f" (and {len(damage) - 1} more)" if len(damage) > 1 else ""
    return (f"the database {path} is damaged: {damage[0]}{more}; stop the bot and restore it from a backup, "
            f"or recover it as README's 'A damaged database' says (`rotation-bot db check` lists every problem)")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


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


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.RLock()
        self.db = sqlite_utils.Database(connect_private(self.path))
        self.db.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query(sql, list(params)))

    def _migrate(self) -> None:
        with self._lock:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self.db.conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    # chats and subscriptions ------------------------------------------------------------------

    def upsert_chat(self, chat_id: int, chat_type: str = "private", title: str = "") -> None:
        """Remember a chat that talked to the bot; a chat that comes back is active again."""
        now = utc_now()
        with self._lock:
            self.db.execute(
                "INSERT INTO chats (id, type, title, active, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET type = excluded.type, title = excluded.title, active = 1, "
                "inactive_reason = NULL, updated_at = excluded.updated_at",
                [chat_id, chat_type, title, now, now],
            )

    def chat(self, chat_id: int) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM chats WHERE id = ?", [chat_id])
        return rows[0] if rows else None

    def subscribe(self, chat_id: int, topics: Iterable[str]) -> list[str]:
        """Subscribe to each topic; returns the topics that were new."""
        added = []
        with self.transaction() as db:
            for topic in topics:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO subscriptions (chat_id, topic, created_at) VALUES (?, ?, ?)",
                    [chat_id, topic, utc_now()],
                )
                if cursor.rowcount:
                    added.append(topic)
        return added

    def unsubscribe(self, chat_id: int, topics: Iterable[str]) -> list[str]:
        """Unsubscribe; pending deliveries of those topics to this chat are cancelled too."""
        removed = []
        with self.transaction() as db:
            for topic in topics:
                cursor = db.execute("DELETE FROM subscriptions WHERE chat_id = ? AND topic = ?", [chat_id, topic])
                if cursor.rowcount:
                    removed.append(topic)
                    db.execute(
                        "UPDATE outbox SET status = 'cancelled', last_error = 'unsubscribed' WHERE chat_id = ? "
                        "AND status = 'pending' AND signal_id IN (SELECT id FROM signals WHERE type = ?)",
                        [chat_id, topic],
                    )
        return removed

    def subscriptions(self, chat_id: int) -> set[str]:
        return {row["topic"] for row in self._query("SELECT topic FROM subscriptions WHERE chat_id = ?", [chat_id])}

    def deactivate_chat(self, chat_id: int, reason: str) -> int:
        """The chat blocked the bot or is gone: stop delivering to it; returns deliveries cancelled."""
        with self.transaction() as db:
            db.execute("UPDATE chats SET active = 0, inactive_reason = ?, updated_at = ? WHERE id = ?",
                       [reason, utc_now(), chat_id])
            cursor = db.execute(
                "UPDATE outbox SET status = 'cancelled', last_error = ? WHERE chat_id = ? AND status = 'pending'",
                [reason, chat_id],
            )
            return cursor.rowcount

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: the same chat under a new id keeps everything."""
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM chats WHERE id = ?", [new_id]).fetchone():
                db.execute("INSERT OR IGNORE INTO subscriptions (chat_id, topic, created_at) "
                           "SELECT ?, topic, created_at FROM subscriptions WHERE chat_id = ?", [new_id, old_id])
                db.execute("UPDATE OR IGNORE outbox SET chat_id = ? WHERE chat_id = ?", [new_id, old_id])
                db.execute("DELETE FROM outbox WHERE chat_id = ?", [old_id])
                db.execute("DELETE FROM chats WHERE id = ?", [old_id])
            else:
                db.execute("UPDATE chats SET id = ?, type = 'supergroup', updated_at = ? WHERE id = ?",
                           [new_id, utc_now(), old_id])

    # signals and the outbox --------------------------------------------------------------------

    def record_signals(self, signals: Iterable[Signal],
                       digest: Callable[[list[Signal]], Signal] | None = None) -> list[Signal]:
        """Store new signals and, in the same transaction, one delivery per subscribed active chat.

        A signal already stored (same key, date, direction) is ignored with its deliveries, so a
        tick run twice never alerts twice. Returns the signals that were new. Chats that take a
        digest get no stream: `digest(new)` builds the session's digest, recorded in the same
        transaction (so a crash cannot keep a signal out of both), once per session, plus a
        follow-up digest whenever a later run of that session finds new signals (revised data).
        """
        new: list[Signal] = []
        now = utc_now()
        with self.transaction() as db:
            for signal in signals:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO signals (key, date, direction, type, title, detail, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [signal.key, signal.date, signal.direction, signal.type, signal.title,
                     json.dumps(signal.detail, sort_keys=True), now],
                )
                if not cursor.rowcount:
                    continue
                signal_id = int(cursor.lastrowid)
                new.append(signal)
                db.execute(
                    "INSERT OR IGNORE INTO outbox (signal_id, chat_id, next_attempt_at, created_at) "
                    "SELECT ?, chats.id, ?, ? FROM chats JOIN subscriptions ON subscriptions.chat_id = chats.id "
                    "WHERE chats.active = 1 AND subscriptions.topic = ? AND NOT EXISTS "
                    "(SELECT 1 FROM chat_settings WHERE chat_settings.chat_id = chats.id AND digest = 1)",
                    [signal_id, now, now, signal.type],
                )
            if digest is not None:
                session = digest(new)
                earlier = db.execute("SELECT COUNT(*) FROM signals WHERE type = 'digest' AND date = ?",
                                     [session.date]).fetchone()[0]
                if not earlier or new:
                    key = session.key if not earlier else f"{session.key}:{earlier + 1}"
                    self._insert_for(db, replace(session, key=key), now, _DIGEST_AUDIENCE, [])
        return new

    def has_signals(self) -> bool:
        return bool(self._query("SELECT 1 AS x FROM signals LIMIT 1"))

    def record_history(self, signals: Iterable[Signal]) -> int:
        """Signals a fresh bot finds in the history it starts with: stored (so /history and the answers
        agree from the first minute), never queued for anyone. Returns how many were new."""
        now = utc_now()
        with self.transaction() as db:
            cursor = db.conn.executemany(
                "INSERT OR IGNORE INTO signals (key, date, direction, type, title, detail, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(s.key, s.date, s.direction, s.type, s.title, json.dumps(s.detail, sort_keys=True), now)
                 for s in signals])
            return cursor.rowcount

    def record_for_chat(self, signal: Signal, chat_id: int) -> bool:
        """A signal meant for one chat (its own alert), once."""
        with self.transaction() as db:
            return self._insert_for(db, signal, utc_now(), "SELECT id FROM chats WHERE id = ? AND active = 1",
                                    [chat_id])

    @staticmethod
    def _insert_for(db: sqlite_utils.Database, signal: Signal, now: str, audience: str, params: list[Any]) -> bool:
        cursor = db.execute(
            "INSERT OR IGNORE INTO signals (key, date, direction, type, title, detail, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [signal.key, signal.date, signal.direction, signal.type, signal.title,
             json.dumps(signal.detail, sort_keys=True), now])
        if not cursor.rowcount:
            return False
        db.execute(f"INSERT OR IGNORE INTO outbox (signal_id, chat_id, next_attempt_at, created_at) "
                   f"SELECT ?, id, ?, ? FROM ({audience})", [int(cursor.lastrowid), now, now, *params])
        return True

    def due_deliveries(self, now: str | None = None, limit: int = 500, lease_seconds: float = 300.0
                       ) -> list[Delivery]:
        """Claim the pending deliveries due by `now`, oldest first, and return them.

        Claiming leases the rows for `lease_seconds` in the same transaction, so a second drain
        never gets a row the first is sending; a row whose sender died becomes due again when its
        lease runs out (or at the next start, `release_leases`). A chat's later message never
        overtakes an earlier one that waits for its retry or is being sent.
        """
        now = now or utc_now()
        lease = (datetime.fromisoformat(now) + timedelta(seconds=lease_seconds)).isoformat(timespec="microseconds")
        with self.transaction() as db:
            rows = list(db.query(
                "SELECT outbox.id AS delivery_id, outbox.chat_id, outbox.attempts, outbox.parts_sent, "
                "outbox.ambiguous, outbox.created_at AS queued_at, outbox.last_error AS last_error, signals.* "
                "FROM outbox INDEXED BY outbox_pending_by_id "
                "JOIN signals ON signals.id = outbox.signal_id WHERE outbox.status = 'pending' "
                "AND outbox.next_attempt_at <= ? AND (outbox.lease_until IS NULL OR outbox.lease_until <= ?) "
                "AND NOT EXISTS (SELECT 1 FROM outbox AS earlier WHERE earlier.chat_id = outbox.chat_id "
                "AND earlier.status = 'pending' AND earlier.id < outbox.id "
                "AND (earlier.next_attempt_at > ? OR earlier.lease_until > ?)) ORDER BY outbox.id LIMIT ?",
                [now, now, now, now, limit]))
            db.conn.executemany("UPDATE outbox SET lease_until = ? WHERE id = ?",
                           [(lease, row["delivery_id"]) for row in rows])
        return [Delivery(row["delivery_id"], row["chat_id"], _signal(row), row["attempts"], row["parts_sent"],
                         row["ambiguous"], row["queued_at"], row["last_error"]) for row in rows]

    def release_leases(self, ids: Iterable[int] | None = None) -> int:
        """Claims given up: `ids` a drain did not get to, or (None) every claim, at a start after a crash."""
        with self._lock:
            if ids is None:
                cursor = self.db.execute("UPDATE outbox SET lease_until = NULL WHERE status = 'pending' "
                                         "AND lease_until IS NOT NULL")
                return cursor.rowcount
            cursor = self.db.conn.executemany("UPDATE outbox SET lease_until = NULL WHERE id = ?",
                                              [(i,) for i in ids])
            return cursor.rowcount

    def next_retry_at(self) -> str | None:
        rows = self._query("SELECT MIN(next_attempt_at) AS at FROM outbox WHERE status = 'pending'")
        return rows[0]["at"] if rows else None

    # Each mark changes only a row that is still pending: two drains (or a drain and /unsubscribe)
    # can never turn a sent or cancelled row back, nor send it twice.

    def mark_sent(self, delivery_id: int, note: str | None = None) -> bool:
        with self._lock:
            cursor = self.db.execute("UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, "
                                     "last_error = ?, lease_until = NULL WHERE id = ? AND status = 'pending'",
                                     [utc_now(), note, delivery_id])
        return cursor.rowcount == 1

    def mark_part_sent(self, delivery_id: int, parts_sent: int) -> None:
        with self._lock:
            self.db.execute("UPDATE outbox SET parts_sent = ?, ambiguous = 0 WHERE id = ? AND status = 'pending'",
                            [parts_sent, delivery_id])

    def mark_retry(self, delivery_id: int, error: str, next_attempt_at: str, count_attempt: bool = True,
                   ambiguous: bool = False) -> None:
        with self._lock:
            self.db.execute("UPDATE outbox SET attempts = attempts + ?, last_error = ?, next_attempt_at = ?, "
                            "ambiguous = ambiguous + ?, lease_until = NULL WHERE id = ? AND status = 'pending'",
                            [1 if count_attempt else 0, error, next_attempt_at, 1 if ambiguous else 0, delivery_id])

    def mark_failed(self, delivery_id: int, error: str) -> None:
        with self._lock:
            self.db.execute("UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ? "
                            "WHERE id = ? AND status = 'pending'", [error, delivery_id])

    def mark_expired(self, delivery_id: int, reason: str) -> None:
        """No longer news: the alert's window passed while Telegram could not take it."""
        with self._lock:
            self.db.execute("UPDATE outbox SET status = 'expired', last_error = ?, lease_until = NULL "
                            "WHERE id = ? AND status = 'pending'", [reason, delivery_id])

    def oldest_waiting(self) -> str | None:
        """When the oldest pending delivery was queued (None when nothing waits)."""
        rows = self._query("SELECT MIN(created_at) AS at FROM outbox WHERE status = 'pending'")
        return rows[0]["at"] if rows else None

    # per-chat controls and a chat's own alerts -----------------------------------------------

    def chat_settings(self, chat_id: int) -> ChatSettings:
        rows = self._query("SELECT * FROM chat_settings WHERE chat_id = ?", [chat_id])
        if not rows:
            return ChatSettings()
        row = rows[0]
        return ChatSettings(bool(row["digest"]), row["quiet_start"], row["quiet_end"], row["timezone"],
                            row["thread_id"])

    def update_chat_settings(self, chat_id: int, **changes: Any) -> ChatSettings:
        """Change some of a chat's controls (digest, quiet_start, quiet_end, timezone, thread_id); returns them all."""
        allowed = {"digest", "quiet_start", "quiet_end", "timezone", "thread_id"}
        if not changes or not set(changes) <= allowed:
            raise ValueError(f"unknown chat settings: {sorted(set(changes) - allowed)}")
        columns = ", ".join(changes)
        marks = ", ".join("?" for _ in changes)
        updates = ", ".join(f"{column} = excluded.{column}" for column in changes)
        with self._lock:
            self.db.execute(f"INSERT INTO chat_settings (chat_id, {columns}, updated_at) VALUES (?, {marks}, ?) "
                            f"ON CONFLICT(chat_id) DO UPDATE SET {updates}, updated_at = excluded.updated_at",
                            [chat_id, *changes.values(), utc_now()])
        return self.chat_settings(chat_id)

    def add_custom_alert(self, chat_id: int, path: str, op: str, threshold: float, limit: int) -> int | None:
        """A chat's own alert; None when the chat already has `limit` of them."""
        with self.transaction() as db:
            count = db.execute("SELECT COUNT(*) FROM custom_alerts WHERE chat_id = ?", [chat_id]).fetchone()[0]
            if count >= limit:
                return None
            cursor = db.execute("INSERT INTO custom_alerts (chat_id, path, op, threshold, created_at) "
                                "VALUES (?, ?, ?, ?, ?)", [chat_id, path, op, threshold, utc_now()])
            return int(cursor.lastrowid)

    def custom_alerts(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """One chat's alerts, or (None) every active chat's, in id order."""
        if chat_id is not None:
            return self._query("SELECT * FROM custom_alerts WHERE chat_id = ? ORDER BY id", [chat_id])
        return self._query("SELECT custom_alerts.* FROM custom_alerts JOIN chats ON chats.id = chat_id "
                           "WHERE chats.active = 1 ORDER BY custom_alerts.id")

    def delete_custom_alert(self, chat_id: int, alert_id: int) -> bool:
        with self._lock:
            cursor = self.db.execute("DELETE FROM custom_alerts WHERE id = ? AND chat_id = ?", [alert_id, chat_id])
            return cursor.rowcount > 0

    def save_custom_alert_state(self, alert_id: int, active: bool, false_run: int, starts: list[str],
                                session: str) -> None:
        with self._lock:
            self.db.execute("UPDATE custom_alerts SET active = ?, false_run = ?, starts = ?, last_session = ? "
                            "WHERE id = ?", [int(active), false_run, json.dumps(starts), session, alert_id])

    def recent_signals(self, limit: int = 10, topics: Iterable[str] | None = None) -> list[Signal]:
        wanted = list(topics) if topics is not None else list(TOPIC_NAMES)
        marks = ",".join("?" for _ in wanted) or "''"
        rows = self._query(f"SELECT * FROM signals WHERE type IN ({marks}) ORDER BY date DESC, id DESC LIMIT ?",
                           [*wanted, limit])
        return [_signal(row) for row in rows]

    # snapshots and runs ------------------------------------------------------------------------

    def save_snapshot(self, as_of: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self.db.execute("INSERT OR REPLACE INTO snapshots (as_of, payload, created_at) VALUES (?, ?, ?)",
                            [as_of, json.dumps(payload, allow_nan=False), utc_now()])

    def latest_snapshot(self) -> dict[str, Any] | None:
        rows = self._query("SELECT payload FROM snapshots ORDER BY as_of DESC LIMIT 1")
        return json.loads(rows[0]["payload"]) if rows else None

    def save_chart(self, name: str, as_of: str, png: bytes) -> None:
        with self._lock:
            self.db.execute("INSERT OR REPLACE INTO charts (name, as_of, png, created_at) VALUES (?, ?, ?, ?)",
                            [name, as_of, png, utc_now()])

    def chart(self, name: str) -> tuple[str, bytes] | None:
        rows = self._query("SELECT as_of, png FROM charts WHERE name = ?", [name])
        return (rows[0]["as_of"], rows[0]["png"]) if rows else None

    def start_run(self, trigger: str) -> int:
        with self._lock:
            cursor = self.db.execute("INSERT INTO runs (started_at, trigger) VALUES (?, ?)", [utc_now(), trigger])
            return int(cursor.lastrowid)

    def finish_run(self, run_id: int, outcome: str, data_as_of: str | None = None, new_signals: int = 0,
                   error: str | None = None, warnings: Iterable[str] = ()) -> None:
        with self._lock:
            self.db.execute("UPDATE runs SET finished_at = ?, outcome = ?, data_as_of = ?, new_signals = ?, "
                            "error = ?, warnings = ? WHERE id = ?",
                            [utc_now(), outcome, data_as_of, new_signals, error, json.dumps(list(warnings)), run_id])

    def integrity(self) -> list[str]:
        """PRAGMA quick_check's findings: [] when the file is sound."""
        with self._lock:
            found = [row[0] for row in self.db.execute("PRAGMA quick_check").fetchall()]
        if found == ["ok"]:
            return []
        return [line.strip() for row in found for line in str(row).splitlines()
                if line.strip() and not line.startswith("*** in database")]

    def last_run(self, outcome: str | None = None) -> dict[str, Any] | None:
        if outcome:
            rows = self._query("SELECT * FROM runs WHERE outcome = ? ORDER BY id DESC LIMIT 1", [outcome])
        else:
            rows = self._query("SELECT * FROM runs ORDER BY id DESC LIMIT 1")
        return rows[0] if rows else None

    def abandon_unfinished_runs(self) -> int:
        """Runs left 'running' by a crash: marked so; their session is evaluated again (idempotently)."""
        with self._lock:
            return self.db.execute("UPDATE runs SET outcome = 'interrupted', finished_at = ? "
                                   "WHERE outcome = 'running'", [utc_now()]).rowcount

    def beat(self, name: str, at: datetime | None = None) -> None:
        """A heartbeat: `health` fails when the running bot stops writing these."""
        moment = at.isoformat(timespec="microseconds") if at is not None else utc_now()
        with self._lock:
            self.db.execute("INSERT OR REPLACE INTO heartbeats (name, at) VALUES (?, ?)", [name, moment])

    def forget_beat(self, name: str) -> None:
        with self._lock:
            self.db.execute("DELETE FROM heartbeats WHERE name = ?", [name])

    def heartbeats(self) -> dict[str, str]:
        return {row["name"]: row["at"] for row in self._query("SELECT name, at FROM heartbeats")}

    def prune_sent(self, older_than_days: float = 30.0) -> int:
        """Sent deliveries past the retention window: the outbox stays the size of recent traffic."""
        cutoff = (datetime.now(timezone.utc) - timedelta(days=older_than_days)).isoformat(timespec="microseconds")
        with self._lock:
            cursor = self.db.execute("DELETE FROM outbox WHERE status = 'sent' AND sent_at < ?", [cutoff])
        return cursor.rowcount

    def first_notice(self, key: str) -> bool:
        """True the first time `key` is noted, False ever after: for things to say only once."""
        with self._lock:
            cursor = self.db.execute("INSERT OR IGNORE INTO notices (key, created_at) VALUES (?, ?)", [key, utc_now()])
            return cursor.rowcount == 1

    def stats(self) -> dict[str, Any]:
        def count(sql: str) -> int:
            return int(self._query(sql)[0]["n"])

        by_status = {row["status"]: row["n"] for row in
                     self._query("SELECT status, n FROM outbox_counts WHERE n > 0")}
        by_topic = {row["topic"]: row["n"] for row in self._query(
            "SELECT topic, COUNT(*) AS n FROM subscriptions JOIN chats ON chats.id = chat_id "
            "WHERE chats.active = 1 GROUP BY topic")}
        return {
            "chats": count("SELECT COUNT(*) AS n FROM chats"),
            "active_chats": count("SELECT COUNT(*) AS n FROM chats WHERE active = 1"),
            "subscriptions": by_topic,
            "channels": self._query(
                "SELECT chats.id, chats.title, chats.active, "
                "SUM(outbox.status = 'sent') AS sent, SUM(outbox.status = 'pending') AS pending, "
                "SUM(outbox.status = 'failed') AS failed FROM chats LEFT JOIN outbox ON outbox.chat_id = chats.id "
                "WHERE chats.type = 'channel' GROUP BY chats.id ORDER BY chats.id"),
            "signals": count("SELECT COUNT(*) AS n FROM signals WHERE type IN ("
                             + ", ".join(f"'{topic}'" for topic in TOPIC_NAMES) + ")"),
            "digests": count("SELECT COUNT(*) AS n FROM signals WHERE type = 'digest'"),
            "own_alerts": count("SELECT COUNT(*) AS n FROM custom_alerts"),
            "deliveries": by_status,
        }


def _signal(row: dict[str, Any]) -> Signal:
    return Signal(row["type"], row["key"], row["date"], row["direction"], row["title"], json.loads(row["detail"]))
