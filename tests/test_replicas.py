"""Replicas on one PostgreSQL database, as real processes against the fake Telegram.

Two `rotation-bot run` share a database: one leads (polls, runs the schedule), the other stands by.
SIGKILL the leader in the middle of delivering an alert to 200 chats: the standby leads within
seconds, every chat gets the alert, duplicates stay within what was in flight, and a command sent
after the kill is answered. Never two pollers at once: the fake answers 409 to a second one, and
counts it.
"""

from __future__ import annotations

import signal
import threading
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


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def webhook_env(port: int) -> dict[str, str]:
    return {"TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram", "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
            "TELEGRAM_WEBHOOK_PORT": str(port), "TELEGRAM_WEBHOOK_SECRET": "s3cret-of-the-test"}


def answered(fake, chat: int) -> bool:
    return any("/help" in m["text"] or "subscribe" in m["text"].lower() for m in fake.sent(chat))


@pytest.mark.slow
def test_webhook_mode_takes_updates_without_polling(tmp_path):
    """One bot on a file: setWebhook at start, updates posted to it answered, a post without the secret refused."""
    folder = make_folder(tmp_path / "data")
    port = free_port()
    with FakeTelegram() as fake:
        env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url, **webhook_env(port)}
        process = cli("run", "--data", str(folder), "--db", str(tmp_path / "bot.sqlite"), env=env, cwd=tmp_path)
        try:
            wait_for(lambda: bool(fake.calls_of("setWebhook")) or process.poll() is not None, timeout=60)
            assert process.poll() is None, process.stderr.read()
            (hook,) = fake.calls_of("setWebhook")
            assert hook.params["url"] == f"http://127.0.0.1:{port}/telegram"
            assert hook.params["secret_token"] == "s3cret-of-the-test"
            url = f"http://127.0.0.1:{port}/telegram"
            wait_for(lambda: _posts(fake, url, 9, None) == 403, timeout=30)  # refused: no secret
            assert _posts(fake, url, 9, "s3cret-of-the-test") == 200
            wait_for(lambda: answered(fake, 9), timeout=30)
            assert not fake.calls_of("getUpdates")
            # the headers decide before the body is read (old main read 60 MiB bodies, then refused them)
            assert first_line_answered(port, secret=None, length=60 << 20) == "HTTP/1.1 403 Forbidden"
            assert first_line_answered(port, secret="s3cret-of-the-test", length=60 << 20) == \
                "HTTP/1.1 413 Request Entity Too Large"
            before = resident_mib(process.pid)
            flood = [threading.Thread(target=post_without_secret, args=(port, 60)) for _ in range(8)]
            for thread in flood:
                thread.start()
            for thread in flood:
                thread.join(60)
            grew = resident_mib(process.pid) - before
            print(f"8 x 60 MiB posts without the secret: the bot's memory grew {grew:.1f} MiB")
            assert grew < 20  # old main: from 309 to 1,017 MiB
            assert _posts(fake, url, 9, "s3cret-of-the-test") == 200
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
            assert process.returncode == 0, err
        finally:
            process.kill()


@pytest.mark.slow
def test_every_replica_takes_webhook_updates_and_one_leads(postgres_url, tmp_path):
    folder = make_folder(tmp_path / "data")
    ports = {"a": free_port(), "b": free_port()}
    with FakeTelegram() as fake:
        processes = {}
        try:
            processes["a"] = start_replica("a", folder, postgres_url, fake, tmp_path, **webhook_env(ports["a"]))
            wait_for(lambda: leader(postgres_url) == "a" or processes["a"].poll() is not None, timeout=60)
            processes["b"] = start_replica("b", folder, postgres_url, fake, tmp_path, **webhook_env(ports["b"]))
            wait_for(lambda: len([r for r in _replicas(postgres_url) if r.role == "standby"]) == 1, timeout=60)
            for chat, name in ((11, "a"), (12, "b")):  # a load balancer sends each update to one replica
                url = f"http://127.0.0.1:{ports[name]}/telegram"
                wait_for(lambda u=url, c=chat: _posts(fake, u, c, "s3cret-of-the-test") == 200, timeout=30)
            wait_for(lambda: answered(fake, 11) and answered(fake, 12), timeout=30)
            assert not fake.calls_of("getUpdates")  # nobody polls in webhook mode
            assert leader(postgres_url) == "a"
            assert _posts(fake, f"http://127.0.0.1:{ports['b']}/telegram", 12, "s3cret-of-the-test", "/status") == 200
            wait_for(lambda: any("Replicas:" in m["text"] for m in fake.sent(12)), timeout=30)
            (status,) = [m["text"] for m in fake.sent(12) if "Replicas:" in m["text"]]
            line = next(line for line in status.splitlines() if line.startswith("Replicas:"))
            assert line.startswith("Replicas: a leads since ") and line.endswith("standing by: b (this one)")
        finally:
            for process in processes.values():
                process.send_signal(signal.SIGTERM)
            for process in processes.values():
                try:
                    process.communicate(timeout=30)
                finally:
                    process.kill()


