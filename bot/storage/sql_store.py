"""The store's statements, written once in the SQL both engines speak.

Everything a restart needs is here; nothing lives only in memory. The engines (bot/storage/sqlite.py,
bot/storage/postgres.py) add only what truly differs: how deliveries are claimed among concurrent
drains, how delivery counts are kept, and what a check of the database means.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from bot.storage.preferences import ChatSettings
from bot.storage.migrations import STORE_MIGRATIONS
from bot.storage.protocol import ALIVE_WITHIN_SECONDS, Delivery, Replica, Store
from signals.database import Database, retried_on_lost_connection
from signals.signal import Signal
from signals.topics import TOPIC_NAMES

# who gets a digest: active chats that asked for digests and follow at least one topic
_DIGEST_AUDIENCE = ("SELECT DISTINCT chats.id FROM chats JOIN chat_settings ON chat_settings.chat_id = chats.id "
                    "JOIN subscriptions ON subscriptions.chat_id = chats.id WHERE chats.active = 1 AND digest = 1")
_INSERT_SIGNAL = ("INSERT INTO signals (key, date, direction, type, title, detail, created_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
_CLAIMABLE = ("SELECT outbox.id AS delivery_id, outbox.chat_id, outbox.attempts, outbox.parts_sent, "
              "outbox.ambiguous, outbox.created_at AS queued_at, outbox.last_error AS last_error, signals.* "
              "FROM {outbox} JOIN signals ON signals.id = outbox.signal_id WHERE outbox.status = 'pending' "
              "AND outbox.next_attempt_at <= ? AND (outbox.lease_until IS NULL OR outbox.lease_until <= ?) "
              "AND NOT EXISTS (SELECT 1 FROM outbox AS earlier WHERE earlier.chat_id = outbox.chat_id "
              "AND earlier.status = 'pending' AND earlier.id < outbox.id "
              "AND (earlier.next_attempt_at > ? OR earlier.lease_until > ?)) ORDER BY outbox.id LIMIT ?{locking}")
SETTINGS = ("digest", "quiet_start", "quiet_end", "timezone", "thread_id")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


class SqlStore(Store):
    """The `Store` (bot/storage/protocol.py) over a `Database`; an engine subclass completes it."""

    claim_from = "outbox"  # the FROM of the claim: an engine may name the index that serves it
    claim_locking = ""  # what the claim adds to lock its rows against concurrent drains

    def __init__(self, db: Database, replica: str = "main") -> None:
        self.db = db
        self.dialect = db.dialect
        self.description = db.description
        self.replica = replica
        self.db.migrate("store", STORE_MIGRATIONS, adopt=self._version_before_records())

    def _version_before_records(self) -> int:
        """The version a database reached before migrations were recorded (0: none)."""
        return 0

    @property
    def schema_version(self) -> int:
        return self.db.version("store")

    def close(self) -> None:
        self.db.close()

    # chats and subscriptions ------------------------------------------------------------------

    def upsert_chat(self, chat_id: int, chat_type: str = "private", title: str = "") -> None:
        """Remember a chat that talked to the bot; a chat that comes back is active again."""
        now = utc_now()
        self.db.execute(
            "INSERT INTO chats (id, type, title, active, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET type = excluded.type, title = excluded.title, active = 1, "
            "inactive_reason = NULL, updated_at = excluded.updated_at",
            [chat_id, chat_type, title, now, now])

    def chat(self, chat_id: int) -> dict[str, Any] | None:
        return self.db.execute("SELECT * FROM chats WHERE id = ?", [chat_id]).first()

    @retried_on_lost_connection
    def subscribe(self, chat_id: int, topics: Iterable[str]) -> list[str]:
        """Subscribe to each topic; returns the topics that were new."""
        added = []
        with self.db.transaction() as db:
            for topic in topics:
                if db.execute("INSERT INTO subscriptions (chat_id, topic, created_at) VALUES (?, ?, ?) "
                              "ON CONFLICT DO NOTHING", [chat_id, topic, utc_now()]).rowcount:
                    added.append(topic)
        return added

    @retried_on_lost_connection
    def unsubscribe(self, chat_id: int, topics: Iterable[str]) -> list[str]:
        """Unsubscribe; pending deliveries of those topics to this chat are cancelled too."""
        removed = []
        with self.db.transaction() as db:
            for topic in topics:
                if db.execute("DELETE FROM subscriptions WHERE chat_id = ? AND topic = ?", [chat_id, topic]).rowcount:
                    removed.append(topic)
                    db.execute(
                        "UPDATE outbox SET status = 'cancelled', last_error = 'unsubscribed' WHERE chat_id = ? "
                        "AND status = 'pending' AND signal_id IN (SELECT id FROM signals WHERE type = ?)",
                        [chat_id, topic])
        return removed

    def subscriptions(self, chat_id: int) -> set[str]:
        return {row["topic"] for row in self.db.query("SELECT topic FROM subscriptions WHERE chat_id = ?", [chat_id])}

    @retried_on_lost_connection
    def deactivate_chat(self, chat_id: int, reason: str) -> int:
        """The chat blocked the bot or is gone: stop delivering to it; returns deliveries cancelled."""
        with self.db.transaction() as db:
            db.execute("UPDATE chats SET active = 0, inactive_reason = ?, updated_at = ? WHERE id = ?",
                       [reason, utc_now(), chat_id])
            return db.execute("UPDATE outbox SET status = 'cancelled', last_error = ? WHERE chat_id = ? "
                              "AND status = 'pending'", [reason, chat_id]).rowcount

    @retried_on_lost_connection
    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: the same chat under a new id keeps everything."""
        with self.db.transaction() as db:
            if db.execute("SELECT 1 AS x FROM chats WHERE id = ?", [new_id]).rows:
                db.execute("INSERT INTO subscriptions (chat_id, topic, created_at) SELECT ?, topic, created_at "
                           "FROM subscriptions WHERE chat_id = ? ON CONFLICT DO NOTHING", [new_id, old_id])
                db.execute("UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND signal_id NOT IN "
                           "(SELECT signal_id FROM outbox WHERE chat_id = ?)", [new_id, old_id, new_id])
                db.execute("DELETE FROM outbox WHERE chat_id = ?", [old_id])
                db.execute("DELETE FROM chats WHERE id = ?", [old_id])
            else:
                db.execute("UPDATE chats SET id = ?, type = 'supergroup', updated_at = ? WHERE id = ?",
                           [new_id, utc_now(), old_id])

    # signals and the outbox --------------------------------------------------------------------

    @retried_on_lost_connection
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
        with self.db.transaction() as db:
            for signal in signals:
                signal_id = _insert_signal(db, signal, now)
                if signal_id is None:
                    continue
                new.append(signal)
                db.execute(
                    "INSERT INTO outbox (signal_id, chat_id, next_attempt_at, created_at) "
                    "SELECT ?, chats.id, ?, ? FROM chats JOIN subscriptions ON subscriptions.chat_id = chats.id "
                    "WHERE chats.active = 1 AND subscriptions.topic = ? AND NOT EXISTS "
                    "(SELECT 1 FROM chat_settings WHERE chat_settings.chat_id = chats.id AND digest = 1) "
                    "ON CONFLICT DO NOTHING",
                    [signal_id, now, now, signal.type])
            if digest is not None:
                session = digest(new)
                earlier = db.execute("SELECT COUNT(*) AS n FROM signals WHERE type = 'digest' AND date = ?",
                                     [session.date]).rows[0]["n"]
                if not earlier or new:
                    key = session.key if not earlier else f"{session.key}:{earlier + 1}"
                    _insert_for(db, replace(session, key=key), now, _DIGEST_AUDIENCE, [])
        return new

    def has_signals(self) -> bool:
        return bool(self.db.query("SELECT 1 AS x FROM signals LIMIT 1"))

    @retried_on_lost_connection
    def record_history(self, signals: Iterable[Signal]) -> int:
        """Signals a fresh bot finds in the history it starts with: stored (so /history and the answers
        agree from the first minute), never queued for anyone. Returns how many were new."""
        now = utc_now()
        with self.db.transaction() as db:
            return db.executemany(_INSERT_SIGNAL, [_signal_row(s, now) for s in signals])

    @retried_on_lost_connection
    def record_for_chat(self, signal: Signal, chat_id: int) -> bool:
        """A signal meant for one chat (its own alert), once."""
        with self.db.transaction() as db:
            return _insert_for(db, signal, utc_now(), "SELECT id FROM chats WHERE id = ? AND active = 1", [chat_id])

    def recent_signals(self, limit: int = 10, topics: Iterable[str] | None = None) -> list[Signal]:
        wanted = list(topics) if topics is not None else list(TOPIC_NAMES)
        marks = ",".join("?" for _ in wanted) or "''"
        rows = self.db.query(f"SELECT * FROM signals WHERE type IN ({marks}) ORDER BY date DESC, id DESC LIMIT ?",
                             [*wanted, limit])
        return [_signal(row) for row in rows]

    @retried_on_lost_connection
    def due_deliveries(self, now: str | None = None, limit: int = 500, lease_seconds: float = 300.0
                       ) -> list[Delivery]:
        """Claim the pending deliveries due by `now`, oldest first, and return them.

        Claiming leases the rows for `lease_seconds` to this replica in the same transaction, so a
        second drain (here or in another replica) never gets a row the first is sending; a row
        whose sender died becomes due again when its lease runs out, or as soon as its replica is
        seen dead (`release_orphaned_leases`). A chat's later message never overtakes an earlier
        one that waits for its retry or is being sent.
        """
        now = now or utc_now()
        lease = (datetime.fromisoformat(now) + timedelta(seconds=lease_seconds)).isoformat(timespec="microseconds")
        with self.db.transaction() as db:
            self._before_claim(db)
            rows = db.query(_CLAIMABLE.format(outbox=self.claim_from, locking=self.claim_locking),
                            [now, now, now, now, limit])
            db.executemany("UPDATE outbox SET lease_until = ?, leased_by = ? WHERE id = ?",
                           [(lease, self.replica, row["delivery_id"]) for row in rows])
        return [Delivery(row["delivery_id"], row["chat_id"], _signal(row), row["attempts"], row["parts_sent"],
                         row["ambiguous"], row["queued_at"], row["last_error"]) for row in rows]

    def _before_claim(self, db: Database) -> None:
        """What an engine does first in a claim's transaction."""

    @retried_on_lost_connection
    def hold(self, ids: Iterable[int], now: str | None = None, lease_seconds: float = 300.0) -> set[int]:
        """Renew this replica's claim on `ids` and say which it still holds.

        A drain asks right before each send: a row whose lease ran out and passed to another
        replica (or was released as orphaned) is not in the answer, and is not sent from here.
        """
        wanted = list(ids)
        if not wanted:
            return set()
        now = now or utc_now()
        lease = (datetime.fromisoformat(now) + timedelta(seconds=lease_seconds)).isoformat(timespec="microseconds")
        marks = ",".join("?" for _ in wanted)
        with self.db.transaction() as db:
            db.execute(f"UPDATE outbox SET lease_until = ? WHERE id IN ({marks}) AND status = 'pending' "
                       "AND leased_by = ? AND lease_until IS NOT NULL", [lease, *wanted, self.replica])
            rows = db.query(f"SELECT id FROM outbox WHERE id IN ({marks}) AND status = 'pending' AND leased_by = ? "
                            "AND lease_until = ?", [*wanted, self.replica, lease])
        return {int(row["id"]) for row in rows}

    def release_leases(self, ids: Iterable[int]) -> int:
        """Claims a drain gave up (it stopped before sending them): due again at once."""
        return self.db.executemany("UPDATE outbox SET lease_until = NULL, leased_by = NULL WHERE id = ? "
                                   "AND status = 'pending' AND leased_by = ?", [(i, self.replica) for i in ids])

    def release_orphaned_leases(self, alive_within_seconds: float = ALIVE_WITHIN_SECONDS,
                                at_start: bool = True) -> int:
        """Claims held by no living replica (it was killed): due again.

        A replica is alive while its beat is younger than `alive_within_seconds`. `at_start`: this
        replica's own claims are its earlier life's, whose sends never finished; later they are
        its drains' own, in flight, and stay.
        """
        cutoff = _iso(datetime.now(timezone.utc) - timedelta(seconds=alive_within_seconds))
        return self.db.execute(
            "UPDATE outbox SET lease_until = NULL, leased_by = NULL WHERE status = 'pending' "
            "AND lease_until IS NOT NULL AND (leased_by IS NULL OR (leased_by = ? AND ?) OR (leased_by <> ? AND "
            "leased_by NOT IN (SELECT name FROM replicas WHERE beat_at > ?)))",
            [self.replica, bool(at_start), self.replica, cutoff]).rowcount

    # An outcome is recorded only by the replica that holds the row's claim, and only while the row
    # is pending: two drains (or a drain and /unsubscribe) never turn a settled row back, and a
    # replica whose claim passed to another records nothing over it.
    _HELD = "WHERE id = ? AND status = 'pending' AND leased_by = ?"

    def mark_sent(self, delivery_id: int, note: str | None = None) -> bool:
        return self.db.execute("UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, "
                               f"last_error = ?, lease_until = NULL {self._HELD}",
                               [utc_now(), note, delivery_id, self.replica]).rowcount == 1

    def mark_part_sent(self, delivery_id: int, parts_sent: int) -> bool:
        return self.db.execute(f"UPDATE outbox SET parts_sent = ?, ambiguous = 0 {self._HELD}",
                               [parts_sent, delivery_id, self.replica]).rowcount == 1

    def mark_retry(self, delivery_id: int, error: str, next_attempt_at: str, count_attempt: bool = True,
                   ambiguous: bool = False) -> bool:
        return self.db.execute("UPDATE outbox SET attempts = attempts + ?, last_error = ?, next_attempt_at = ?, "
                               f"ambiguous = ambiguous + ?, lease_until = NULL, leased_by = NULL {self._HELD}",
                               [1 if count_attempt else 0, error, next_attempt_at, 1 if ambiguous else 0,
                                delivery_id, self.replica]).rowcount == 1

    def mark_failed(self, delivery_id: int, error: str) -> bool:
        return self.db.execute("UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, "
                               f"lease_until = NULL {self._HELD}", [error, delivery_id, self.replica]).rowcount == 1

    def mark_expired(self, delivery_id: int, reason: str) -> bool:
        """No longer news: the alert's window passed while Telegram could not take it."""
        return self.db.execute(f"UPDATE outbox SET status = 'expired', last_error = ?, lease_until = NULL {self._HELD}",
                               [reason, delivery_id, self.replica]).rowcount == 1

    def oldest_waiting(self) -> str | None:
        """When the oldest pending delivery was queued (None when nothing waits)."""
        return self.db.execute("SELECT MIN(created_at) AS at FROM outbox WHERE status = 'pending'").rows[0]["at"]

    def prune_sent(self, older_than_days: float = 30.0, now: datetime | None = None) -> int:
        """Sent deliveries past the retention window: the outbox stays the size of recent traffic."""
        cutoff = _iso((now or datetime.now(timezone.utc)) - timedelta(days=older_than_days))
        return self.db.execute("DELETE FROM outbox WHERE status = 'sent' AND sent_at < ?", [cutoff]).rowcount

    # per-chat controls and a chat's own alerts -----------------------------------------------

    def chat_settings(self, chat_id: int) -> ChatSettings:
        row = self.db.execute("SELECT * FROM chat_settings WHERE chat_id = ?", [chat_id]).first()
        if row is None:
            return ChatSettings()
        return ChatSettings(bool(row["digest"]), row["quiet_start"], row["quiet_end"], row["timezone"],
                            row["thread_id"])

    def update_chat_settings(self, chat_id: int, **changes: Any) -> ChatSettings:
        """Change some of a chat's controls (digest, quiet_start, quiet_end, timezone, thread_id); returns them all."""
        if not changes or not set(changes) <= set(SETTINGS):
            raise ValueError(f"unknown chat settings: {sorted(set(changes) - set(SETTINGS))}")
        if "digest" in changes:
            changes["digest"] = int(bool(changes["digest"]))
        columns = ", ".join(changes)
        marks = ", ".join("?" for _ in changes)
        updates = ", ".join(f"{column} = excluded.{column}" for column in changes)
        self.db.execute(f"INSERT INTO chat_settings (chat_id, {columns}, updated_at) VALUES (?, {marks}, ?) "
                        f"ON CONFLICT(chat_id) DO UPDATE SET {updates}, updated_at = excluded.updated_at",
                        [chat_id, *changes.values(), utc_now()])
        return self.chat_settings(chat_id)

    @retried_on_lost_connection
    def add_custom_alert(self, chat_id: int, path: str, op: str, threshold: float, limit: int) -> int | None:
        """A chat's own alert; None when the chat already has `limit` of them."""
        with self.db.transaction() as db:
            count = db.execute("SELECT COUNT(*) AS n FROM custom_alerts WHERE chat_id = ?", [chat_id]).rows[0]["n"]
            if count >= limit:
                return None
            row = db.execute("INSERT INTO custom_alerts (chat_id, path, op, threshold, created_at) "
                             "VALUES (?, ?, ?, ?, ?) RETURNING id", [chat_id, path, op, threshold, utc_now()]).first()
            assert row is not None, "INSERT ... RETURNING answers one row"
            return int(row["id"])

    def custom_alerts(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """One chat's alerts, or (None) every active chat's, in id order."""
        if chat_id is not None:
            return self.db.query("SELECT * FROM custom_alerts WHERE chat_id = ? ORDER BY id", [chat_id])
        return self.db.query("SELECT custom_alerts.* FROM custom_alerts JOIN chats ON chats.id = chat_id "
                             "WHERE chats.active = 1 ORDER BY custom_alerts.id")

    def delete_custom_alert(self, chat_id: int, alert_id: int) -> bool:
        return self.db.execute("DELETE FROM custom_alerts WHERE id = ? AND chat_id = ?",
                               [alert_id, chat_id]).rowcount > 0

    def save_custom_alert_state(self, alert_id: int, active: bool, false_run: int, starts: list[str],
                                session: str) -> None:
        self.db.execute("UPDATE custom_alerts SET active = ?, false_run = ?, starts = ?, last_session = ? "
                        "WHERE id = ?", [int(active), false_run, json.dumps(starts), session, alert_id])

    # snapshots, charts, runs -------------------------------------------------------------------

    def save_snapshot(self, as_of: str, payload: dict[str, Any]) -> None:
        self.db.execute("INSERT INTO snapshots (as_of, payload, created_at) VALUES (?, ?, ?) ON CONFLICT (as_of) "
                        "DO UPDATE SET payload = excluded.payload, created_at = excluded.created_at",
                        [as_of, json.dumps(payload, allow_nan=False), utc_now()])

    def latest_snapshot(self) -> dict[str, Any] | None:
        row = self.db.execute("SELECT payload FROM snapshots ORDER BY as_of DESC LIMIT 1").first()
        return json.loads(row["payload"]) if row else None

    def save_chart(self, name: str, as_of: str, png: bytes) -> None:
        self.db.execute("INSERT INTO charts (name, as_of, png, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) "
                        "DO UPDATE SET as_of = excluded.as_of, png = excluded.png, created_at = excluded.created_at",
                        [name, as_of, png, utc_now()])

    def chart(self, name: str) -> tuple[str, bytes] | None:
        row = self.db.execute("SELECT as_of, png FROM charts WHERE name = ?", [name]).first()
        return (row["as_of"], bytes(row["png"])) if row else None

    def start_run(self, trigger: str) -> int:
        row = self.db.execute("INSERT INTO runs (started_at, trigger) VALUES (?, ?) RETURNING id",
                              [utc_now(), trigger]).first()
        assert row is not None, "INSERT ... RETURNING answers one row"
        return int(row["id"])

    def finish_run(self, run_id: int, outcome: str, data_as_of: str | None = None, new_signals: int = 0,
                   error: str | None = None, warnings: Iterable[str] = ()) -> None:
        self.db.execute("UPDATE runs SET finished_at = ?, outcome = ?, data_as_of = ?, new_signals = ?, "
                        "error = ?, warnings = ? WHERE id = ?",
                        [utc_now(), outcome, data_as_of, new_signals, error, json.dumps(list(warnings)), run_id])

    def last_run(self, outcome: str | None = None) -> dict[str, Any] | None:
        if outcome:
            return self.db.execute("SELECT * FROM runs WHERE outcome = ? ORDER BY id DESC LIMIT 1", [outcome]).first()
        return self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").first()

    def abandon_unfinished_runs(self) -> int:
        """Runs left 'running' by a crash: marked so; their session is evaluated again (idempotently)."""
        return self.db.execute("UPDATE runs SET outcome = 'interrupted', finished_at = ? WHERE outcome = 'running'",
                               [utc_now()]).rowcount

    # the running bot ---------------------------------------------------------------------------

    def beat(self, name: str, at: datetime | None = None) -> None:
        """A heartbeat of this replica: `health` fails when the running bot stops writing these."""
        self.db.execute("INSERT INTO heartbeats (name, at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET at = "
                        "excluded.at", [self._scoped(name), _iso(at) if at is not None else utc_now()])

    def forget_beat(self, name: str) -> None:
        self.db.execute("DELETE FROM heartbeats WHERE name = ?", [self._scoped(name)])

    def heartbeats(self) -> dict[str, str]:
        """This replica's heartbeats by name (each replica's loop and polls are its own)."""
        prefix = self._scoped("")
        rows = self.db.query("SELECT name, at FROM heartbeats WHERE substr(name, 1, ?) = ?", [len(prefix), prefix])
        return {row["name"][len(prefix):]: row["at"] for row in rows}

    def _scoped(self, name: str) -> str:
        return f"{self.replica}:{name}"

    @retried_on_lost_connection
    def announce_replica(self, role: str, host: str, pid: int, at: datetime | None = None) -> None:
        """This replica is alive in `role`; `leader_since` is kept while it keeps leading."""
        now = _iso(at) if at is not None else utc_now()
        since = now if role == "leader" else None
        with self.db.transaction() as db:
            if role == "leader":  # one leader: a row still saying so is a dead leader's
                db.execute("UPDATE replicas SET role = 'standby', leader_since = NULL WHERE role = 'leader' "
                           "AND name <> ?", [self.replica])
            self._announce(db, role, host, pid, now, since)

    def _announce(self, db: Database, role: str, host: str, pid: int, now: str, since: str | None) -> None:
        db.execute(
            "INSERT INTO replicas (name, role, host, pid, started_at, beat_at, leader_since) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET role = excluded.role, "
            "host = excluded.host, pid = excluded.pid, beat_at = excluded.beat_at, started_at = CASE WHEN "
            "replicas.pid = excluded.pid THEN replicas.started_at ELSE excluded.started_at END, leader_since = "
            "CASE WHEN excluded.role <> 'leader' THEN NULL WHEN replicas.role = 'leader' AND replicas.pid = "
            "excluded.pid THEN replicas.leader_since ELSE excluded.leader_since END",
            [self.replica, role, host, pid, now, now, since])

    def retire_replica(self) -> None:
        self.db.execute("DELETE FROM replicas WHERE name = ?", [self.replica])

    def replicas(self) -> list[Replica]:
        rows = self.db.query("SELECT * FROM replicas ORDER BY (role = 'leader') DESC, name")
        return [Replica(r["name"], r["role"], r["host"], int(r["pid"]), r["started_at"], r["beat_at"],
                        r["leader_since"]) for r in rows]

    def first_notice(self, key: str) -> bool:
        """True the first time `key` is noted, False ever after: for things to say only once."""
        return self.db.execute("INSERT INTO notices (key, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                               [key, utc_now()]).rowcount == 1

    def delivery_counts(self) -> dict[str, int]:
        """Deliveries by status (only statuses that have some)."""
        rows = self.db.query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
        return {row["status"]: int(row["n"]) for row in rows if row["n"]}

    def stats(self) -> dict[str, Any]:
        def count(sql: str) -> int:
            return int(self.db.query(sql)[0]["n"])

        by_topic = {row["topic"]: int(row["n"]) for row in self.db.query(
            "SELECT topic, COUNT(*) AS n FROM subscriptions JOIN chats ON chats.id = chat_id "
            "WHERE chats.active = 1 GROUP BY topic")}
        channels = self.db.query(
            "SELECT chats.id, chats.title, chats.active, "
            "SUM(CASE WHEN outbox.status = 'sent' THEN 1 ELSE 0 END) AS sent, "
            "SUM(CASE WHEN outbox.status = 'pending' THEN 1 ELSE 0 END) AS pending, "
            "SUM(CASE WHEN outbox.status = 'failed' THEN 1 ELSE 0 END) AS failed "
            "FROM chats LEFT JOIN outbox ON outbox.chat_id = chats.id "
            "WHERE chats.type = 'channel' GROUP BY chats.id ORDER BY chats.id")
        return {
            "chats": count("SELECT COUNT(*) AS n FROM chats"),
            "active_chats": count("SELECT COUNT(*) AS n FROM chats WHERE active = 1"),
            "subscriptions": by_topic,
            "channels": [{**row, **{k: int(row[k] or 0) for k in ("sent", "pending", "failed")}} for row in channels],
            "signals": count("SELECT COUNT(*) AS n FROM signals WHERE type IN ("
                             + ", ".join(f"'{topic}'" for topic in TOPIC_NAMES) + ")"),
            "digests": count("SELECT COUNT(*) AS n FROM signals WHERE type = 'digest'"),
            "own_alerts": count("SELECT COUNT(*) AS n FROM custom_alerts"),
            "deliveries": self.delivery_counts(),
        }

    def integrity(self) -> list[str]:
        return self.db.integrity()


def _signal_row(signal: Signal, now: str) -> tuple[Any, ...]:
    return (signal.key, signal.date, signal.direction, signal.type, signal.title,
            json.dumps(signal.detail, sort_keys=True), now)


def _insert_signal(db: Database, signal: Signal, now: str) -> int | None:
    """The new signal's id; None when it was stored before."""
    row = db.execute(f"{_INSERT_SIGNAL} RETURNING id", _signal_row(signal, now)).first()
    return int(row["id"]) if row else None


def _insert_for(db: Database, signal: Signal, now: str, audience: str, params: list[Any]) -> bool:
    signal_id = _insert_signal(db, signal, now)
    if signal_id is None:
        return False
    # WHERE true: SQLite reads an INSERT ... SELECT's ON CONFLICT only after a WHERE
    db.execute(f"INSERT INTO outbox (signal_id, chat_id, next_attempt_at, created_at) "
               f"SELECT ?, id, ?, ? FROM ({audience}) AS audience WHERE true ON CONFLICT DO NOTHING",
               [signal_id, now, now, *params])
    return True


def _signal(row: dict[str, Any]) -> Signal:
    return Signal(row["type"], row["key"], row["date"], row["direction"], row["title"], json.loads(row["detail"]))
