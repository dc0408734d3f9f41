"""A long Telegram outage in real time: every send answered 5xx for an hour, then Telegram is back.

    python -m benchmarks.bench_outage [--minutes 60] [--chats 500] [--status 502]

One real `rotation-bot run` process on a SQLite file and the fake Bot API (30 sends a second, as
Telegram's free limit): the start-up tick queues one alert (a Fed cut) for every chat while every
sendMessage/sendPhoto is answered `--status`; when the outage ends, the run waits until every chat
has the alert. Reported: chats reached, copies, refused tries, how long after the outage the last
chat got it, the busiest second, and how many log lines (tracebacks) the hour cost.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot.storage import open_store
from tests.bot_harness import announce_cut, make_folder
from tests.fake_telegram import FakeTelegram


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--chats", type=int, default=500)
    parser.add_argument("--status", type=int, default=502)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch, FakeTelegram(rate_limit_per_second=30) as fake:
        root = Path(scratch)
        folder = make_folder(root / "data")
        database = root / "bot.sqlite"
        store = open_store(database)
        for chat in range(1, args.chats + 1):
            store.upsert_chat(chat)
            store.subscribe(chat, ["rates"])
        store.close()
        announce_cut(folder)
        seconds = args.minutes * 60
        fake.fail_for("send", args.status, "Bad Gateway", seconds=seconds)
        outage_ends = time.monotonic() + seconds
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ROTATION_", "ADMIN_"))}
        env.update({"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url})
        log = (root / "run.log").open("w")
        process = subprocess.Popen([sys.executable, "-m", "bot.runtime.cli", "run", "--data", str(folder),
                                    "--db", str(database)], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while time.monotonic() < outage_ends + 3600 and process.poll() is None:
                if len(_copies(fake)) == args.chats and time.monotonic() > outage_ends:
                    break
                time.sleep(1.0)
            last_delivery = max((c.at for c in fake.calls_of("send") if c.status == 200), default=None)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
            log.close()
        copies = _copies(fake)
        refused = sum(1 for c in fake.calls_of("send") if c.status == args.status)
        lines = (root / "run.log").read_text().splitlines()
        after = f"{last_delivery - outage_ends:.0f}" if last_delivery else "-"
        print(f"{args.minutes:g} minutes of {args.status} to every send, {args.chats} chats: "
              f"{len(copies)}/{args.chats} chats got the alert, {sum(copies.values()) - len(copies)} duplicates, "
              f"{refused} refused tries, last chat reached {after} s after the outage ended, "
              f"busiest second {_busiest_second(fake)} sends; the log: {len(lines)} lines, "
              f"{sum('Traceback' in line for line in lines)} tracebacks; exit {process.returncode}")
        return 0 if len(copies) == args.chats else 1


def _copies(fake: FakeTelegram) -> Counter[int]:
    return Counter(int(m["chat_id"]) for m in fake.sent() if "Fed cut" in m["text"])


def _busiest_second(fake: FakeTelegram) -> int:
    accepted = sorted(c.at for c in fake.calls_of("send") if c.status == 200)
    return max((sum(1 for t in accepted if start <= t < start + 1.0) for start in accepted), default=0)


if __name__ == "__main__":
    sys.exit(main())
