"""`rotation-bot demo`: the bot's own loop over the packaged sample, one session at a time.

Nothing here decides anything: each session is a scheduled tick (`Services.tick`, as `run` does
it) on a feed whose "now" moves through the sample (`ReplayFeed`); signals land in a temporary
database's outbox for one subscriber to every topic, and the real `Deliverer` drains it through a
sender that prints (and, with `--telegram`, also sends to a chat). So what scrolls by is exactly
what a subscriber would have received, in order and dated.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bot.runtime.config import AppConfig
from bot.delivery.drain import Sender
from bot.runtime.feeds import ReplayFeed
from bot.presentation.messages import plain, plural
from bot.delivery.outgoing import Part
from bot.presentation.render import warning_lines
from bot.runtime.assembly import build_services
from bot.runtime.services import Services
from signals.errors import RotationError
from signals.market_data import MarketData
from signals.topics import TOPIC_NAMES

DEMO_CHAT = 1  # the demo's one subscriber (a private chat id nobody else has in a fresh database)
WARM_UP_SESSIONS = 252  # the slowest metric (a 52-week high) needs a year before it can say anything
Print = Callable[[str], None]


FOOTER = re.compile(r"^(\d{4}-\d{2}-\d{2}) close \u00b7 (\S+)$")


def one_line(text: str) -> str:
    """A message as one line: the session, its heading and first sentence, and its key in brackets, so
    a year of alerts reads as a list; `--full` prints each as the subscriber sees it."""
    lines = [line.strip() for line in plain(text).splitlines() if line.strip()]
    if not lines:
        return ""
    footer = FOOTER.match(lines[-1]) if len(lines) > 1 else None
    body = [line for line in lines[1:-1 if footer else None] if not line.startswith("\U0001F4CA")]
    sentence = body[0].split(". ")[0].rstrip(".") if body else ""
    line = lines[0].replace(" \u00b7 ", " ") + (f": {sentence}" if sentence else "")
    return f"{footer.group(1)} {line} [{footer.group(2)}]" if footer else line


class ConsoleSender:
    """The demo's end of the delivery seam: each part a subscriber would get, printed under its date
    (whole with `full`, else one line each)."""

    def __init__(self, out: Print, then: Sender | None = None, full: bool = False) -> None:
        self.out = out
        self.then = then  # the Telegram sender too, with --telegram
        self.full = full
        self.parts = 0
        self.session = ""  # the session being ticked: its date heads what it sends
        self._headed = ""

    async def send(self, chat_id: int, part: Part) -> None:
        if self.then is not None:
            await self.then.send(chat_id, part)
        self.parts += 1
        if not self.full:
            self.out(f"  {one_line(part.text)}")
            return
        if self._headed != self.session:
            self._headed = self.session
            self.out(f"\n\u2500\u2500 after the {self.session} close \u2500\u2500")
        else:
            self.out("")
        for line in plain(part.text).splitlines():
            self.out(f"  {line}")


@dataclass(frozen=True)
class DemoReport:
    sessions: int
    first: str
    last: str
    messages: int
    found_in_history: int
    seconds: float
    charts: list[Path]


def replay_span(data: MarketData, start: str | None) -> tuple[int, int]:
    """(first, last) positions of the sessions to tick: from `start`, or once a year of history exists."""
    sessions = data.sessions
    if start is None:
        first = min(WARM_UP_SESSIONS, len(sessions) - 1)
    else:
        try:
            first = int(sessions.searchsorted(pd.Timestamp(start)))
        except (ValueError, TypeError) as exc:
            raise RotationError(f"not a date: {start!r} (use YYYY-MM-DD)") from exc
        if first >= len(sessions):
            raise RotationError(f"no session on or after {start} in the data (it ends {sessions[-1]:%Y-%m-%d})")
    return first, len(sessions) - 1


async def run_demo(config: AppConfig, data: MarketData, out: Print, charts_dir: Path, start: str | None = None,
                   pace: float = 0.0, telegram_chat: int | None = None, full: bool = False,
                   packaged: bool = False) -> DemoReport:
    """`packaged`: the data is the packaged sample, whose data notes are known (one line, not seven)."""
    began = time.perf_counter()
    first, last = replay_span(data, start)
    sessions = data.sessions
    feed = ReplayFeed(data, sessions[first])
    telegram = None
    if telegram_chat is not None:
        from bot.telegram.application import build_telegram

        telegram = build_telegram(config)  # the console's sender sends through its TelegramSender too
    console = ConsoleSender(out, telegram.sender if telegram is not None else None, full)
    # charts on alerts only where they are seen: drawing one a session would slow the console's replay
    services = build_services(config, feed, telegram, sender=console, charts_on_alerts=telegram is not None)
    application = telegram.application if telegram is not None else None
    try:
        chat = telegram_chat if telegram_chat is not None else DEMO_CHAT
        services.store.upsert_chat(chat, "private", "demo subscriber")
        services.store.subscribe(chat, TOPIC_NAMES)
        if application is not None:
            await application.initialize()
        notes = warning_lines(data.issues)
        if packaged and notes:
            out(f"The sample's data has {plural(len(notes), 'note')} from the checks the bot runs on every feed "
                f"(bad prints removed, Close-only ETFs, constituents without prices): expected, see "
                f"signals/sample/README.md; `rotation-bot metrics --json` lists each.")
        else:
            for line in notes:
                out(f"warning: {line}")
        tick_log = logging.getLogger("bot.runtime.tick")
        tick_log.setLevel(logging.ERROR)  # the data warnings above, once, not once per session
        found = 0
        out(f"Ticking {sessions[first]:%Y-%m-%d} .. {sessions[last]:%Y-%m-%d} ({plural(last - first + 1, 'session')}) "
            f"as a subscriber to every topic receives it:")
        for position in range(first, last + 1):
            feed.now = sessions[position]
            console.session = f"{feed.now:%Y-%m-%d}"
            shown = console.parts
            result = await services.tick("demo")
            if result is None:
                raise RotationError("a tick was already running")  # cannot happen: the demo ticks one at a time
            if result.found_in_history:
                found += result.found_in_history
                out(f"{result.as_of}: the bot's first start: {plural(result.found_in_history, 'earlier signal')} "
                    f"found in the history before it (recorded for /history, not sent)")
            if pace > 0:
                if console.parts == shown:
                    out(f"{result.as_of}: nothing new")
                await asyncio.sleep(pace)
        drawn = await _charts(services, charts_dir)
        snapshot = services.store.latest_snapshot()
        if snapshot is not None:
            from bot.presentation.topics import VIEWS

            out("")
            out(f"Breadth on {snapshot['as_of']}, as /breadth answers it:")
            for line in plain(VIEWS["breadth"].answer(snapshot, services.settings, None)).splitlines():
                out(f"  {line}")
        if config.webapp_port is not None:
            await serve_dashboard(services, out, chat)
        return DemoReport(last - first + 1, f"{sessions[first]:%Y-%m-%d}", f"{sessions[last]:%Y-%m-%d}",
                          console.parts, found, time.perf_counter() - began, drawn)
    finally:
        if application is not None:
            await application.shutdown()
        services.close()


async def serve_dashboard(services: Services, out: Print, chat: int) -> None:
    """The dashboard over what the demo stored, on WEBAPP_PORT, until Ctrl-C: the link printed is signed
    with the bot's token when one is set, else with a key made for this run (no Telegram involved)."""
    import secrets
    import signal

    from bot.webapp.links import dashboard_link
    from bot.webapp.server import Dashboard

    config = services.config
    assert config.webapp_port is not None
    key = (config.telegram_bot_token.get_secret_value() if config.telegram_bot_token
           else f"0:demo-{secrets.token_urlsafe(24)}")

    async def own_chat_only(chat_id: int, user_id: int) -> bool:  # the demo knows no group administrators
        return chat_id == user_id

    dashboard = Dashboard(services, key, own_chat_only, max_age_seconds=config.webapp_auth_max_age_seconds)
    port = await dashboard.start(config.webapp_host, config.webapp_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        out("")
        out("Dashboard of the demo's subscriber (valid 60 minutes; Ctrl-C stops):")
        out(f"  {dashboard_link(f'http://{config.webapp_host}:{port}/', key, chat, 'demo subscriber', minutes=60)}")
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await dashboard.stop()


async def _charts(services: Services, folder: Path) -> list[Path]:
    """Every chart of the last session, as the bot sends them, written to `folder`."""
    from bot.presentation.chart_keys import CHART_NAMES

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in CHART_NAMES:
        drawn = await services.chart(name)
        if drawn is None:
            continue
        path = folder / f"{name}.png"
        path.write_bytes(drawn[1])
        written.append(path)
    return written


def demo_config(config: AppConfig, database: Path) -> AppConfig:
    """The user's settings for Telegram (with --telegram) and detectors, in a database of the demo's own."""
    return config.model_copy(update={"database_path": database, "rotation_data": None})


def default_charts_dir() -> Path:
    return Path(tempfile.gettempdir()) / "rotation-bot-demo"
