"""Outbox delivery against a fake sender: every outcome of an attempt, ordering, nothing sent twice."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from bot.delivery.drain import ChatGone, ChatMoved, Deliverer, RateLimited, Transient
from bot.delivery.outgoing import Part
from bot.storage import open_store
from signals.signal import Signal
from tests.outbox import outbox_rows


class FakeSender:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []
        self.script: dict[int, list[Exception]] = {}

    async def send(self, chat_id: int, part: Part) -> None:
        failures = self.script.get(chat_id)
        if failures:
            raise failures.pop(0)
        self.sent.append((chat_id, part.text))


def make_signal(date: str, title: str = "Fed cut its target by 25 bp") -> Signal:
    return Signal("rates", "rates:fed_cut", date, "start", title, {})


@pytest.fixture
def setup(tmp_path, clock):
    """Three chats on `rates`; the deliverer reads the test's clock (queued rows are due at once)."""
    store = open_store(tmp_path / "bot.sqlite")
    for chat in (1, 2, 3):
        store.upsert_chat(chat)
        store.subscribe(chat, ["rates"])
    sender = FakeSender()
    clock.now = datetime.now(timezone.utc) + timedelta(seconds=5)  # rows the test queues are due at once
    yield store, sender, Deliverer(store, sender, backoff_seconds=0.0, clock=clock)
    store.close()


def drain(deliverer: Deliverer):
    return asyncio.run(deliverer.drain())


def test_each_subscriber_gets_each_signal_once_in_order(setup):
    store, sender, deliverer = setup
    store.record_signals([make_signal("2024-01-05"), make_signal("2024-01-08")])
    report = drain(deliverer)
    assert report.sent == 6
    for chat in (1, 2, 3):
        texts = [t for c, t in sender.sent if c == chat]
        assert len(texts) == 2 and "2024-01-05" in texts[0] and "2024-01-08" in texts[1]
    assert drain(deliverer).sent == 0  # a second drain sends nothing again


def test_rate_limited_waits_without_using_up_attempts(setup, clock):
    store, sender, deliverer = setup
    sender.script[1] = [RateLimited(0.2)] * 5
    store.record_signals([make_signal("2024-01-05")])
    first = drain(deliverer)
    assert first.sent == 2 and first.retried == 1
    sender.script[1] = []
    assert drain(deliverer).sent == 0  # the wait is not over
    clock.advance(0.25)
    assert drain(deliverer).sent == 1
    assert store.stats()["deliveries"] == {"sent": 3}


def test_transient_errors_are_retried_while_the_alert_is_news_then_expire(setup, clock):
    store, sender, deliverer = setup
    deliverer.backoff_seconds = 2.0
    sender.script[2] = [Transient("Bad Gateway")] * 10_000
    store.record_signals([make_signal(clock.now.date().isoformat())])
    waits = []
    for _ in range(80):  # 80 answers of 502 over 80 minutes: none gives up
        drain(deliverer)
        (row,) = outbox_rows(store, 2)
        assert row["status"] == "pending"
        waits.append((datetime.fromisoformat(row["next_attempt_at"]) - clock.now).total_seconds())
        clock.advance(60)
    assert max(waits) <= 60.0 and waits[:3] == [2.0, 4.0, 8.0]  # capped backoff
    clock.advance(50 * 3600)  # past the close of the alert's session + 24 hours, whatever the hour the test starts
    report = drain(deliverer)
    assert report.expired == 1 and report.failed == 0
    (row,) = outbox_rows(store, 2)
    assert (row["status"], row["last_error"]) == ("expired", "expired: Bad Gateway")
    assert store.stats()["deliveries"] == {"sent": 2, "expired": 1}


def test_a_transient_error_holds_back_that_chats_later_messages(setup, clock):
    store, sender, deliverer = setup
    deliverer.backoff_seconds = 0.3
    sender.script[1] = [Transient("timeout")]
    store.record_signals([make_signal("2024-01-05"), make_signal("2024-01-08")])
    drain(deliverer)
    assert [t for c, t in sender.sent if c == 1] == []  # order kept: nothing overtakes the failed one
    assert len(sender.sent) == 4  # the other chats are not held up
    clock.advance(0.35)
    drain(deliverer)
    texts = [t for c, t in sender.sent if c == 1]
    assert "2024-01-05" in texts[0] and "2024-01-08" in texts[1]


def test_gone_chat_is_deactivated_and_its_queue_cancelled(setup):
    store, sender, deliverer = setup
    sender.script[3] = [ChatGone("Forbidden: bot was blocked by the user")]
    store.record_signals([make_signal("2024-01-05"), make_signal("2024-01-08")])
    report = drain(deliverer)
    assert report.deactivated_chats == 1
    assert not store.chat(3)["active"]
    assert store.stats()["deliveries"] == {"sent": 4, "cancelled": 2}


