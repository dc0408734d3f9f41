"""The store's contract, on both engines (the `store` fixture runs each test on SQLite and on PostgreSQL):
schema and migrations from every past version, idempotent signals, the outbox, chat lifecycle.
Tests of what only one engine has (a file's mode, the server's concurrent claims) say so."""

from __future__ import annotations

import sqlite3
import stat
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.runtime.instance_lock import AlreadyRunning, InstanceLock
from bot.storage import open_store
from bot.storage.migrations import STORE_MIGRATIONS as MIGRATIONS
from signals.database import open_database
from signals.signal import Signal
from tests.outbox import next_retry_at, outbox_rows


def signal(key="rates:fed_cut", date="2024-01-05", direction="start", type_="rates") -> Signal:
    return Signal(type_, key, date, direction, f"title {key} {date}", {"x": 1.5})


def test_a_new_store_is_at_the_last_version_and_a_sqlite_file_is_private_and_in_wal_mode(store):
    assert store.schema_version == len(MIGRATIONS)
    if store.dialect == "sqlite":
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
        assert store.db.tuples("PRAGMA journal_mode") == [("wal",)]


@pytest.mark.parametrize("version", range(len(MIGRATIONS)))
def test_a_database_of_every_past_version_opens_to_the_last_keeping_its_rows(store_target, version):
    """Files before migrations were recorded kept SQLite's user_version; both are old versions here."""
    at_version(store_target, version)
    if version:
        db = open_database(store_target)
        db.execute("INSERT INTO chats (id, created_at, updated_at) VALUES (-1001234567890, 'x', 'x')")
        db.execute("INSERT INTO subscriptions (chat_id, topic, created_at) VALUES (-1001234567890, 'rates', 'x')")
        db.close()
    store = open_store(store_target)
    try:
        assert store.schema_version == len(MIGRATIONS)
        if version:
            assert store.subscriptions(-1001234567890) == {"rates"}  # an id past 32 bits, as supergroups have
        store.upsert_chat(7)
        store.subscribe(7, ["rates"])
        assert store.record_signals([signal()]) == [signal()]
        assert [d.chat_id for d in store.due_deliveries()] == ([-1001234567890, 7] if version else [7])
    finally:
        store.close()


def at_version(target, version: int) -> None:
    """A database as an earlier release left it at `version`."""
    if isinstance(target, Path):  # as files were: migrations by user_version, no schema_migrations table
        target.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(target)
        for number, step in enumerate(MIGRATIONS[:version], start=1):
            db.executescript(f"BEGIN; {step.sqlite}; PRAGMA user_version = {number}; COMMIT;")
        db.close()
    else:
        db = open_database(target)
        db.migrate("store", MIGRATIONS[:version])
        db.close()


def test_chats_that_took_every_topic_get_the_new_ones(store_target):
    at_version(store_target, 6)
    db = open_database(store_target)
    for chat, topics in ((1, ("breadth", "breakout", "rates")), (2, ("rates",)), (3, ("breadth", "rates"))):
        db.execute("INSERT INTO chats (id, created_at, updated_at) VALUES (?, 'x', 'x')", [chat])
        db.executemany("INSERT INTO subscriptions (chat_id, topic, created_at) VALUES (?, ?, 'x')",
                       [(chat, topic) for topic in topics])
    db.close()
    store = open_store(store_target)
    try:
        assert store.subscriptions(1) == {"breadth", "breakout", "rates", "sectors", "credit", "cycle"}
        assert store.subscriptions(2) == {"rates"}
        assert store.subscriptions(3) == {"breadth", "rates"}
    finally:
        store.close()


def test_reopening_does_not_migrate_again(store_target):
    open_store(store_target).close()
    again = open_store(store_target)
    assert again.schema_version == len(MIGRATIONS)
    assert again.db.tuples("SELECT COUNT(*) FROM schema_migrations WHERE component = 'store'") == [(len(MIGRATIONS),)]
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
    assert next_retry_at(store) == "2999-01-01T00:00:00+00:00"
    (delivery,) = store.due_deliveries(now="2999-01-01T00:00:00+00:00")  # its retry, claimed again
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


def test_second_instance_on_the_same_sqlite_file_refuses(tmp_path):
    database = tmp_path / "bot.sqlite"
    with InstanceLock(database):
        with pytest.raises(AlreadyRunning, match="already running"):
            InstanceLock(database).acquire()
    with InstanceLock(database):  # released on exit
        pass


def test_a_symlink_to_the_database_takes_the_same_lock(tmp_path):
    database = tmp_path / "data" / "bot.sqlite"
    database.parent.mkdir()
    database.touch()
    (tmp_path / "link.sqlite").symlink_to(database)
    with InstanceLock(database):
        for other in (tmp_path / "link.sqlite", tmp_path / "data" / ".." / "data" / "bot.sqlite"):
            with pytest.raises(AlreadyRunning, match="already running"):
                InstanceLock(other).acquire()


