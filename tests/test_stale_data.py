"""Stale live data in the running bot: retried for a while, then no signal, /status says so, admins told once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from bot.runtime.scheduling import NEW_YORK
from bot.telegram.chat_io import TICK_JOB
from bot.runtime.schedule import Due
from signals.sources.folder import load_folder
from tests.bot_harness import ADMIN_CHAT, announce_cut, make_folder, running_bot, until
from tests.builders import StaticFeed
from tests.fake_telegram import FakeTelegram


class LiveStaticFeed(StaticFeed):
    live = True


class JustClosed:
    """A calendar where a session closed (plus the delay) five minutes ago, whatever today is."""

    def last_due(self, now):
        return Due("2024-02-29", datetime.now(timezone.utc) - timedelta(minutes=5))

    def next_due(self, now):
        return Due("2024-03-01", datetime.now(timezone.utc) + timedelta(days=1))


def stale_feed(folder):
    announce_cut(folder)  # a signal would fire if the data were trusted
    return LiveStaticFeed(load_folder(folder), "stale", ("Yahoo has no bar for the session yet",))


def admin_texts(fake):
    return [m["text"] for m in fake.sent(ADMIN_CHAT)]


def test_stale_data_fires_nothing_and_admins_are_told_once(tmp_path):
    folder = make_folder(tmp_path / "data")
    with FakeTelegram() as fake:
        async def scenario():
            async with running_bot(fake, folder, tmp_path / "bot.sqlite", {"stale_give_up_minutes": 0},
                                   feed=stale_feed(folder), calendar=JustClosed()) as services:
                await until(lambda: any("is stale" in t for t in admin_texts(fake)))
                assert services.store.stats()["signals"] == 0
                assert services.store.last_run()["outcome"] == "stale"
                fake.push_message(ADMIN_CHAT, "/run")
                await until(lambda: any("Tick done" in t for t in admin_texts(fake)))
                fake.push_message(ADMIN_CHAT, "/status")
                await until(lambda: any("Data is stale" in t for t in admin_texts(fake)))
                assert len([t for t in admin_texts(fake) if "is stale after" in t]) == 1

        asyncio.run(scenario())


def test_stale_data_is_retried_before_giving_up(tmp_path):
    folder = make_folder(tmp_path / "data")
    with FakeTelegram() as fake:
        async def scenario():
            async with running_bot(fake, folder, tmp_path / "bot.sqlite",
                                   {"stale_retry_minutes": 15, "stale_give_up_minutes": 180},
                                   feed=stale_feed(folder), calendar=JustClosed()) as services:
                jobs = services.application.job_queue.get_jobs_by_name(TICK_JOB)  # after the stale start-up tick
                assert len(jobs) == 1
                wait = jobs[0].next_t - datetime.now(timezone.utc)
                assert timedelta(minutes=14) < wait <= timedelta(minutes=15)
                assert not any("is stale" in t for t in admin_texts(fake))

        asyncio.run(scenario())



def test_yahoo_unreachable_is_one_line_with_the_next_try_in_new_york_time(tmp_path, caplog):
    folder = make_folder(tmp_path / "data")
    feed = LiveStaticFeed(load_folder(folder), "partial", (
        "Yahoo Finance unreachable (could not resolve query2.finance.yahoo.com); stopped asking after 2 tries, "
        "no ticker is marked failed",))
    with FakeTelegram() as fake, caplog.at_level("INFO", logger="bot.telegram.application"):
        async def scenario():
            async with running_bot(fake, folder, tmp_path / "bot.sqlite",
                                   {"stale_retry_minutes": 15, "stale_give_up_minutes": 180},
                                   feed=feed, calendar=JustClosed()):
                await until(lambda: any("next try at" in r.getMessage() for r in caplog.records))

        asyncio.run(scenario())
    said = [r.getMessage() for r in caplog.records if "next try at" in r.getMessage()]
    expected = (datetime.now(timezone.utc) + timedelta(minutes=15)).astimezone(NEW_YORK).strftime("%H:%M")
    assert said[0].startswith("Yahoo Finance unreachable (could not resolve query2.finance.yahoo.com); next try at ")
    assert said[0].endswith(" ET") and said[0][-8:-3] in {expected, (datetime.now(timezone.utc) + timedelta(
        minutes=14)).astimezone(NEW_YORK).strftime("%H:%M")}