def test_moved_chat_is_migrated_and_the_message_sent_there(setup):
    store, sender, deliverer = setup
    sender.script[2] = [ChatMoved(-1002)]
    store.record_signals([make_signal("2024-01-05")])
    drain(deliverer)
    assert any(c == -1002 for c, _ in sender.sent)
    assert store.subscriptions(-1002) == {"rates"}


def test_long_messages_are_split_at_line_boundaries(setup):
    store, sender, deliverer = setup
    store.record_signals([make_signal("2024-01-05", title="x" * 5000)])
    drain(deliverer)
    parts = [t for c, t in sender.sent if c == 1]
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)


def test_a_slow_group_that_outlives_its_claim_is_never_sent_twice(store_target, clock):
    """Replica a claims 150 rows of a group paced at 20 a minute (7.5 minutes of sending under a
    5-minute claim); replica b drains as soon as the claim could have run out. Each row reaches
    the group once, in order, whichever replica sends it (old main: 197 sends of 150 rows)."""
    a, b = open_store(store_target, replica="a"), open_store(store_target, replica="b")
    group = -100123
    try:
        a.upsert_chat(group, "supergroup")
        a.subscribe(group, ["rates"])
        a.record_signals([Signal("rates", f"rates:fed_cut:{n}", "2024-01-08", "start", f"Fed cut number {n:03d}", {})
                          for n in range(150)])
        clock.now = datetime.now(timezone.utc) + timedelta(seconds=5)
        sent: list[tuple[str, str]] = []
        second: list[asyncio.Task] = []

        class PacedSender:
            def __init__(self, name: str) -> None:
                self.name = name

            async def send(self, chat_id: int, part: Part) -> None:
                await asyncio.sleep(0)
                clock.advance(3.0)  # the group's pace: 20 messages a minute
                sent.append((self.name, part.text))
                if not second and clock.now > start + timedelta(seconds=301):
                    second.append(asyncio.create_task(other.drain()))

        first = Deliverer(a, PacedSender("a"), backoff_seconds=0.0, clock=clock, lease_seconds=300)
        other = Deliverer(b, PacedSender("b"), backoff_seconds=0.0, clock=clock, lease_seconds=300)
        start = clock.now

        async def both():
            await first.drain()
            while second and not second[0].done():
                await second[0]
            await other.drain()  # whatever a handed over and b's first drain left

        asyncio.run(both())
        numbers = [text.split("Fed cut number ")[1][:3] for _, text in sent]
        assert len(numbers) == 150 and len(set(numbers)) == 150, "a row was sent twice or not at all"
        assert numbers == sorted(numbers), "the group's messages went out of order"
        assert second, "the test never reached the end of a's claim"
        assert a.stats()["deliveries"] == {"sent": 150}
    finally:
        a.close()
        b.close()


def _kill_connection(store) -> None:
    """What an administrator's pg_terminate_backend (or a pooler's idle timeout) does to the store."""
    import psycopg

    pid = store.db.connection.info.backend_pid
    with psycopg.connect(store.db.url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_a_store_connection_killed_mid_broadcast_is_replaced_and_no_alert_waits_or_repeats(postgres_url, clock):
    """The connection dies while a send is in flight: recording it reconnects and goes through, so no
    chat gets the alert twice and none waits for the claim to run out (old main: that chat's row was
    resent after the 5-minute claim)."""
    store = open_store(postgres_url, replica="a")
    try:
        for chat in range(1, 41):
            store.upsert_chat(chat)
            store.subscribe(chat, ["rates"])
        store.record_signals([make_signal("2024-01-08")])
        clock.now = datetime.now(timezone.utc) + timedelta(seconds=5)
        sent: list[int] = []

        class KillingSender:
            async def send(self, chat_id: int, part: Part) -> None:
                sent.append(chat_id)
                if len(sent) in (7, 23):
                    await asyncio.to_thread(_kill_connection, store)

        report = asyncio.run(Deliverer(store, KillingSender(), backoff_seconds=0.0, clock=clock).drain())
        assert sorted(sent) == list(range(1, 41)), "a chat got the alert twice or not at all"
        assert report.sent == 40
        assert {row["status"] for row in outbox_rows(store)} == {"sent"}
    finally:
        store.close()


def test_an_idle_store_connection_killed_answers_the_next_call(postgres_url):
    store = open_store(postgres_url)
    try:
        store.upsert_chat(9)
        _kill_connection(store)
        assert store.subscribe(9, ["rates"]) == ["rates"]
        _kill_connection(store)
        with store.db.transaction():  # a transaction's BEGIN on the dead connection: a new one
            store.db.execute("UPDATE chats SET title = ? WHERE id = ?", ["t", 9])
        assert store.chat(9)["title"] == "t"
    finally:
        store.close()