def test_the_file_is_plain_sqlite(tmp_path):
    store = open_store(tmp_path / "bot.sqlite")
    store.upsert_chat(1)
    other = sqlite3.connect(store.path)
    assert other.execute("SELECT id FROM chats").fetchall() == [(1,)]
    other.close()
    store.close()


def test_delivery_counts_match_the_outbox(store):
    for chat in (1, 2, 3):
        store.upsert_chat(chat)
        store.subscribe(chat, ["rates"])
    store.record_signals([signal(), signal(date="2024-01-08")])
    first, second, third, *_ = store.due_deliveries()
    store.mark_sent(first.id)
    store.mark_failed(second.id, "gave up")
    store.deactivate_chat(3, "blocked")
    assert store.prune_sent(30, now=datetime.now(timezone.utc) + timedelta(days=31)) == 1
    scanned = Counter(row["status"] for row in outbox_rows(store))
    assert store.stats()["deliveries"] == dict(scanned) == {"failed": 1, "cancelled": 2, "pending": 2}
    if store.dialect == "sqlite":  # kept by triggers: /status reads six rows, not the outbox
        plan = " ".join(str(r) for r in store.db.tuples("EXPLAIN QUERY PLAN SELECT status, n FROM outbox_counts"))
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
    rows = [(row["key"], row["chat_id"]) for row in outbox_rows(store)]
    assert rows == [("rates:fed_cut", 2), ("digest", 1), ("rates:fed_hike", 2), ("digest:2", 1)]


def test_claims_of_a_dead_replica_come_back_and_a_living_ones_stay(store_target):
    """A replica killed mid-drain leaves claimed rows: they are given back once its beat is stale."""
    a, b = open_store(store_target, replica="a"), open_store(store_target, replica="b")
    try:
        for chat in (1, 2):
            a.upsert_chat(chat)
            a.subscribe(chat, ["rates"])
        a.record_signals([signal()])
        a.announce_replica("leader", "host-a", 1)
        b.announce_replica("standby", "host-b", 2)
        assert len(b.due_deliveries()) == 2  # b claims both
        assert a.release_orphaned_leases() == 0  # b is alive: its claims are its own
        assert b.release_orphaned_leases(at_start=False) == 0  # nor does b give up its own claims in flight
        assert a.due_deliveries() == []
        b.announce_replica("standby", "host-b", 2, at=datetime.now(timezone.utc) - timedelta(minutes=5))
        assert a.release_orphaned_leases(alive_within_seconds=20) == 2  # b went silent: it died
        assert sorted(d.chat_id for d in a.due_deliveries()) == [1, 2]
        assert {row["leased_by"] for row in outbox_rows(a)} == {"a"}
    finally:
        a.close()
        b.close()


def test_only_the_holder_of_a_claim_renews_it_or_records_an_outcome(store_target):
    """A claim that ran out and passed to another replica is that replica's: the first one's
    marks change nothing and `hold` no longer lists the row."""
    a, b = open_store(store_target, replica="a"), open_store(store_target, replica="b")
    try:
        a.upsert_chat(1)
        a.subscribe(1, ["rates"])
        a.record_signals([signal()])
        start = datetime.now(timezone.utc) + timedelta(seconds=1)
        (claimed,) = a.due_deliveries(now=start.isoformat(), lease_seconds=300)
        assert a.hold([claimed.id], now=(start + timedelta(seconds=200)).isoformat()) == {claimed.id}
        assert b.due_deliveries(now=(start + timedelta(seconds=400)).isoformat()) == []  # renewed: still a's
        later = start + timedelta(seconds=600)
        (taken,) = b.due_deliveries(now=later.isoformat())  # a's renewed claim ran out too: b takes it
        assert taken.id == claimed.id
        assert a.hold([claimed.id], now=later.isoformat()) == set()
        assert a.mark_part_sent(claimed.id, 1) is False
        assert a.mark_retry(claimed.id, "502", later.isoformat()) is False
        assert a.mark_failed(claimed.id, "refused") is False
        assert a.mark_expired(claimed.id, "old") is False
        assert a.mark_sent(claimed.id) is False
        assert a.release_leases([claimed.id]) == 0
        (row,) = outbox_rows(a)
        assert (row["status"], row["leased_by"], row["attempts"], row["parts_sent"]) == ("pending", "b", 0, 0)
        assert b.mark_sent(taken.id) is True
        assert a.stats()["deliveries"] == {"sent": 1}
    finally:
        a.close()
        b.close()


