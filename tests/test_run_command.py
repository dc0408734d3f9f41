"""`rotation-bot run` and `evaluate` as processes: console mode, one instance per database, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


from tests.bot_harness import announce_cut
from tests.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ROTATION_", "ADMIN_"))}
    environment.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "bot.runtime.cli", *args], cwd=kwargs.pop("cwd"), env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_evaluate_twice_alerts_once(folder, tmp_path):
    announce_cut(folder)
    args = ("evaluate", "--data", str(folder), "--db", str(tmp_path / "bot.sqlite"), "--json")
    first = cli(*args, cwd=tmp_path)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert [s["key"] for s in json.loads(out)["new_signals"]] == ["rates:fed_cut"]
    second = cli(*args, cwd=tmp_path)
    out, _ = second.communicate(timeout=60)
    assert json.loads(out)["new_signals"] == []


def test_run_without_token_prints_alerts_and_stops_cleanly(folder, tmp_path):
    announce_cut(folder)
    process = cli("run", "--data", str(folder), "--db", str(tmp_path / "bot.sqlite"), cwd=tmp_path)
    lines: list[str] = []
    try:
        while True:
            line = process.stdout.readline()
            assert line, f"run exited early: {process.stderr.read()}"
            lines.append(line)
            if line.startswith("Next evaluation"):
                break
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    text = "".join(lines) + out
    assert "No TELEGRAM_BOT_TOKEN set" in text
    assert "Fed cut its target by 25 bp" in text
    assert "Stopped." in text and process.returncode == 0


def test_one_instance_per_database_and_sigterm_with_telegram(folder, tmp_path):
    database = tmp_path / "bot.sqlite"
    with FakeTelegram() as fake:
        env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url}
        first = cli("run", "--data", str(folder), "--db", str(database), env=env, cwd=tmp_path)
        try:
            wait_for(lambda: fake.calls_of("getUpdates") or first.poll() is not None)
            assert first.poll() is None, first.stderr.read()
            second = cli("run", "--data", str(folder), "--db", str(database), env=env, cwd=tmp_path)
            _, err = second.communicate(timeout=60)
            assert second.returncode == 1
            assert "already running" in err and "Traceback" not in err
            first.send_signal(signal.SIGTERM)
            out, err = first.communicate(timeout=30)
        finally:
            first.kill()
        assert first.returncode == 0, err
        assert fake.token.split(":")[1] not in out + err


def test_evaluate_with_a_token_delivers_to_subscribers(folder, tmp_path):
    from bot.storage import open_store

    database = tmp_path / "bot.sqlite"
    store = open_store(database)
    store.upsert_chat(77)
    store.subscribe(77, ["rates"])
    store.close()
    announce_cut(folder)
    with FakeTelegram() as fake:
        env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url}
        process = cli("evaluate", "--data", str(folder), "--db", str(database), "--json", env=env, cwd=tmp_path)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert [s["key"] for s in json.loads(out)["new_signals"]] == ["rates:fed_cut"]
        (message,) = fake.sent(77)
        assert "Fed cut its target by 25 bp" in message["text"] and message["parse_mode"] == "HTML"


def test_run_waits_for_telegram_at_start_without_a_traceback(folder, tmp_path):
    with FakeTelegram() as fake:
        fake.fail("getMe", 502, "Bad Gateway", times=2)
        fake.garble("getMe")  # then an answer that is not JSON: retried too
        env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url}
        process = cli("run", "--data", str(folder), "--db", str(tmp_path / "bot.sqlite"), env=env, cwd=tmp_path)
        try:
            wait_for(lambda: fake.calls_of("getUpdates") or process.poll() is not None, timeout=60)
            assert process.poll() is None, process.stderr.read()
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
        finally:
            process.kill()
    attempts = [line for line in err.splitlines() if "Telegram did not answer" in line]
    assert len(attempts) == 3 and "retrying in 1 s" in attempts[0] and "retrying in 4 s" in attempts[2]
    assert "Traceback" not in err and process.returncode == 0
    assert fake.token.split(":")[1] not in out + err


def test_a_rejected_token_is_one_line_and_never_printed(folder, tmp_path):
    secret = "4242:this-secret-must-never-be-printed"
    with FakeTelegram() as fake:  # the fake answers 404 to any other token, as Telegram does
        env = {"TELEGRAM_BOT_TOKEN": secret, "TELEGRAM_API_URL": fake.base_url, "LOG_LEVEL": "DEBUG"}
        for command in ("run", "evaluate"):
            process = cli(command, "--data", str(folder), "--db", str(tmp_path / "bot.sqlite"), env=env,
                          cwd=tmp_path)
            out, err = process.communicate(timeout=60)
            assert process.returncode == 1, (command, err)
            assert "this-secret-must-never-be-printed" not in out + err
            assert "Traceback" not in err
            assert err.strip().splitlines()[-1].startswith("rotation-bot: error: ")


def test_sigterm_while_waiting_for_telegram_stops_cleanly(folder, tmp_path):
    with FakeTelegram() as fake:
        fake.fail("getMe", 502, "Bad Gateway", times=100)
        env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url}
        process = cli("run", "--data", str(folder), "--db", str(tmp_path / "bot.sqlite"), env=env, cwd=tmp_path)
        try:
            wait_for(lambda: len(fake.calls_of("getMe")) >= 2, timeout=30)
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=15)
        finally:
            process.kill()
        assert process.returncode == 0 and "Stopped before Telegram answered" in out
