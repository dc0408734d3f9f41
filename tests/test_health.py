"""`rotation-bot health`: what a container's healthcheck runs."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from bot.runtime.cli import main
from bot.storage import open_store
from tests.bot_harness import make_folder, running_bot, until
from tests.fake_telegram import FakeTelegram


def test_health_follows_the_running_bots_heartbeat(tmp_path, capsys):
    database = tmp_path / "bot.sqlite"
    assert main(["health", "--db", str(database)]) == 1
    assert "the bot has not started" in capsys.readouterr().err

    with FakeTelegram() as fake:
        async def scenario():
            async with running_bot(fake, make_folder(tmp_path / "data"), database) as services:
                await until(lambda: services.store.heartbeats().get("loop"))

        asyncio.run(scenario())
    assert main(["health", "--db", str(database)]) == 0
    assert "healthy" in capsys.readouterr().out

    store = open_store(database)
    store.beat("loop", datetime(2020, 1, 1, tzinfo=timezone.utc))  # the bot stopped long ago
    store.close()
    assert main(["health", "--db", str(database), "--max-age", "120"]) == 1
    assert "the bot is stuck or stopped" in capsys.readouterr().err


def test_health_refuses_a_damaged_database(tmp_path, capsys):
    database = tmp_path / "bot.sqlite"
    database.write_bytes(b"not a database at all" * 100)
    assert main(["health", "--db", str(database)]) == 1
    assert "rotation-bot: error:" in capsys.readouterr().err


def test_sent_rows_past_the_retention_window_are_pruned(tmp_path):
    from signals.signal import Signal

    store = open_store(tmp_path / "bot.sqlite")
    store.upsert_chat(1)
    store.subscribe(1, ["rates"])
    store.record_signals([Signal("rates", "rates:fed_cut", "2024-01-05", "start", "t", {}),
                          Signal("rates", "rates:fed_cut", "2024-02-05", "start", "t", {})])
    first, second = store.due_deliveries()
    store.mark_sent(first.id)
    store.mark_sent(second.id)
    assert store.prune_sent(30, now=datetime.now(timezone.utc) + timedelta(days=31)) == 2
    assert store.stats()["deliveries"] == {}
    store.close()


def test_health_of_a_standby_replica_needs_only_its_loop(postgres_url, capsys, monkeypatch):
    """A standby does not poll (the leader does): a fresh heartbeat makes it healthy; a stale one does not."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "4242:fake-token-of-the-test-server")
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.setenv("REPLICA_NAME", "b")
    store = open_store(postgres_url, replica="b")
    store.announce_replica("standby", "host-b", 42)
    store.beat("started")
    store.beat("loop")
    store.close()
    assert main(["health"]) == 0
    assert capsys.readouterr().out.startswith("healthy standby")
    store = open_store(postgres_url, replica="b")
    store.beat("started", datetime(2020, 1, 1, tzinfo=timezone.utc))
    store.beat("loop", datetime(2020, 1, 1, tzinfo=timezone.utc))
    store.close()
    assert main(["health"]) == 1
    assert "stuck or stopped" in capsys.readouterr().err


def test_a_fresh_start_is_starting_until_its_first_evaluation_then_the_usual_rules(tmp_path, capsys, monkeypatch):
    """Waiting for Telegram or running a long first fetch is healthy 'starting', for a bounded time only."""
    from datetime import datetime, timedelta, timezone

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "4242:fake-token-of-the-test-server")
    database = tmp_path / "bot.sqlite"
    store = open_store(database)
    now = datetime.now(timezone.utc)
    store.beat("started", now - timedelta(seconds=200))
    store.close()
    assert main(["health", "--db", str(database)]) == 0  # no loop, no poll yet: starting
    assert capsys.readouterr().out.startswith("starting: up 200 s")
    assert main(["health", "--db", str(database), "--start-grace", "100"]) == 1  # past the bound
    assert "no heartbeat yet" in capsys.readouterr().err
    store = open_store(database)
    store.beat("loop")
    store.beat("ticked")  # the first evaluation finished: polls must be answered now
    store.close()
    assert main(["health", "--db", str(database)]) == 1
    assert "not listening" in capsys.readouterr().err
    store = open_store(database)
    store.beat("poll")
    store.close()
    assert main(["health", "--db", str(database)]) == 0
    assert capsys.readouterr().out.startswith("healthy")
