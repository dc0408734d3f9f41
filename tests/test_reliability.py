"""Reliability with real processes: SIGKILL in the middle of delivering to 500 chats, twice.

Every chat gets the alert; duplicates are at most the messages in flight at each kill (a message
Telegram accepted whose acceptance was not yet recorded); the database stays intact.
"""

from __future__ import annotations

import signal
import sqlite3
from collections import Counter

import pytest

from bot.storage import open_store
from tests.bot_harness import announce_cut, make_folder
from tests.fake_telegram import FakeTelegram
from tests.test_run_command import cli, wait_for
from tests.outbox import outbox_rows

CHATS = 500
IN_FLIGHT = 16  # the deliverer's concurrency: at most this many sends are unrecorded at any moment


def subscribed_database(path, chats: int, topics=("rates",)):
    """A bot database where chats 1..N are subscribed, as a real deployment's would be."""
    store = open_store(path)
    for chat in range(1, chats + 1):
        store.upsert_chat(chat)
        store.subscribe(chat, list(topics))
    store.close()
    return path


def alert_counts(fake) -> Counter:
    return Counter(int(m["chat_id"]) for m in fake.sent() if "Fed cut" in m["text"])


@pytest.mark.slow
def test_sigkill_mid_delivery_twice_loses_nothing(tmp_path):
    folder = make_folder(tmp_path / "data")
    database = subscribed_database(tmp_path / "bot.sqlite", CHATS)
    announce_cut(folder)  # the start-up tick records a Fed cut for all 500 chats

    with FakeTelegram(rate_limit_per_second=30) as fake:
        env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url}
        killed_at = []
        for kill_after in (120, 300):
            process = cli("run", "--data", str(folder), "--db", str(database), env=env, cwd=tmp_path)
            try:
                wait_for(lambda p=process, n=kill_after: sum(alert_counts(fake).values()) >= n or p.poll() is not None,
                         timeout=120)
                assert process.poll() is None, process.stderr.read()
                process.send_signal(signal.SIGKILL)
                process.wait(10)
                killed_at.append(sum(alert_counts(fake).values()))
            finally:
                process.kill()
        process = cli("run", "--data", str(folder), "--db", str(database), env=env, cwd=tmp_path)
        try:
            wait_for(lambda: len(alert_counts(fake)) == CHATS or process.poll() is not None, timeout=180)
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
        finally:
            process.kill()
        counts = alert_counts(fake)

    assert len(counts) == CHATS  # every chat got the alert
    duplicates = sum(n - 1 for n in counts.values())
    print(f"killed after {killed_at} sends; duplicates: {duplicates} (bound {2 * IN_FLIGHT})")
    assert duplicates <= 2 * IN_FLIGHT
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").fetchone()[0] == CHATS


@pytest.mark.slow
def test_two_thousand_deliveries_through_random_faults(tmp_path):
    """20% of sends fail at random (429, 500, 502, a proxy's HTML page, dropped connections): none lost,
    duplicates only where Telegram sent a message whose answer was lost, no second over the limit."""
    import asyncio

    from tests.bot_harness import running_bot, until

    chats = 2000
    folder = make_folder(tmp_path / "data")
    database = subscribed_database(tmp_path / "bot.sqlite", chats)

    with FakeTelegram(rate_limit_per_second=30) as fake:
        async def scenario():
            async with running_bot(fake, folder, database) as services:
                services.deliverer.backoff_seconds = 0.5
                fake.chaos(0.2, seed=7)
                announce_cut(folder)
                await services.tick("test")
                await until(lambda: services.store.stats()["deliveries"].get("sent", 0) == chats, timeout=400,
                            every=0.5)

        asyncio.run(scenario())
        counts = alert_counts(fake)
        accepted = sorted(c.at for c in fake.calls_of("send") if c.status == 200)
        chaos = dict(fake.chaos_counts)
    with sqlite3.connect(database) as connection:
        unconfirmed = {row[0] for row in connection.execute(
            "SELECT chat_id FROM outbox WHERE last_error LIKE 'unconfirmed%'")}
    missing = set(range(1, chats + 1)) - set(counts)

    duplicates = sum(n - 1 for n in counts.values())
    lost_answers = chaos.get("drop-after", 0)  # a proxy's page ("garbled") delivered nothing
    busiest = max(sum(1 for t in accepted if start <= t < start + 1.0) for start in accepted)
    print(f"faults injected: {chaos}; duplicates {duplicates} (answers lost after sending: {lost_answers}); "
          f"busiest second: {busiest} sends; unconfirmed: {len(unconfirmed)}, of which missing {len(missing)}")
    # a dropped connection looks the same before and after Telegram read the request: a part whose
    # answer was lost three times is counted as delivered, and says so ("unconfirmed"); every chat
    # that did not get the alert is one of those, never one recorded plainly as sent
    assert missing <= unconfirmed
    assert len(counts) >= chats - len(unconfirmed)
    assert duplicates <= lost_answers and max(counts.values()) <= 3
    assert busiest <= 30


