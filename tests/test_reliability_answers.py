"""Reliability: what Telegram answered decides. The real Application against the fake Bot API on
loopback, alerts as photos (faults land on sendPhoto), one alert (a Fed cut) to many chats.

Targets everywhere: 0 lost, copies within the stated bound (3), at most 30 sends in any second, and
the outbox's "sent" equal to what reached the chats.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from types import SimpleNamespace

import pytest

from bot.telegram.application import _tell_admins_of_expired
from bot.delivery.drain import DrainReport
from signals.signal import Signal

from tests.bot_harness import announce_cut, make_folder, running_bot, until
from tests.conftest import Clock
from tests.fake_telegram import FakeTelegram
from tests.test_reliability import alert_counts, subscribed_database

pytestmark = pytest.mark.slow


def busiest_second(fake) -> int:
    accepted = sorted(c.at for c in fake.calls_of("send") if c.status == 200)
    return max((sum(1 for t in accepted if start <= t < start + 1.0) for start in accepted), default=0)


def photo_alerts(fake) -> int:
    return sum(1 for c in fake.calls_of("sendPhoto") if c.status == 200)


@dataclass
class Outcome:
    copies: Counter  # chat -> copies of the alert it received
    took: float
    faults: dict[str, int]  # the fake's chaos counts
    refused: int  # sends answered 502


def deliver_through(tmp_path, chats: int, during: Callable, label: str, timeout: float = 400) -> Outcome:
    """Queue one alert for `chats` chats, let `during(services, fake)` shape what Telegram answers,
    wait until nothing is pending, then check the targets: 0 lost, "sent" only for what was sent,
    at most 3 copies, at most 30 sends in any second."""
    folder = make_folder(tmp_path / "data")
    database = subscribed_database(tmp_path / "bot.sqlite", chats)

    async def scenario():
        async with running_bot(fake, folder, database) as services:
            services.deliverer.backoff_seconds = 0.5
            during(services, fake)
            began = time.monotonic()
            announce_cut(folder)
            await services.tick("test")
            await until(lambda: not services.store.stats()["deliveries"].get("pending"), timeout=timeout, every=0.5)
            return services.store.stats()["deliveries"], time.monotonic() - began

    with FakeTelegram(rate_limit_per_second=30) as fake:
        counts, took = asyncio.run(scenario())
        copies = alert_counts(fake)
        outcome = Outcome(copies, took, dict(fake.chaos_counts),
                          sum(1 for c in fake.calls_of("send") if c.status == 502))
        most = max(copies.values())
        print(f"{label}: {len(copies)}/{chats} chats got it, outbox {counts}, most copies {most}, "
              f"busiest second {busiest_second(fake)} sends, {took:.0f} s; photos accepted {photo_alerts(fake)}; "
              f"faults {outcome.faults}, 502s {outcome.refused}")
        assert len(copies) == chats  # 0 lost
        assert counts == {"sent": chats}  # "sent" only for what was sent
        assert most <= 3
        assert busiest_second(fake) <= 30
    return outcome


def test_a_proxy_answering_html_200_to_a_fifth_of_sends_loses_nothing(tmp_path):
    outcome = deliver_through(tmp_path, 1000, lambda services, fake: fake.chaos(0.2, seed=5, kinds=("garbled",)),
                              "HTML-200 at 20%")
    assert outcome.faults["garbled"] > 150 and sum(outcome.copies.values()) == 1000  # a page delivered nothing


def test_thirty_seconds_of_html_pages_lose_nothing(tmp_path):
    outcome = deliver_through(tmp_path, 600, lambda services, fake: fake.proxy_window(30.0), "30 s of HTML-200")
    assert outcome.took >= 30


def test_a_fifth_of_answers_lost_after_telegram_accepted_keeps_copies_within_three(tmp_path):
    outcome = deliver_through(tmp_path, 600, lambda services, fake: fake.chaos(0.2, seed=9, kinds=("drop-after",)),
                              "lost-after-accepted at 20%")
    assert sum(n - 1 for n in outcome.copies.values()) <= outcome.faults["drop-after"]


def test_six_minutes_of_502_lose_nothing(tmp_path):
    """Longer than the old backoff added up to (8 attempts, about 4 minutes): a real outage in real time."""
    def outage(services, fake):
        services.deliverer.backoff_seconds = 2.0  # the production backoff, capped at 60 s
        fake.fail_for("send", 502, "Bad Gateway", seconds=360)

    outcome = deliver_through(tmp_path, 60, outage, "6 minutes of 502", timeout=600)
    assert outcome.took >= 360 and outcome.refused > 60


def test_an_hour_of_502_on_an_injected_clock_loses_nothing_and_a_day_expires(tmp_path):
    chats = 20
    folder = make_folder(tmp_path / "data")
    database = subscribed_database(tmp_path / "bot.sqlite", chats)
    clock = Clock(datetime.now(timezone.utc) + timedelta(seconds=5))
    report: dict[str, object] = {}

    async def scenario():
        async with running_bot(fake, folder, database) as services:
            for job in services.application.job_queue.get_jobs_by_name("deliver"):
                job.schedule_removal()  # this test drains, on its clock, alone
            deliverer = services.deliverer
            deliverer.clock = clock
            fake.fail_for("send", 502, "Bad Gateway", seconds=3600)  # "an hour" of the clock, ended by hand
            announce_cut(folder)
            await services.tick("test")
            for _ in range(60):  # sixty minutes on the clock, a retry due each minute
                clock.advance(60)
                await deliverer.drain()
                assert services.store.stats()["deliveries"] == {"pending": chats}
            report["tries"] = sum(1 for c in fake.calls_of("send") if c.status == 502)
            fake.heal()  # Telegram is back
            clock.advance(60)
            await deliverer.drain()
            report["after_hour"] = services.store.stats()["deliveries"]
            # a second alert that Telegram refuses for more than a day after its session
            fake.fail_for("send", 502, "Bad Gateway", seconds=3600)
            services.store.record_signals([Signal("rates", "rates:fed_hike", clock.now.date().isoformat(),
                                                  "start", "Fed hike", {})])
            expired = DrainReport()
            for _ in range(60):
                clock.advance(3600)
                drained = await deliverer.drain()
                expired.expired_sessions |= drained.expired_sessions
            report["after_day"] = services.store.stats()["deliveries"]
            fake.heal()  # the notice goes straight to the admins (not through the outbox): Telegram must be up
            context = SimpleNamespace(bot=services.application.bot, application=services.application, services=services)
            await _tell_admins_of_expired(context, services, expired)
            await _tell_admins_of_expired(context, services, expired)  # told once, not twice

    with FakeTelegram() as fake:
        asyncio.run(scenario())
        told = [m["text"] for m in fake.sent(900) if "expired undelivered" in m["text"]]
    print(f"an hour of 502 on the clock: {report['tries']} refused tries, then {report['after_hour']}; "
          f"a day of 502: {report['after_day']}; admins told {len(told)} time(s)")
    assert report["after_hour"] == {"sent": chats}
    assert report["after_day"] == {"sent": chats, "expired": chats}
    assert len(told) == 1
