"""Replicas on one PostgreSQL database, as real processes against the fake Telegram.

Two `rotation-bot run` share a database: one leads (polls, runs the schedule), the other stands by.
SIGKILL the leader in the middle of delivering an alert to 200 chats: the standby leads within
seconds, every chat gets the alert, duplicates stay within what was in flight, and a command sent
after the kill is answered. Never two pollers at once: the fake answers 409 to a second one, and
counts it.
"""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest

from bot.storage import open_store
from tests.bot_harness import announce_cut, make_folder
from tests.fake_telegram import FakeTelegram
from tests.test_run_command import cli, wait_for

CHATS = 200
IN_FLIGHT = 16  # the deliverer's concurrency: at most this many sends are unrecorded at any moment


def alert_counts(fake) -> Counter:
    return Counter(int(m["chat_id"]) for m in fake.sent() if "Fed cut" in m["text"])


def leader(url: str) -> str | None:
    store = open_store(url, replica="observer")
    try:
        leaders = [r for r in store.replicas() if r.role == "leader"]
    finally:
        store.close()
    return leaders[0].name if leaders else None


def start_replica(name: str, folder, url: str, fake, tmp_path, **extra: str):
    env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url_for(name), "DATABASE_URL": url,
           "REPLICA_NAME": name, **extra}
    return cli("run", "--data", str(folder), env=env, cwd=tmp_path)


@pytest.mark.slow
def test_sigkill_of_the_leader_mid_delivery_loses_nothing_and_the_standby_answers(postgres_url, tmp_path):
    folder = make_folder(tmp_path / "data")
    store = open_store(postgres_url, replica="setup")
    for chat in range(1, CHATS + 1):
        store.upsert_chat(chat)
        store.subscribe(chat, ["rates"])
    store.close()
    announce_cut(folder)  # the leader's start-up tick records a Fed cut for all 200 chats

    with FakeTelegram(rate_limit_per_second=30) as fake:
        first = start_replica("a", folder, postgres_url, fake, tmp_path)
        wait_for(lambda: leader(postgres_url) == "a" or first.poll() is not None, timeout=60)
        second = start_replica("b", folder, postgres_url, fake, tmp_path)
        processes = {"a": first, "b": second}
        try:
            wait_for(lambda: sum(alert_counts(fake).values()) >= 40 or first.poll() is not None, timeout=120)
            assert first.poll() is None and second.poll() is None, first.stderr.read()
            first.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            first.wait(10)
            sent_at_kill = sum(alert_counts(fake).values())
            fake.push_message(5, "/breadth")
            wait_for(lambda: leader(postgres_url) == "b" or second.poll() is not None, timeout=60)
            took_over = time.monotonic() - killed
            wait_for(lambda: any("S&amp;P 500" in m["text"] or "S&P 500" in m["text"] for m in fake.sent(5)
                                 if "Fed cut" not in m["text"]), timeout=60)
            answered = time.monotonic() - killed
            wait_for(lambda: len(alert_counts(fake)) == CHATS or second.poll() is not None, timeout=120)
            second.send_signal(signal.SIGTERM)
            _, err = second.communicate(timeout=30)
            assert second.returncode == 0, err
        finally:
            for process in processes.values():
                process.kill()
        counts = alert_counts(fake)
        conflicts = fake.conflicts
        pollers = fake.pollers()

    duplicates = sum(n - 1 for n in counts.values())
    print(f"killed the leader after {sent_at_kill} sends; the standby led after {took_over:.1f} s and answered "
          f"/breadth after {answered:.1f} s; duplicates {duplicates}; 409s {conflicts}")
    assert len(counts) == CHATS  # every chat got the alert
    assert duplicates <= IN_FLIGHT
    assert took_over < 30 and answered < 60
    assert pollers == ["a", "b"]  # once b polled, a never did again: never the two at once
    assert conflicts <= 1  # at most the dead leader's open poll, ended by the new leader's first
    store = open_store(postgres_url, replica="check")
    try:
        assert store.stats()["deliveries"] == {"sent": CHATS}  # evaluated by both leaders, queued once per chat
    finally:
        store.close()


@pytest.mark.slow
def test_a_leader_that_loses_its_lock_connection_stops_and_the_standby_leads(postgres_url, tmp_path):
    import psycopg

    folder = make_folder(tmp_path / "data")
    with FakeTelegram() as fake:
        first = start_replica("a", folder, postgres_url, fake, tmp_path)
        try:
            wait_for(lambda: leader(postgres_url) == "a" or first.poll() is not None, timeout=60)
            second = start_replica("b", folder, postgres_url, fake, tmp_path)
            try:
                wait_for(lambda: len([r for r in _replicas(postgres_url) if r.role == "standby"]) == 1, timeout=60)
                with psycopg.connect(postgres_url, autocommit=True) as admin:  # the server drops the lock's session
                    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE application_name = 'rotation-bot a (leader lock)'")
                _, err = first.communicate(timeout=30)
                assert first.returncode == 1 and "lost the lead" in err
                wait_for(lambda: leader(postgres_url) == "b", timeout=30)
                second.send_signal(signal.SIGTERM)
                second.communicate(timeout=30)
            finally:
                second.kill()
        finally:
            first.kill()
        assert fake.pollers() == ["a", "b"]


def _replicas(url: str):
    store = open_store(url, replica="observer")
    try:
        return store.replicas()
    finally:
        store.close()