@pytest.mark.slow
def test_sigterm_mid_delivery_stops_within_ten_seconds_and_loses_nothing(tmp_path):
    import time

    folder = make_folder(tmp_path / "data")
    database = subscribed_database(tmp_path / "bot.sqlite", CHATS)
    announce_cut(folder)
    with FakeTelegram(rate_limit_per_second=30) as fake:
        env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url}
        process = cli("run", "--data", str(folder), "--db", str(database), env=env, cwd=tmp_path)
        try:
            wait_for(lambda: sum(alert_counts(fake).values()) >= 100 or process.poll() is not None, timeout=120)
            began = time.monotonic()
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
            took = time.monotonic() - began
        finally:
            process.kill()
        assert process.returncode == 0, err
        assert took < 10, f"stopping took {took:.1f} s"
        assert len(alert_counts(fake)) < CHATS  # it really stopped mid-delivery
        process = cli("run", "--data", str(folder), "--db", str(database), env=env, cwd=tmp_path)
        try:
            wait_for(lambda: len(alert_counts(fake)) == CHATS or process.poll() is not None, timeout=120)
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
        finally:
            process.kill()
        assert len(alert_counts(fake)) == CHATS
        assert sum(n - 1 for n in alert_counts(fake).values()) == 0


@pytest.mark.slow
def test_two_minutes_without_telegram_keep_the_schedule_and_lose_nothing(tmp_path):
    """Telegram unreachable for 120 s while alerts wait: no attempt used up, nothing failed, the
    evaluation schedule still there, and the outbox drained once Telegram is back."""
    import asyncio
    import time

    from bot.telegram.chat_io import TICK_JOB
    from tests.bot_harness import running_bot, until

    folder = make_folder(tmp_path / "data")
    database = subscribed_database(tmp_path / "bot.sqlite", 50)
    with FakeTelegram() as fake:
        async def scenario():
            async with running_bot(fake, folder, database) as services:
                bot = services.deliverer.sender._bot
                real_url = bot._base_url
                bot._base_url = "http://127.0.0.1:9/bot" + fake.token  # nothing listens there
                announce_cut(folder)
                await services.tick("test")
                began = time.monotonic()
                while time.monotonic() - began < 120:
                    await asyncio.sleep(5)
                    counts = services.store.stats()["deliveries"]
                    assert counts.get("failed", 0) == 0 and counts.get("pending", 0) == 50
                    assert services.application.job_queue.get_jobs_by_name(TICK_JOB)
                attempts = max(row["attempts"] for row in outbox_rows(services.store))
                assert attempts == 0  # waiting for Telegram used up nothing
                bot._base_url = real_url
                await until(lambda: services.store.stats()["deliveries"].get("sent", 0) == 50, timeout=120)

        asyncio.run(scenario())
        assert len(alert_counts(fake)) == 50


@pytest.mark.slow
@pytest.mark.market_data
def test_sigkill_mid_tick_then_restart_alerts_once(market_path, tmp_path):
    """Killed while the start-up tick works on the 2,244-ticker folder: the restart evaluates the
    session again, and every alert of it reaches the chat exactly once."""
    import time

    database = tmp_path / "bot.sqlite"
    store = open_store(database)
    store.upsert_chat(77)
    store.subscribe(77, ["breadth", "breakout", "rates"])
    # the bot last evaluated 2024-02-26: this start catches up the end on 03-08 of the 2-year tightening
    # that began 02-14 (held by its 25 bp band), the one edge of the 10 sessions a restart catches up
    # (IWM's close of 03-01, 0.5% over its prior high, is inside half its average daily move: no breakout)
    store.finish_run(store.start_run("schedule"), "ok", "2024-02-26")
    store.close()
    with FakeTelegram() as fake:
        env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url,
               "ROTATION_CACHE_DIR": str(tmp_path / "cache")}

        def running_tick() -> bool:
            with sqlite3.connect(database) as connection:
                try:
                    return connection.execute("SELECT COUNT(*) FROM runs WHERE outcome = 'running'").fetchone()[0] > 0
                except sqlite3.OperationalError:
                    return False

        process = cli("run", "--data", str(market_path), "--db", str(database), env=env, cwd=tmp_path)
        try:
            wait_for(lambda: running_tick() or process.poll() is not None, timeout=120)
            assert process.poll() is None, process.stderr.read()
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        finally:
            process.kill()
        process = cli("run", "--data", str(market_path), "--db", str(database), env=env, cwd=tmp_path)
        try:
            def settled() -> bool:
                with sqlite3.connect(database) as connection:
                    ok = connection.execute("SELECT COUNT(*) FROM runs WHERE outcome = 'ok'").fetchone()[0]
                    waiting = connection.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
                return ok >= 2 and waiting == 0

            wait_for(lambda: settled() or process.poll() is not None, timeout=180)
            time.sleep(1)
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
        finally:
            process.kill()
        with sqlite3.connect(database) as connection:
            outcomes = [row[0] for row in connection.execute("SELECT outcome FROM runs ORDER BY id")]
            signals = connection.execute("SELECT COUNT(*) FROM signals WHERE type != 'digest'").fetchone()[0]
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert outcomes[:2] == ["ok", "interrupted"] and outcomes[-1] == "ok"
        assert signals == 1
        texts = [m["text"] for m in fake.sent(77)]
        alerts = [t for t in texts if "close \u00b7" in t]
        assert len(alerts) == signals and len(set(alerts)) == len(alerts)  # each once
