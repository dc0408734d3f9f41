"""Delivery under Telegram's real failure modes: nothing lost, nothing sent more than needed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.delivery.drain import Ambiguous, Permanent, Transient, Unreachable
from tests.test_delivery import drain, make_signal, setup  # noqa: F401 (a fixture)
from tests.outbox import outbox_rows


def time_passes(clock) -> None:
    """Every waiting retry comes due (the clock moves past the backoff instead of a test sleeping through it)."""
    clock.advance(120)


def rows(store, chat: int):
    return [(r["status"], r["attempts"], r["parts_sent"], r["ambiguous"], r["last_error"])
            for r in outbox_rows(store, chat)]


def test_a_permanent_refusal_fails_at_once_and_does_not_block_the_chat(setup):  # noqa: F811
    store, sender, deliverer = setup
    sender.script[1] = [Permanent("Bad Request: can't parse entities")]
    store.record_signals([make_signal("2024-01-05"), make_signal("2024-01-08")])
    report = drain(deliverer)
    assert report.failed == 1
    assert rows(store, 1)[0][:2] == ("failed", 1) and "can't parse entities" in rows(store, 1)[0][4]
    assert [t for c, t in sender.sent if c == 1][0].count("2024-01-08") == 1  # the next alert still went


def test_a_lost_answer_is_retried_twice_and_a_third_counts_as_delivered(setup, clock):  # noqa: F811
    store, sender, deliverer = setup
    deliverer.backoff_seconds = 60.0
    sender.script[2] = [Ambiguous("connection dropped")] * 5
    store.record_signals([make_signal("2024-01-05")])
    first = drain(deliverer)
    assert first.ambiguous == 1 and rows(store, 2)[0][:4] == ("pending", 1, 0, 1)
    time_passes(clock)
    assert drain(deliverer).ambiguous == 1 and rows(store, 2)[0][:4] == ("pending", 2, 0, 2)
    time_passes(clock)
    third = drain(deliverer)  # lost a third time: Telegram has most likely sent it already
    assert third.unconfirmed == 1
    status, attempts, _, _, note = rows(store, 2)[0]
    assert status == "sent" and note.startswith("unconfirmed: 3 answers lost")
    time_passes(clock)
    assert drain(deliverer).sent == 0  # never a fourth copy
    assert len(sender.script[2]) == 2  # three tries in all


def test_a_lost_answer_then_a_good_one_sends_once_more_only(setup, clock):  # noqa: F811
    store, sender, deliverer = setup
    deliverer.backoff_seconds = 60.0
    sender.script[2] = [Ambiguous("read timeout")]
    store.record_signals([make_signal("2024-01-05")])
    drain(deliverer)
    time_passes(clock)
    assert drain(deliverer).sent == 1
    assert rows(store, 2)[0][0] == "sent" and rows(store, 2)[0][4] is None


def test_lost_answers_are_counted_per_part(setup, clock):  # noqa: F811
    store, sender, deliverer = setup
    original = sender.send
    answers = iter([Ambiguous("dropped"), None, Ambiguous("dropped"), Ambiguous("dropped"), None, None])

    async def lossy(chat_id, part):
        if chat_id == 1:
            outcome = next(answers)
            if outcome is not None:
                raise outcome
        await original(chat_id, part)

    sender.send = lossy
    store.record_signals([make_signal("2024-01-05", title="x" * 5000)])  # three parts
    for _ in range(5):
        drain(deliverer)
        time_passes(clock)
    assert rows(store, 1)[0][0] == "sent" and rows(store, 1)[0][4] is None  # each part's losses counted anew
    assert len([t for c, t in sender.sent if c == 1]) == 3


def test_a_proxy_page_is_not_a_delivery(setup, clock):  # noqa: F811
    from bot.delivery.drain import NotTelegram

    store, sender, deliverer = setup
    deliverer.backoff_seconds = 60.0
    sender.script[2] = [NotTelegram("a 200 answer that is not Telegram's: '<html>'")] * 4
    store.record_signals([make_signal("2024-01-05")])
    for _ in range(4):
        drain(deliverer)
        assert rows(store, 2)[0][0] == "pending"
        time_passes(clock)
    assert drain(deliverer).sent == 1  # the proxy is gone: delivered, once
    assert [c for c, _ in sender.sent].count(2) == 1


def test_an_alert_past_its_window_is_expired_without_a_try(setup, clock):  # noqa: F811
    store, sender, deliverer = setup
    store.record_signals([make_signal("2024-01-05")])
    clock.advance(25 * 3600)  # the bot was down for a day: the queued alert is no longer news
    report = drain(deliverer)
    assert report.expired == 3 and sender.sent == []
    assert store.stats()["deliveries"] == {"expired": 3}


def test_a_catch_up_queued_late_has_its_own_window(setup, clock):  # noqa: F811
    from bot.delivery.drain import worth_until

    store, _, deliverer = setup
    store.record_signals([make_signal("2024-01-05")])  # an old session, queued now
    delivery = store.due_deliveries()[0]
    assert worth_until(delivery, deliverer.worth_sending) > clock.now + timedelta(hours=23)


def test_an_outage_does_not_use_up_attempts(setup, clock):  # noqa: F811
    store, sender, deliverer = setup
    deliverer.backoff_seconds = 60.0
    sender.script[3] = [Unreachable("Connection refused")] * 20
    store.record_signals([make_signal("2024-01-05")])
    for _ in range(20):
        drain(deliverer)
        time_passes(clock)
    assert rows(store, 3)[0][0] == "pending" and rows(store, 3)[0][1] == 0  # 20 tries, none counted
    assert drain(deliverer).sent == 1  # Telegram is back: delivered, nothing lost


def test_a_split_alert_resends_only_the_part_that_failed(setup, clock):  # noqa: F811
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
    time_passes(clock)
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
    from bot.delivery.drain import Deliverer

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
    assert store.release_orphaned_leases() == 3  # what a start-up does after a crash: its own old claims
    later = "2999-01-01T00:00:00+00:00"
    assert len(store.due_deliveries()) == 3
    assert len(store.due_deliveries(now=later)) == 3  # a dead sender's lease runs out
