"""Delivery under Telegram's real failure modes: nothing lost, nothing sent more than needed."""

from __future__ import annotations

import asyncio

from bot.delivery import Ambiguous, Permanent, Transient, Unreachable
from tests.test_delivery import drain, make_signal, setup  # noqa: F401 (a fixture)


def time_passes(store) -> None:
    """Every waiting retry is due now (instead of sleeping through a backoff)."""
    store.db.execute("UPDATE outbox SET next_attempt_at = '2000-01-01' WHERE status = 'pending'")


def rows(store, chat: int):
    return store.db.execute("SELECT status, attempts, parts_sent, ambiguous, last_error FROM outbox "
                            "WHERE chat_id = ? ORDER BY id", [chat]).fetchall()


def test_a_permanent_refusal_fails_at_once_and_does_not_block_the_chat(setup):  # noqa: F811
    store, sender, deliverer = setup
    sender.script[1] = [Permanent("Bad Request: can't parse entities")]
    store.record_signals([make_signal("2024-01-05"), make_signal("2024-01-08")])
    report = drain(deliverer)
    assert report.failed == 1
    assert rows(store, 1)[0][:2] == ("failed", 1) and "can't parse entities" in rows(store, 1)[0][4]
    assert [t for c, t in sender.sent if c == 1][0].count("2024-01-08") == 1  # the next alert still went


def test_an_ambiguous_answer_is_retried_and_only_the_first_retry_is_free(setup):  # noqa: F811
    store, sender, deliverer = setup  # max_attempts is 3
    deliverer.backoff_seconds = 60.0
    sender.script[2] = [Ambiguous("connection dropped")] * 2
    store.record_signals([make_signal("2024-01-05")])
    first = drain(deliverer)
    assert first.ambiguous == 1 and rows(store, 2)[0][:2] == ("pending", 0)
    time_passes(store)
    drain(deliverer)
    assert rows(store, 2)[0][:2] == ("pending", 1)  # the second counts
    time_passes(store)
    assert drain(deliverer).sent == 1  # nothing lost
    assert [c for c, _ in sender.sent].count(2) == 1


def test_an_unreadable_answer_to_an_accepted_message_is_not_resent(setup):  # noqa: F811
    from bot.delivery import AcceptedUnreadable

    store, sender, deliverer = setup
    sender.script[2] = [AcceptedUnreadable("Invalid server response")]
    store.record_signals([make_signal("2024-01-05")])
    assert drain(deliverer).sent == 3
    status, _, _, _, note = rows(store, 2)[0]
    assert status == "sent" and "unreadable" in note
    assert drain(deliverer).sent == 0


def test_an_outage_does_not_use_up_attempts(setup):  # noqa: F811
    store, sender, deliverer = setup  # max_attempts is 3
    deliverer.backoff_seconds = 60.0
    sender.script[3] = [Unreachable("Connection refused")] * 20
    store.record_signals([make_signal("2024-01-05")])
    for _ in range(20):
        drain(deliverer)
        time_passes(store)
    assert rows(store, 3)[0][0] == "pending" and rows(store, 3)[0][1] == 0  # 20 tries, none counted
    assert drain(deliverer).sent == 1  # Telegram is back: delivered, nothing lost


def test_a_split_alert_resends_only_the_part_that_failed(setup):  # noqa: F811
    store, sender, deliverer = setup
    original = sender.send
    calls = {"n": 0}

    async def second_part_fails_once(chat_id, part):
        if chat_id == 1:
            calls["n"] += 1
            if calls["n"] == 2:
                raise Transient("Bad Gateway")
        await original(chat_id, part)

    sender.send = second_part_fails_once
    deliverer.backoff_seconds = 60.0
    store.record_signals([make_signal("2024-01-05", title="x" * 5000)])
    drain(deliverer)
    assert rows(store, 1)[0][:3] == ("pending", 1, 1)
    time_passes(store)
    drain(deliverer)
    parts = [t for c, t in sender.sent if c == 1]
    assert len(parts) == 3 and parts[0] != parts[1]  # part one once, then two and three
    assert rows(store, 1)[0][0] == "sent"


def test_an_error_the_sender_does_not_know_never_aborts_a_drain(setup):  # noqa: F811
    store, sender, deliverer = setup
    deliverer.backoff_seconds = 60.0
    sender.script[1] = [ValueError("something odd in the library")]
    store.record_signals([make_signal("2024-01-05")])
    report = drain(deliverer)
    assert report.sent == 2 and report.retried == 1
    assert rows(store, 1)[0][0] == "pending" and "ValueError" in rows(store, 1)[0][4]


def test_two_drains_at_once_send_each_row_once(setup):  # noqa: F811
    store, sender, deliverer = setup
    from bot.delivery import Deliverer

    other = Deliverer(store, sender, backoff_seconds=0.0)
    store.record_signals([make_signal("2024-01-05"), make_signal("2024-01-08")])

    async def both():
        return await asyncio.gather(deliverer.drain(), other.drain())

    reports = asyncio.run(both())
    assert sum(r.sent for r in reports) == 6
    assert len(sender.sent) <= 6 + 3  # at most the rows in flight when both looked
    assert store.stats()["deliveries"] == {"sent": 6}


def test_claimed_rows_are_not_handed_out_twice_until_released_or_expired(setup):  # noqa: F811
    store, _, _ = setup
    store.record_signals([make_signal("2024-01-05")])
    assert len(store.due_deliveries()) == 3
    assert store.due_deliveries() == []  # claimed by the first caller
    assert store.release_leases() == 3  # what a start-up does after a crash
    later = "2999-01-01T00:00:00+00:00"
    assert len(store.due_deliveries()) == 3
    assert len(store.due_deliveries(now=later)) == 3  # a dead sender's lease runs out