def first_line_answered(port: int, secret: str | None, length: int) -> str:
    """The status line the bot answers to a post's headers alone (its body never sent)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        secret_header = f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\n" if secret else ""
        connection.sendall(f"POST /telegram HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
                           f"{secret_header}Content-Length: {length}\r\n\r\n".encode())
        return connection.recv(200).decode().split("\r\n")[0]


def post_without_secret(port: int, mib: int) -> None:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(f"POST /telegram HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
                               f"Content-Length: {mib << 20}\r\n\r\n".encode())
            for _ in range(mib):
                connection.sendall(b"x" * (1 << 20))
    except OSError:  # refused and closed: what should happen
        pass


def resident_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _posts(fake, url: str, chat: int, secret: str | None, text: str = "/help") -> int:
    import httpx

    try:
        return fake.post_message(url, chat, text, secret)
    except httpx.TransportError:  # not listening yet
        return 0


def test_replicas_alive_share_the_bots_limits(tmp_path):
    """Each replica paces at its share: the replicas that beat lately, itself included."""
    from types import SimpleNamespace

    from bot.runtime.replica import _alive
    from bot.storage import open_store

    path = tmp_path / "bot.sqlite"
    first, second = open_store(path, replica="a"), open_store(path, replica="b")
    try:
        first.announce_replica("leader", "host-a", 1)
        assert _alive(SimpleNamespace(store=first)) == 1
        second.announce_replica("standby", "host-b", 2)
        assert _alive(SimpleNamespace(store=first)) == 2
    finally:
        first.close()
        second.close()


def test_a_namesake_whose_process_is_gone_from_this_host_is_its_dead_last_life(store_target):
    """A supervisor's immediate restart under the same REPLICA_NAME starts at once (old main: refused for
    25-31 s, until the dead one's beat aged out); a live namesake, or one on another host, is refused."""
    import os
    import subprocess
    import sys

    from bot.runtime.replica import refuse_a_live_namesake
    from signals.errors import RotationError

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    store = open_store(store_target, replica="a")
    try:
        store.announce_replica("leader", "host-1", ended.pid)  # beat just now, then SIGKILLed
        refuse_a_live_namesake(store, "host-1", os.getpid())
        store.announce_replica("leader", "host-1", os.getpid())  # a container restarted: pid 1 again
        refuse_a_live_namesake(store, "host-1", os.getpid())
        store.announce_replica("leader", "host-1", os.getppid())  # alive on this host
        with pytest.raises(RotationError, match="is running"):
            refuse_a_live_namesake(store, "host-1", os.getpid())
        store.announce_replica("leader", "host-2", ended.pid)  # another host: its pids say nothing here
        with pytest.raises(RotationError, match="is running"):
            refuse_a_live_namesake(store, "host-1", os.getpid())
    finally:
        store.close()


def test_evaluate_beside_running_replicas_queues_and_leaves_sending_to_them(postgres_url, tmp_path):
    """A tick by hand beside a running leader records the alert and sends nothing itself: the replicas
    send at the bot's shared rate (old main: a second sender, 44 sends in one second)."""
    import socket

    from bot.runtime.config import load_config
    from bot.runtime.runner import tick_by_hand
    from tests.fake_telegram import FakeTelegram

    folder = make_folder(tmp_path / "data")
    announce_cut(folder)
    leader = open_store(postgres_url, replica="a")
    try:
        for chat in range(1, 31):
            leader.upsert_chat(chat)
            leader.subscribe(chat, ["rates"])
        leader.announce_replica("leader", socket.gethostname(), 1)
        with FakeTelegram() as fake:
            config = load_config(telegram_bot_token=fake.token, telegram_api_url=fake.base_url,
                                 database_url=postgres_url, rotation_data=folder)
            result = tick_by_hand(config, None)
            assert result.new_signals
            assert not fake.calls_of("send")
        assert leader.stats()["deliveries"].get("pending") == 30
    finally:
        leader.close()
