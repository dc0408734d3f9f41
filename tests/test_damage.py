"""Damage is said: bad files, a failed tick and a damaged database reach the log, /status and admins."""

from __future__ import annotations

import asyncio
import random
import sqlite3

import pytest

from bot.runtime.cli import main
from bot.storage import open_store
from tests.bot_harness import ADMIN_CHAT, make_folder, running_bot, until
from tests.fake_telegram import FakeTelegram

USER = 720


def status_reply(fake, chat_id: int) -> str:
    texts = [m["text"] for m in fake.sent(chat_id) if m["text"].startswith("<b>Status</b>")]
    return texts[-1] if texts else ""


def test_files_damaged_while_running_are_logged_and_named_to_admins(tmp_path, caplog):
    folder = make_folder(tmp_path / "data")
    with FakeTelegram() as fake:
        async def scenario():
            async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
                text = (folder / "prices" / "M2.csv").read_text()
                (folder / "prices" / "M2.csv").write_text(text[: len(text) // 2] + "\n2024-02-0x,garbage,,\n")
                (folder / "prices" / "M3.csv").write_bytes(bytes(random.Random(4).randrange(256) for _ in range(900)))
                with caplog.at_level("WARNING", logger="bot.runtime.tick"):
                    await services.tick("test")
                fake.push_message(ADMIN_CHAT, "/status")
                fake.push_message(USER, "/status")
                await until(lambda: status_reply(fake, ADMIN_CHAT) and status_reply(fake, USER))

        asyncio.run(scenario())
    logged = [r.getMessage() for r in caplog.records if "data warning" in r.getMessage()]
    assert len(logged) == 1 and "M2.csv" in logged[0] and "M3.csv" in logged[0]
    admin = status_reply(fake, ADMIN_CHAT)
    assert "Data warnings" in admin and "M2.csv" in admin and "M3.csv" in admin
    user = status_reply(fake, USER)
    assert "warning" in user and "M2.csv" not in user  # paths only for admins


def test_a_tick_that_failed_is_said_even_when_the_disk_could_not_record_it(tmp_path):
    folder = make_folder(tmp_path / "data")
    with FakeTelegram() as fake:
        async def scenario():
            async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
                def disk_full(trigger):
                    raise sqlite3.OperationalError("database or disk is full")

                services.store.start_run = disk_full
                with pytest.raises(sqlite3.OperationalError):
                    await services.tick("test")
                fake.push_message(ADMIN_CHAT, "/status")
                fake.push_message(USER, "/status")
                await until(lambda: status_reply(fake, ADMIN_CHAT) and status_reply(fake, USER))

        asyncio.run(scenario())
    assert "Last run: failed at" in status_reply(fake, ADMIN_CHAT)
    assert "database or disk is full" in status_reply(fake, ADMIN_CHAT)
    assert "Last run: failed at" in status_reply(fake, USER) and "disk" not in status_reply(fake, USER)
    assert "Last run: ok" not in status_reply(fake, ADMIN_CHAT)


def damaged_database(path) -> None:
    """A real bot database with random bytes written over pages past the first (the header survives)."""
    store = open_store(path)
    for chat in range(1, 3001):
        store.upsert_chat(chat, title=f"chat number {chat}")
        store.subscribe(chat, ["rates", "breadth"])
    store.close()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = connection.execute("PRAGMA page_size").fetchone()[0]
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
    rng = random.Random(11)
    with open(path, "r+b") as file:
        for number in rng.sample(range(2, pages), 6):
            file.seek(number * page + 200)
            file.write(bytes(rng.randrange(256) for _ in range(page // 2)))


def test_a_damaged_database_is_refused_at_start_with_one_line_and_db_check_lists_it(tmp_path, capsys):
    database = tmp_path / "bot.sqlite"
    damaged_database(database)
    folder = make_folder(tmp_path / "data")
    assert main(["evaluate", "--data", str(folder), "--db", str(database)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"rotation-bot: error: the database {database} is damaged")
    assert "restore it from a backup" in err[0] and "rotation-bot db check" in err[0]
    assert main(["db", "check", "--db", str(database)]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) >= 2 and "is damaged" in captured.err


def test_db_check_passes_a_sound_database(tmp_path, capsys):
    database = tmp_path / "bot.sqlite"
    open_store(database).close()
    assert main(["db", "check", "--db", str(database)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_damage_found_while_running_tells_admins_and_status(tmp_path):
    from bot.telegram.application import integrity_job

    folder = make_folder(tmp_path / "data")
    with FakeTelegram() as fake:
        async def scenario():
            async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
                services.store.integrity = lambda: ["*** in database main ***", "Page 7: btreeInitPage() returns 11"]

                running = services

                class Context:  # what a job's context offers integrity_job
                    bot = running.application.bot
                    application = running.application
                    bot_data = running.application.bot_data
                    services = running

                await integrity_job(Context())
                fake.push_message(ADMIN_CHAT, "/status")
                await until(lambda: status_reply(fake, ADMIN_CHAT))

        asyncio.run(scenario())
    told = [m["text"] for m in fake.sent(ADMIN_CHAT) if "is damaged" in m["text"]]
    assert len(told) == 1 and "restore it from a backup" in told[0]
    assert "fails its integrity check" in status_reply(fake, ADMIN_CHAT)


def engine_corruption_error(tmp_path) -> sqlite3.DatabaseError:
    """The error SQLite itself raises on a query that reads damaged pages (not one built by hand)."""
    path = tmp_path / "damaged.sqlite"
    store = open_store(path)
    for chat in range(1000, 4000):
        store.upsert_chat(chat)
        store.subscribe(chat, ["rotation"])
    store.close()
    data = bytearray(path.read_bytes())
    pages = len(data) // 4096
    for page in range(pages // 2, pages // 2 + 3):
        data[page * 4096 + 100: page * 4096 + 400] = random.Random(page).randbytes(300)
    path.write_bytes(bytes(data))
    damaged = open_store(path)
    try:
        damaged.stats()
    except sqlite3.DatabaseError as exc:
        return exc
    finally:
        damaged.close()
    raise AssertionError("the damaged pages were not read")


def test_a_store_error_that_names_corruption_is_said_at_once(tmp_path, caplog):
    """A command that reads damaged pages: the log, the admins (once) and /status say it now, not at the
    next daily check, and the user is told what happened (old main: "something went wrong", 0 lines)."""
    corrupt = engine_corruption_error(tmp_path)
    assert corrupt.sqlite_errorname == "SQLITE_CORRUPT"
    folder = make_folder(tmp_path / "data")
    with FakeTelegram() as fake, caplog.at_level("ERROR", logger="bot.telegram"):
        async def scenario():
            async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
                def damaged_stats():
                    raise corrupt

                services.store.stats = damaged_stats
                for _ in range(2):
                    fake.push_message(ADMIN_CHAT, "/stats")
                await until(lambda: len([m for m in fake.sent() if "database is damaged" in m["text"]]) >= 2)
                fake.push_message(ADMIN_CHAT, "/status")
                fake.push_message(USER, "/status")
                await until(lambda: status_reply(fake, ADMIN_CHAT) and status_reply(fake, USER))

        asyncio.run(scenario())
    told = [m["text"] for m in fake.sent(ADMIN_CHAT) if "is damaged:" in m["text"]]
    assert len(told) == 1 and "malformed" in told[0] and "restore it from a backup" in told[0]
    logged = [r for r in caplog.records if "is damaged" in r.getMessage()]
    assert len(logged) == 1
    admin_status = status_reply(fake, ADMIN_CHAT)
    assert "fails its integrity check: DatabaseError: database disk image is malformed" in admin_status
    assert "Could not read the deliveries: DatabaseError" in admin_status  # and the rest still answers
    assert "fails its integrity check; the administrators know" in status_reply(fake, USER)


def test_a_repeating_job_that_keeps_failing_logs_one_traceback_then_a_line_a_minute(tmp_path, monkeypatch, caplog):
    """The disk full under the 5-second beats: one traceback, then quiet within the minute, and a
    recovery ends the streak (old main: a traceback every turn)."""
    from bot.telegram import application as app_module


    monkeypatch.setattr(app_module, "WATCH_EVERY_SECONDS", 0.05)
    folder = make_folder(tmp_path / "data")
    calls = {"n": 0}
    with FakeTelegram() as fake, caplog.at_level("WARNING", logger="bot.telegram.application"):
        async def scenario():
            async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
                beat = services.store.beat

                def full_disk(name, at=None):
                    calls["n"] += 1
                    raise sqlite3.OperationalError("database or disk is full")

                services.store.beat = full_disk
                await until(lambda: calls["n"] >= 20)
                services.store.beat = beat
                await asyncio.sleep(0.3)

        asyncio.run(scenario())
    about_watch = [r for r in caplog.records if "the watch job" in r.getMessage()]
    assert len(about_watch) == 1 and about_watch[0].exc_info is not None
    assert "disk is full" in str(about_watch[0].exc_info[1])


def test_a_write_lock_held_by_another_process_longer_than_the_wait_loses_no_subscribe(tmp_path, monkeypatch):
    """Another process holds the file's write lock for 1.5 times the engine's wait (45 s of 30 in
    production): /subscribe is tried once more and goes through (old main: "something went wrong")."""
    import subprocess
    import sys

    from signals import database

    monkeypatch.setattr(database, "BUSY_WAIT_SECONDS", 1.0)
    folder = make_folder(tmp_path / "data")
    path = tmp_path / "bot.sqlite"
    holder = ("import sqlite3, sys, time\n"
              "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
              "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); time.sleep(1.5); c.execute('COMMIT')\n")
    with FakeTelegram() as fake:
        async def scenario():
            async with running_bot(fake, folder, path) as services:
                process = subprocess.Popen([sys.executable, "-c", holder, str(path)], stdout=subprocess.PIPE, text=True)
                assert process.stdout.readline().strip() == "held"
                fake.push_message(USER, "/subscribe rates")
                await until(lambda: any("rates" in m["text"] for m in fake.sent(USER)), timeout=20)
                process.wait(10)
                return services.store.subscriptions(USER)

        topics = asyncio.run(scenario())
    assert "rates" in topics
    assert not any("went wrong" in m["text"] for m in fake.sent(USER))
