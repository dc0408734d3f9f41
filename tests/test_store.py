"""The SQLite store: schema and migrations, file mode, idempotent signals, outbox, chat lifecycle."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from bot.instance_lock import AlreadyRunning, InstanceLock
from bot.store import MIGRATIONS, Store
from signals.signal import Signal


def signal(key="rates:fed_cut", date="2024-01-05", direction="start", type_="rates") -> Signal:
    return Signal(type_, key, date, direction, f"title {key} {date}", {"x": 1.5})


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "state" / "bot.sqlite")
    yield s
    s.close()


def test_schema_is_versioned_private_and_in_wal_mode(store):
    assert store.schema_version == len(MIGRATIONS)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"chats", "subscriptions", "signals", "outbox", "snapshots", "runs"} <= set(store.db.table_names())


def test_chats_that_took_every_topic_get_the_new_ones(tmp_path):
    path = tmp_path / "bot.sqlite"
    db = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:6], start=1):  # a database of the version before
        db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
    for chat, topics in ((1, ("breadth", "breakout", "rates")), (2, ("rates",)), (3, ("breadth", "rates"))):
        db.execute("INSERT INTO chats (id, created_at, updated_at) VALUES (?, 'x', 'x')", [chat])
        db.executemany("INSERT INTO subscriptions (chat_id, topic, created_at) VALUES (?, ?, 'x')",
                       [(chat, topic) for topic in topics])
    db.commit()
    db.close()
    store = Store(path)
    try:
        assert store.subscriptions(1) == {"breadth", "breakout", "rates", "sectors", "credit", "cycle"}
        assert store.subscriptions(2) == {"rates"}
        assert store.subscriptions(3) == {"breadth", "rates"}
    finally:
        store.close()


def test_reopening_does_not_migrate_again(tmp_path):
    path = tmp_path / "bot.sqlite"
    Store(path).close()
    again = Store(path)
    assert again.schema_version == len(MIGRATIONS)
    again.close()


def test_a_signal_stored_twice_is_one_signal_with_one_delivery_per_chat(store):
    store.upsert_chat(1)
    store.upsert_chat(2)
    store.upsert_chat(3)
    store.subscribe(1, ["rates"])
    store.subscribe(2, ["rates", "breadth"])
    store.subscribe(3, ["breadth"])
    assert store.record_signals([signal()]) == [signal()]
    assert store.record_signals([signal()]) == []
    due = store.due_deliveries()
    assert sorted(d.chat_id for d in due) == [1, 2]
    assert due[0].signal.detail == {"x": 1.5}
    assert store.stats()["signals"] == 1


def test_inactive_chats_get_no_deliveries_and_coming_back_reactivates(store):
    store.upsert_chat(1)
    store.subscribe(1, ["rates"])
    store.deactivate_chat(1, "blocked")
    store.record_signals([signal(date="2024-01-05")])
    assert store.due_deliveries() == []
    store.upsert_chat(1)  # the user unblocked the bot and wrote to it
    store.record_signals([signal(date="2024-01-08")])
    assert [d.signal.date for d in store.due_deliveries()] == ["2024-01-08"]


def test_deactivation_cancels_pending_deliveries(store):
    store.upsert_chat(1)
    store.subscribe(1, ["rates"])
    store.record_signals([signal(), signal(date="2024-01-08")])
    assert store.deactivate_chat(1, "Forbidden: bot was blocked by the user") == 2
    assert store.stats()["deliveries"] == {"cancelled": 2}


def test_unsubscribe_cancels_pending_deliveries_of_that_topic_only(store):
    store.upsert_chat(1)
    store.subscribe(1, ["rates", "breadth"])
    store.record_signals([signal(), signal("breadth:narrow_leadership", type_="breadth")])
    assert store.unsubscribe(1, ["rates"]) == ["rates"]
    assert [d.signal.type for d in store.due_deliveries()] == ["breadth"]
    assert store.unsubscribe(1, ["rates"]) == []


def test_migrated_chat_keeps_subscriptions_and_pending_deliveries(store):
    store.upsert_chat(-5, "group", "Traders")
    store.subscribe(-5, ["rates"])
    store.record_signals([signal()])
    store.migrate_chat(-5, -1005)
    assert store.chat(-5) is None
    assert store.chat(-1005)["type"] == "supergroup"
    assert store.subscriptions(-1005) == {"rates"}
    assert [d.chat_id for d in store.due_deliveries()] == [-1005]


def test_migration_onto_a_chat_already_known(store):
    store.upsert_chat(-5, "group")
    store.upsert_chat(-1005, "supergroup")
    store.subscribe(-5, ["rates"])
    store.subscribe(-1005, ["breadth"])
    store.migrate_chat(-5, -1005)
    assert store.subscriptions(-1005) == {"rates", "breadth"}


def test_retry_schedule_and_failure(store):
    store.upsert_chat(1)
    store.subscribe(1, ["rates"])
    store.record_signals([signal()])
    (delivery,) = store.due_deliveries()
    store.mark_retry(delivery.id, "Bad Gateway", "2999-01-01T00:00:00+00:00")
    assert store.due_deliveries() == []
    assert store.next_retry_at() == "2999-01-01T00:00:00+00:00"
    store.mark_failed(delivery.id, "gave up")
    assert store.stats()["deliveries"] == {"failed": 1}


def test_runs_snapshots_and_history(store):
    run = store.start_run("schedule")
    assert store.last_run()["outcome"] == "running"
    assert store.abandon_unfinished_runs() == 1
    run = store.start_run("schedule")
    store.finish_run(run, "ok", "2024-01-05", 2)
    assert store.last_run("ok")["data_as_of"] == "2024-01-05"
    store.save_snapshot("2024-01-04", {"as_of": "2024-01-04"})
    store.save_snapshot("2024-01-05", {"as_of": "2024-01-05"})
    assert store.latest_snapshot() == {"as_of": "2024-01-05"}
    store.record_signals([signal(date="2024-01-04"), signal(date="2024-01-05"),
                          signal("breadth:x", date="2024-01-03", type_="breadth")])
    assert [s.date for s in store.recent_signals(2)] == ["2024-01-05", "2024-01-04"]
    assert [s.key for s in store.recent_signals(5, topics=["breadth"])] == ["breadth:x"]


def test_record_is_one_transaction(store, monkeypatch):
    """If storing fails half-way, neither the signals nor their deliveries remain."""
    store.upsert_chat(1)
    store.subscribe(1, ["rates"])
    bad = Signal("rates", "rates:x", "2024-01-05", "start", "t", {"not json": object()})
    with pytest.raises(TypeError):
        store.record_signals([signal(), bad])
    assert store.stats()["signals"] == 0 and store.due_deliveries() == []


def test_second_instance_on_the_same_database_refuses(tmp_path):
    database = tmp_path / "bot.sqlite"
    with InstanceLock(database):
        with pytest.raises(AlreadyRunning, match="already running"):
            InstanceLock(database).acquire()
    with InstanceLock(database):  # released on exit
        pass


def test_database_is_plain_sqlite(store):
    store.upsert_chat(1)
    other = sqlite3.connect(store.path)
    assert other.execute("SELECT id FROM chats").fetchall() == [(1,)]
    other.close()


def test_delivery_counts_are_kept_by_triggers_and_match_a_scan(store):
    for chat in (1, 2, 3):
        store.upsert_chat(chat)
        store.subscribe(chat, ["rates"])
    store.record_signals([signal(), signal(date="2024-01-08")])
    first, second, third, *_ = store.due_deliveries()
    store.mark_sent(first.id)
    store.mark_failed(second.id, "gave up")
    store.deactivate_chat(3, "blocked")
    store.db.execute("UPDATE outbox SET sent_at = '2000-01-01' WHERE id = ?", [first.id])
    store.prune_sent(30)
    scanned = {r["status"]: r["n"] for r in store._query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")}
    assert store.stats()["deliveries"] == scanned
    plan = " ".join(str(r) for r in store.db.execute("EXPLAIN QUERY PLAN SELECT status, n FROM outbox_counts"))
    assert "outbox_counts" in plan and "outbox " not in plan


def test_one_digest_per_session_and_a_follow_up_when_a_rerun_finds_more(store):
    store.upsert_chat(1)
    store.subscribe(1, ["rates"])
    store.update_chat_settings(1, digest=True)
    store.upsert_chat(2)
    store.subscribe(2, ["rates"])

    def digest(fresh):
        return Signal("digest", "digest", "2024-01-05", "start", "d", {"signals": [s.key for s in fresh]})

    store.record_signals([signal()], digest=digest)
    store.record_signals([signal()], digest=digest)  # the same run again: nothing new, no second digest
    store.record_signals([signal("rates:fed_hike")], digest=digest)  # revised data: one more signal
    rows = store.db.execute("SELECT signals.key, outbox.chat_id FROM outbox JOIN signals ON signals.id = signal_id "
                            "ORDER BY outbox.id").fetchall()
    assert rows == [("rates:fed_cut", 2), ("digest", 1), ("rates:fed_hike", 2), ("digest:2", 1)]
