"""Alive and listening: a bot whose polling died must say so, heal when it can, and exit when it cannot.

Real processes (`rotation-bot run`) against the fake Bot API: getUpdates answers 401 for a while
(a token rejected for a moment, then accepted again), or for good.
"""

from __future__ import annotations

import signal
import time

import pytest

from bot.runtime.cli import main
from bot.telegram.listening import ListeningWatch
from bot.delivery.request import TelegramRequest
from tests.bot_harness import make_folder
from tests.fake_telegram import FakeTelegram
from tests.test_run_command import cli, wait_for

USER = 610


def answered(fake, chat_id: int, word: str) -> bool:
    return any(word in m["text"] for m in fake.sent(chat_id))


def health(database, token: str | None, capsys, max_age: float = 15) -> tuple[int, str]:
    import os

    previous = os.environ.get("TELEGRAM_BOT_TOKEN")
    if token:
        os.environ["TELEGRAM_BOT_TOKEN"] = token
    try:
        code = main(["health", "--db", str(database), "--max-age", str(max_age)])
    finally:
        if previous is None:
            os.environ.pop("TELEGRAM_BOT_TOKEN", None)
        else:
            os.environ["TELEGRAM_BOT_TOKEN"] = previous
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.slow
def test_a_401_blip_while_polling_heals_and_health_tells_deaf_from_listening(tmp_path, capsys):
    folder = make_folder(tmp_path / "data")
    database = tmp_path / "bot.sqlite"
    with FakeTelegram() as fake:
        env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url}
        process = cli("run", "--data", str(folder), "--db", str(database), env=env, cwd=tmp_path)
        try:
            fake.push_message(USER, "/status")
            wait_for(lambda: answered(fake, USER, "Status") or process.poll() is not None, timeout=60)
            wait_for(lambda: health(database, fake.token, capsys)[0] == 0, timeout=20)
            fake.fail_for("getUpdates", 401, "Unauthorized", seconds=5)
            time.sleep(5)
            fake.push_message(USER, "/help")  # asked once the token is good again
            began = time.monotonic()
            wait_for(lambda: answered(fake, USER, "/breadth") or process.poll() is not None, timeout=60)
            healed = time.monotonic() - began
            assert process.poll() is None
            code, said = health(database, fake.token, capsys)
            assert code == 0, said
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=15)
        finally:
            process.kill()
    print(f"answered again {healed:.1f} s after the 401s ended")
    assert process.returncode == 0, err
    assert "Traceback" not in err and fake.token not in err
    assert healed < 30


@pytest.mark.slow
def test_a_token_refused_for_good_exits_non_zero_with_one_line(tmp_path, capsys):
    folder = make_folder(tmp_path / "data")
    database = tmp_path / "bot.sqlite"
    with FakeTelegram() as fake:
        env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url, "POLLING_GIVE_UP_SECONDS": "20"}
        process = cli("run", "--data", str(folder), "--db", str(database), env=env, cwd=tmp_path)
        try:
            fake.push_message(USER, "/status")
            wait_for(lambda: answered(fake, USER, "Status") or process.poll() is not None, timeout=60)
            wait_for(lambda: health(database, fake.token, capsys, 8)[0] == 0, timeout=20)
            fake.fail_for("getUpdates", 401, "Unauthorized", seconds=600)
            # alive (the loop turns) but deaf: health says so once its 8 s without an answer have passed
            wait_for(lambda: health(database, fake.token, capsys, 8)[0] == 1 or process.poll() is not None,
                     timeout=60)
            code, said = health(database, fake.token, capsys, 8)
            assert process.poll() is None and code == 1 and "not listening" in said, said
            _, err = process.communicate(timeout=60)
        finally:
            process.kill()
    assert process.returncode == 1
    assert "Traceback" not in err and fake.token not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("rotation-bot: error: Telegram refused polling for 20 s (401 Unauthorized"), err


class _Request(TelegramRequest):
    def __init__(self) -> None:  # no HTTP client: the watch only reads the fields
        self.last_ok = self.last_ok_wall = self.last_refusal = self.refusals_since = self.last_started = None
        self.in_flight = 0


def test_the_watch_gives_up_on_refusals_that_last_and_on_a_dead_loop():
    now = [1000.0]
    request = _Request()
    watch = ListeningWatch(request, give_up_seconds=180, stall_seconds=90, clock=lambda: now[0])
    request.last_started, request.in_flight = 1000.0, 1
    assert watch.give_up_reason() is None  # a long poll under way
    request.in_flight = 0
    request.last_refusal, request.refusals_since = (1000.5, 401), 1000.5
    now[0] = 1060.0
    assert watch.give_up_reason() is None  # refused for a minute: PTB's loop keeps trying
    now[0] = 1000.5 + 180
    assert "refused polling for 180 s (401 Unauthorized" in watch.give_up_reason()
    request.refusals_since = None  # a good answer came
    request.last_started = now[0] - 30
    assert watch.give_up_reason() is None
    now[0] += 61
    assert watch.give_up_reason().startswith("polling stopped")
