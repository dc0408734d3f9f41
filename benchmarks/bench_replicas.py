"""Replicas on PostgreSQL: paid-broadcast fan-out with 1 and 2 replicas, against one bot on SQLite, and failover.

    python -m benchmarks.bench_replicas [--chats 2000] [--round-trip 0.1]
                                        [--server postgresql://postgres@127.0.0.1:5432/test]

Each configuration is real `rotation-bot run` processes on a fresh database (a scratch database on
the server, dropped after; a SQLite file for the baseline) and the fake Bot API with a limit of
1,000 messages a second (the paid ceiling), answering each send after `--round-trip` seconds (about
Telegram's from a server far from its data centres). The leader's start-up tick queues one alert for
every chat; the rate is the chats over the time from the first accepted send to the last. Measured in
the same run, each from a process of its own (benchmarks/http_ceiling.py): the fake server's own
ceiling, and what one HTTP client reaches against it with PTB's default single pool and with the
bot's spread pools. Failover: the leader is SIGKILLed while the standby waits; the time until the
standby leads and until it answers a command.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.http_ceiling import CLIENTS, measure
from bot.storage import open_store
from tests.bot_harness import announce_cut, make_folder
from tests.fake_telegram import FakeTelegram
from tests.pg import scratch_database
from tests.test_run_command import cli, wait_for


ADMIN = 1  # asks for the tick (/run) once every replica is up


def subscribe(target, chats: int) -> None:
    store = open_store(target, replica="bench")
    for chat in range(1, chats + 1):
        store.upsert_chat(chat)
        store.subscribe(chat, ["rates"])
    store.close()


def alert_calls(fake: FakeTelegram) -> list:
    """The accepted sends of the alert (a photo's caption or a message's text)."""
    return [c for c in fake.calls_of("send") if c.status == 200
            and "Fed cut" in (c.params.get("text") or c.params.get("caption") or "")]


def alert_sends(fake: FakeTelegram) -> list[float]:
    return sorted(c.at for c in alert_calls(fake))


def start(name: str, folder: Path, target, fake: FakeTelegram, root: Path):
    env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url_for(name),
           "TELEGRAM_PAID_BROADCAST": "true", "REPLICA_NAME": name, "ADMIN_CHAT_IDS": str(ADMIN)}
    if isinstance(target, str):
        env["DATABASE_URL"] = target
        return cli("run", "--data", str(folder), env=env, cwd=root)
    return cli("run", "--data", str(folder), "--db", str(target), env=env, cwd=root)


def leader_of(url: str) -> str | None:
    store = open_store(url, replica="bench")
    try:
        return next((r.name for r in store.replicas() if r.role == "leader"), None)
    finally:
        store.close()


def round_trip(fake: FakeTelegram, seconds: float) -> None:
    for method in ("sendMessage", "sendPhoto"):
        fake.delays[method] = seconds


def fan_out(target, replicas: int, chats: int, root: Path, seconds: float) -> dict[str, float]:
    folder = make_folder(root / "data")
    subscribe(target, chats)
    with FakeTelegram(rate_limit_per_second=1000) as fake:
        round_trip(fake, seconds)
        processes = []
        try:
            processes.append(start("a", folder, target, fake, root))
            wait_for(lambda: bool(fake.calls_of("getUpdates")), timeout=60)  # it leads and its start-up tick is done
            if replicas > 1:
                processes.append(start("b", folder, target, fake, root))
                wait_for(lambda: bool(fake.calls_of("getMe")) and len({c.client for c in fake.calls_of("getMe")}) > 1,
                         timeout=60)
                time.sleep(2)  # the standby's jobs are running
            announce_cut(folder)
            fake.push_message(ADMIN, "/run")  # the leader's tick queues the alert for every chat
            wait_for(lambda: len(alert_sends(fake)) >= chats, timeout=240)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.communicate(timeout=30)
                except Exception:  # noqa: BLE001 - a bench cleans up whatever happened
                    process.kill()
        sends = alert_sends(fake)
        by_replica = Counter(c.client for c in alert_calls(fake))
        duplicates = sum(n - 1 for n in Counter(int(c.params["chat_id"]) for c in alert_calls(fake)).values())
    span = sends[-1] - sends[0] if len(sends) > 1 else float("nan")
    return {"rate": (len(sends) - 1) / span, "span": span, "duplicates": duplicates,
            "shares": dict(sorted(by_replica.items()))}


def failover(url: str, root: Path) -> dict[str, float]:
    folder = make_folder(root / "data")
    with FakeTelegram() as fake:
        first = start("a", folder, url, fake, root)
        second = None
        try:
            wait_for(lambda: leader_of(url) == "a", timeout=60)
            second = start("b", folder, url, fake, root)
            time.sleep(3)
            first.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            first.wait(10)
            fake.push_message(7, "/help")
            wait_for(lambda: leader_of(url) == "b", timeout=60)
            led = time.monotonic() - killed
            wait_for(lambda: bool(fake.sent(7)), timeout=60)
            answered = time.monotonic() - killed
        finally:
            first.kill()
            if second is not None:
                second.send_signal(signal.SIGTERM)
                second.communicate(timeout=30)
    return {"led": led, "answered": answered}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=2000)
    parser.add_argument("--round-trip", type=float, default=0.1, help="seconds before the fake answers a send")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    with FakeTelegram() as fake:
        round_trip(fake, args.round_trip)
        rates = {client: measure(f"{fake.base_url}{fake.token}/sendMessage", client) for client in CLIENTS}
    print(f"one client, 200 in flight, {args.round_trip * 1000:.0f} ms round trip: the fake server's own ceiling "
          f"(http.client threads) {rates['threads']:.0f} req/s; one httpx pool (PTB's default) "
          f"{rates['one-pool']:.0f} req/s; the bot's spread pools {rates['bot-pools']:.0f} req/s")
    with tempfile.TemporaryDirectory() as scratch:
        base = fan_out(Path(scratch) / "bot.sqlite", 1, args.chats, Path(scratch), args.round_trip)
    print(f"SQLite, one bot: {base['rate']:.0f} msg/s ({args.chats} chats in {base['span']:.2f} s), "
          f"duplicates {base['duplicates']}")
    for replicas in (1, 2):
        with tempfile.TemporaryDirectory() as scratch, scratch_database(args.server) as url:
            result = fan_out(url, replicas, args.chats, Path(scratch), args.round_trip)
        print(f"PostgreSQL, {replicas} replica{'s' if replicas > 1 else ''}: {result['rate']:.0f} msg/s "
              f"({result['rate'] / base['rate']:.2f}x SQLite; {args.chats} chats in {result['span']:.2f} s), "
              f"duplicates {result['duplicates']}, sends by replica {result['shares']}")
    with tempfile.TemporaryDirectory() as scratch, scratch_database(args.server) as url:
        timing = failover(url, Path(scratch))
    print(f"failover: the leader SIGKILLed, the standby led after {timing['led']:.1f} s and answered a command "
          f"after {timing['answered']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