def test_replicas_say_who_leads_and_since_when(store_target):
    a, b = open_store(store_target, replica="a"), open_store(store_target, replica="b")
    try:
        a.announce_replica("standby", "host-a", 1)
        b.announce_replica("leader", "host-b", 2)
        first = b.replicas()[0]
        assert (first.name, first.role) == ("b", "leader") and first.leader_since is not None
        b.announce_replica("leader", "host-b", 2)  # still leading: the same since
        assert b.replicas()[0].leader_since == first.leader_since
        b.announce_replica("standby", "host-b", 2)
        a.announce_replica("leader", "host-a", 1)
        assert [(r.name, r.role) for r in a.replicas()] == [("a", "leader"), ("b", "standby")]
        a.retire_replica()
        assert [r.name for r in b.replicas()] == ["b"]
    finally:
        a.close()
        b.close()


def test_beats_belong_to_their_replica(store_target):
    a, b = open_store(store_target, replica="a"), open_store(store_target, replica="b")
    try:
        a.beat("loop")
        assert "loop" in a.heartbeats() and b.heartbeats() == {}
    finally:
        a.close()
        b.close()


def test_concurrent_drains_on_the_server_claim_each_row_once_and_keep_each_chats_order(postgres_url):
    """Four replicas claim at once, over and over: no row twice, and a chat's next message is never
    handed out while its earlier one is claimed elsewhere."""
    import threading

    stores = [open_store(postgres_url, replica=f"r{i}") for i in range(4)]
    try:
        for chat in range(1, 41):
            stores[0].upsert_chat(chat)
            stores[0].subscribe(chat, ["rates"])
        stores[0].record_signals([signal(date=f"2024-01-{day:02d}") for day in range(2, 7)])  # 5 per chat
        claimed: list[tuple[str, int, int, str]] = []
        lock = threading.Lock()

        def drain(store) -> None:
            for _ in range(30):
                for delivery in store.due_deliveries(limit=7):
                    with lock:
                        claimed.append((store.replica, delivery.id, delivery.chat_id, delivery.signal.date))
                    store.mark_sent(delivery.id)

        threads = [threading.Thread(target=drain, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ids = [row[1] for row in claimed]
        assert len(ids) == len(set(ids)) == 200
        assert len({row[0] for row in claimed}) >= 2  # the work was shared
        for chat in range(1, 41):
            assert [row[3] for row in claimed if row[2] == chat] == [f"2024-01-{day:02d}" for day in range(2, 7)]
        assert stores[0].stats()["deliveries"] == {"sent": 200}
    finally:
        for store in stores:
            store.close()


def test_one_bound_of_alive_for_status_claims_and_names():
    import inspect

    from bot.storage import ALIVE_WITHIN_SECONDS, Replica
    from bot.storage.sql_store import SqlStore

    now = datetime(2024, 1, 8, 21, 0, tzinfo=timezone.utc)

    def beat(seconds_ago: float) -> Replica:
        return Replica("a", "leader", "h", 1, now.isoformat(), (now - timedelta(seconds=seconds_ago)).isoformat(), None)

    assert beat(ALIVE_WITHIN_SECONDS - 1).alive(now) and not beat(ALIVE_WITHIN_SECONDS + 1).alive(now)
    default = inspect.signature(SqlStore.release_orphaned_leases).parameters["alive_within_seconds"].default
    assert default == ALIVE_WITHIN_SECONDS


def test_migrations_are_recorded_by_name_and_a_reordered_list_is_refused(store_target):
    from signals.database import Migration, MigrationMismatch

    first = open_store(store_target)
    first.close()
    again = open_store(store_target)
    names = [row["name"] for row in again.db.query(
        "SELECT name FROM schema_migrations WHERE component = 'store' ORDER BY version")]
    assert names == [step.name for step in MIGRATIONS]
    steps = (Migration("CREATE TABLE a (x INTEGER);", name="table a"), Migration("CREATE TABLE b (y INTEGER);",
                                                                              name="table b"))
    assert again.db.migrate("probe", steps) == 2
    with pytest.raises(MigrationMismatch, match="took step 1 as 'table a', this release has 'table b'"):
        again.db.migrate("probe", steps[::-1])
    with pytest.raises(MigrationMismatch, match="newer than this release knows"):
        again.db.migrate("probe", steps[:1])
    again.close()


def test_steps_recorded_before_names_are_named_at_the_next_open(store_target):
    first = open_store(store_target)
    first.db.execute("UPDATE schema_migrations SET name = NULL WHERE component = 'store'")
    first.close()
    again = open_store(store_target)
    names = [row["name"] for row in again.db.query(
        "SELECT name FROM schema_migrations WHERE component = 'store' ORDER BY version")]
    again.close()
    assert names == [step.name for step in MIGRATIONS]
