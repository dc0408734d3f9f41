"""A scheduled evaluation that fails (a full disk, a database away) is tried again with backoff until it
succeeds, not at the next close; one traceback and one admin message per streak, one line per retry."""

from __future__ import annotations

import asyncio
import logging

from bot.runtime import scheduling
from signals.sources.folder import load_folder
from tests.bot_harness import ADMIN_CHAT, announce_cut, make_folder, running_bot, until
from tests.builders import StaticFeed
from tests.fake_telegram import FakeTelegram
from tests.test_stale_data import JustClosed


class FullDiskFeed(StaticFeed):
    """Data that cannot be read for the first `failures` evaluations, as when the disk is full."""

    def __init__(self, data, failures: int) -> None:
        super().__init__(data)
        self.failures = failures

    def load(self):
        if self.failures > 0:
            self.failures -= 1
            raise OSError(28, "No space left on device")
        return self.data


def test_a_failed_scheduled_evaluation_is_retried_with_backoff_until_it_succeeds(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(scheduling, "RETRY_FIRST_SECONDS", 0.2)
    folder = make_folder(tmp_path / "data")
    announce_cut(folder)  # the evaluation that gets through finds the Fed's cut
    feed = FullDiskFeed(load_folder(folder), failures=3)
    with FakeTelegram() as fake, caplog.at_level(logging.INFO, logger="bot.runtime.scheduling"):
        async def scenario():
            async with running_bot(fake, folder, tmp_path / "bot.sqlite", feed=feed, calendar=JustClosed()) as services:
                await until(lambda: services.store.last_run("ok") is not None, timeout=30)
                assert feed.failures == 0
                assert services.store.stats()["signals"] > 0

        asyncio.run(scenario())
    told = [m["text"] for m in fake.sent(ADMIN_CHAT) if "Scheduled evaluation failed" in m["text"]]
    assert len(told) == 1 and "Trying again in 0 s" in told[0]
    records = [r for r in caplog.records if r.name == "bot.runtime.scheduling" and "evaluation failed" in r.message]
    assert [r.exc_info is not None for r in records] == [True, False, False]  # one traceback, then one line each
    assert "attempt 2" in records[1].message and "attempt 3" in records[2].message
