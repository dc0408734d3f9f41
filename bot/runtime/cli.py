"""The `rotation-bot` command line. Each command is thin: parse, call one function, format.

Expected failures (bad data, bad settings, a date outside the data) end as one line on stderr
and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

from bot.runtime.logs import setup_logging
from signals.errors import RotationError
from bot.presentation.chart_keys import CHART_NAMES

if TYPE_CHECKING:
    from bot.runtime.config import AppConfig
    from bot.runtime.feeds import DataFeed
    from bot.storage import Store
    from signals.engine import MetricsEngine
    from signals.market_data import MarketData
    from signals.settings import DetectorSettings

# Commands import what they use when they run: `rotation-bot --help` must not wait for pandas.

EXIT_ERROR = 1

# A command's cyclic garbage collector runs after this many new objects, not the interpreter's 700: the
# imports (pandas, pydantic) and a load create hundreds of thousands that live to the end, which the
# default made it walk 250 times (0.1 s of a first `metrics`). mypy's main does the same. `run`, which
# lives for months, goes back to the interpreter's own.
ONE_COMMAND_GC = (200_000, 30, 30)
INTERPRETER_GC = gc.get_threshold()


def _load_inputs(config: AppConfig) -> tuple[MarketData, DetectorSettings, MetricsEngine, DataFeed]:
    """The data (offline folder, or what the live cache holds: no download, `fetch` and ticks do that),
    the settings, an engine that reuses what an earlier command on the same folder computed, and the
    feed (open: `_remember` saves the engine's work beside what it loaded)."""
    from contextlib import ExitStack

    from bot.runtime.feeds import FolderFeed, data_feed
    from bot.presentation.render import warning_lines
    from signals.engine import MetricsEngine
    from signals.settings import load_detector_settings

    settings = load_detector_settings(config.rotation_config)
    feed = data_feed(config)
    with ExitStack() as closing_on_error:
        closing_on_error.callback(feed.close)
        data = feed.load()
        engine = feed.engine(settings) if isinstance(feed, FolderFeed) else MetricsEngine(settings)
        closing_on_error.pop_all()
    for line in warning_lines(data.issues):
        print(f"warning: {line}", file=sys.stderr)
    return data, settings, engine, feed


def _remember(feed: DataFeed, engine: MetricsEngine) -> None:
    """Keep the engine's work for the next command on the same folder, then let the feed go."""
    from bot.runtime.feeds import FolderFeed

    try:
        if isinstance(feed, FolderFeed):
            feed.remember(engine)
    finally:
        feed.close()


def cmd_metrics(args: argparse.Namespace, config: AppConfig) -> int:
    from bot.presentation.render import metrics_text
    from signals.evaluate import evaluate

    data, settings, engine, feed = _load_inputs(config)
    try:
        result = evaluate(data, settings, as_of=data.session_with_data(args.as_of), engine=engine)
    finally:
        _remember(feed, engine)
    for note in result.notes:
        print(f"warning: {note}", file=sys.stderr)
    if args.json:
        payload = dict(result.snapshot)
        payload["warnings"] = [str(i) for i in data.issues] + list(result.notes)
        payload["data"] = {"source": data.source, **data.as_of(result.as_of).coverage()}
        _print_json(payload)
    else:
        print(metrics_text(result.snapshot, constituents=len(data.constituents)))
    return 0


def cmd_replay(args: argparse.Namespace, config: AppConfig) -> int:
    from bot.presentation.render import replay_text
    from signals.replay import replay

    data, settings, engine, feed = _load_inputs(config)
    try:
        result = replay(data, start=args.start, end=args.end, settings=settings, engine=engine)
    finally:
        _remember(feed, engine)
    if args.json:
        _print_json(result.to_dict())
    else:
        print(replay_text(result))
    return 0


def _cancel_on_signals(cancel: Callable[[], None]) -> Callable[[], None]:
    """Ctrl-C and SIGTERM ask the work to stop at its next batch; a second Ctrl-C interrupts at once.
    Returns what puts the previous handlers back."""
    import signal

    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}

    def asked(signum: int, frame: object) -> None:
        cancel()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    for signum in previous:
        signal.signal(signum, asked)
    return restore


def cmd_run(args: argparse.Namespace, config: AppConfig) -> int:
    from bot.runtime.runner import run_bot

    gc.set_threshold(*INTERPRETER_GC)

    setup_logging(config.log_level, config.telegram_bot_token.get_secret_value()
                  if config.telegram_bot_token else None)
    return run_bot(config)


def cmd_evaluate(args: argparse.Namespace, config: AppConfig) -> int:
    from bot.runtime.runner import tick_by_hand, print_tick

    setup_logging("WARNING" if args.json else config.log_level,
                  config.telegram_bot_token.get_secret_value() if config.telegram_bot_token else None)
    if config.rotation_data is None:  # minutes on a first start or a slow network: said, not silent
        print("Refreshing live data (Yahoo Finance, FRED, the index lists); Ctrl-C stops it.", file=sys.stderr,
              flush=True)
    result = tick_by_hand(config, args.as_of)
    if args.json:
        _print_json({"as_of": result.as_of, "run_id": result.run_id,
                     "new_signals": [s.to_dict() for s in result.new_signals]})
    else:
        print_tick(result)
        if config.telegram_bot_token is None:
            print("No TELEGRAM_BOT_TOKEN: deliveries stay queued for the bot.")
    return 0


def cmd_fetch(args: argparse.Namespace, config: AppConfig) -> int:
    if config.rotation_data is not None:
        raise RotationError("fetch fills the live cache; unset ROTATION_DATA / drop --data to use it")
    from bot.runtime.feeds import LiveFeed
    from bot.runtime.progress import ProgressLine

    setup_logging("WARNING", None)
    feed = LiveFeed.at(config.database)
    progress = ProgressLine(sys.stderr)
    restore = _cancel_on_signals(feed.cancel)
    try:
        update = feed.source.refresh(progress=progress, start=args.start)
    finally:
        restore()
        progress.finish()
        feed.close()
    print(f"fetch {update.outcome}: {update.rows} rows in {update.requests} requests; "
          f"data to {update.last_session or 'none'}")
    for note in update.notes:
        print(f"warning: {note}", file=sys.stderr)
    for ticker, reason in sorted(update.failed.items()):
        print(f"warning: {ticker}: {reason}", file=sys.stderr)
    if update.partial:
        print("rotation-bot: error: the fetch could not finish (see warnings); run it again to resume",
              file=sys.stderr)
        return EXIT_ERROR
    return 0


CHART_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}  # by --out's suffix


def cmd_chart(args: argparse.Namespace, config: AppConfig) -> int:
    from bot.presentation.charts import render_chart

    image_format = CHART_FORMATS.get(args.out.suffix.lower())
    if image_format is None:  # said before any data loads: x.jpg once got PNG bytes under its name
        raise RotationError(f"--out {args.out}: the chart is written as .png or .jpg (got "
                            f"{args.out.suffix or 'no suffix'})")
    data, settings, engine, feed = _load_inputs(config)
    try:
        metrics = engine.compute(data.as_of(data.session_with_data(args.as_of)))
    finally:
        _remember(feed, engine)
    image = render_chart(args.name, metrics, settings)
    if image_format == "JPEG":  # Pillow comes with matplotlib
        import io

        from PIL import Image

        converted = io.BytesIO()
        Image.open(io.BytesIO(image)).convert("RGB").save(converted, "JPEG", quality=90)
        image = converted.getvalue()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(image)
    print(f"{args.name} chart as of {metrics.sessions[-1]:%Y-%m-%d} written to {args.out} ({len(image):,} bytes)")
    return 0


def cmd_health(args: argparse.Namespace, config: AppConfig) -> int:
    """For a container's healthcheck: alive *and* listening.

    The scheduler's loop must have turned within the bound and, when the bot runs with a token,
    Telegram must have answered a poll within it too: a process whose polling died is not healthy.
    """
    from datetime import datetime, timezone

    store = _open_existing_store(config)
    try:
        if store.integrity():
            raise RotationError(f"the database {config.database_name} fails its integrity check")
        beats = store.heartbeats()
        me = next((r for r in store.replicas() if r.name == store.replica), None) if config.replicated else None
    finally:
        store.close()
    now = datetime.now(timezone.utc)

    def age(name: str) -> float | None:
        return (now - datetime.fromisoformat(beats[name])).total_seconds() if name in beats else None

    loop, poll, started, ticked = age("loop"), age("poll"), age("started"), age("ticked")
    # a fresh start is healthy while its first evaluation runs (a live first fetch takes minutes), up to a bound
    starting = started is not None and started <= args.start_grace and (ticked is None or ticked > started)
    if me is not None and me.role == "standby" and loop is not None and loop <= args.max_age:
        print(f"healthy standby: last heartbeat {loop:.0f} s ago (replica {me.name}; another replica leads)")
        return 0  # ready to lead; the leader polls and evaluates
    if starting and (loop is None or (config.telegram_bot_token is not None and poll is None)):
        print(f"starting: up {started:.0f} s, first evaluation not finished yet (healthy for up to "
              f"{args.start_grace:g} s)")
        return 0
    if loop is None:
        raise RotationError("no heartbeat yet: the bot has not started its loop")
    if loop > args.max_age:
        raise RotationError(f"last heartbeat {loop:.0f} s ago (bound {args.max_age:g} s): the bot is stuck or stopped")
    if config.telegram_bot_token is not None and not config.telegram_webhook_url:
        if poll is None:
            raise RotationError("not listening: Telegram has not answered a poll since the bot started")
        if poll > args.max_age:
            raise RotationError(f"not listening: Telegram last answered a poll {poll:.0f} s ago "
                                f"(bound {args.max_age:g} s)")
        print(f"healthy: last heartbeat {loop:.0f} s ago, last poll answered {poll:.0f} s ago")
        return 0
    print(f"healthy: last heartbeat {loop:.0f} s ago")
    return 0


def cmd_db(args: argparse.Namespace, config: AppConfig) -> int:
    """`db check`: the database's full check, every problem on its own line."""
    if config.replicated:
        store = _open_existing_store(config)
        try:
            found = store.integrity()
            version = store.schema_version
        finally:
            store.close()
        if found:
            raise RotationError(f"{config.database_name}: {found[0]}")
        print(f"ok: {config.database_name} answers, schema version {version} (the server checks its own files: "
              f"pg_amcheck)")
        return 0
    from bot.storage.sqlite import full_check

    path = config.database_path
    if not path.exists():
        raise RotationError(f"no database at {path}")
    found = full_check(path)
    if found == ["ok"]:
        print(f"ok: {path} passes SQLite's integrity check")
        return 0
    for line in found:
        print(line)
    raise RotationError(f"{path} is damaged ({len(found)} problems above): stop the bot and restore it from a "
                        f"backup, or recover it as README's 'A damaged database' says")


def _open_existing_store(config: AppConfig) -> Store:
    """The running bot's store, never a new one: a check must not create the file it checks."""
    from bot.storage import open_store

    if not config.replicated and not config.database_path.exists():
        raise RotationError(f"no database at {config.database_path}: the bot has not started")
    return open_store(config.database, replica=config.replica)


def cmd_demo(args: argparse.Namespace, config: AppConfig) -> int:
    """The bot at work on the packaged sample (or `--data`), with nothing set up: see bot/runtime/demo.py."""
    began = time.perf_counter()
    where = (f"the data folder {args.data}" if args.data
             else "the packaged sample (real S&P 500 and Russell 2000 history)")
    print(f"rotation-bot demo: the bot's own loop over {where}, one session at a time; no network"
          f"{', no token' if not args.telegram else ''}.", flush=True)
    setup_logging("WARNING", config.telegram_bot_token.get_secret_value() if config.telegram_bot_token else None)
    import asyncio
    import tempfile

    from bot.runtime.demo import default_charts_dir, demo_config, run_demo

    chat = None
    if args.telegram:
        if config.telegram_bot_token is None:
            raise RotationError("--telegram needs TELEGRAM_BOT_TOKEN (and a chat: --chat ID or ADMIN_CHAT_IDS)")
        chat = args.chat if args.chat is not None else (config.admin_chat_ids[0] if config.admin_chat_ids else None)
        if chat is None:
            raise RotationError("--telegram needs a chat to send to: --chat ID, or ADMIN_CHAT_IDS")
    if args.data:
        from signals.sources.folder import load_folder

        data = load_folder(args.data, cache_dir=config.cache_dir)
    else:
        from signals.sources.sample import load_sample, sample_available

        if not sample_available():
            raise RotationError("the packaged sample is missing from this installation (signals/sample/prices.npz)")
        data = load_sample()
    print(f"Data: {data.close.shape[1]:,} tickers, {data.sessions[0]:%Y-%m-%d} .. {data.sessions[-1]:%Y-%m-%d} "
          f"({data.price_basis} closes), loaded in {time.perf_counter() - began:.1f} s", flush=True)
    charts = args.charts or default_charts_dir()
    with tempfile.TemporaryDirectory(prefix="rotation-bot-demo-") as folder:
        report = asyncio.run(run_demo(demo_config(config, Path(folder) / "demo.sqlite"), data,
                                      lambda line: print(line, flush=True), charts, args.start, args.pace, chat,
                                      full=args.full, packaged=not args.data))
    print("")
    print(f"{report.first} .. {report.last}: {report.sessions:,} sessions ticked, "
          f"{report.messages:,} message{'' if report.messages == 1 else 's'} to the subscriber"
          f"{f' (and to chat {chat})' if chat is not None else ''}, in {time.perf_counter() - began:.1f} s.")
    if report.charts:
        print(f"Charts of {report.last}, as the bot sends them: {report.charts[0].parent}/ "
              f"({', '.join(path.name for path in report.charts)})")
    if not args.full:
        print("`--full` prints each message whole, as the subscriber reads it; WEBAPP_PORT=8090 serves the "
              "demo's dashboard after the replay.")
    print("Next: `rotation-bot run` for the live bot (TELEGRAM_BOT_TOKEN for Telegram; README's quick start).")
    return 0


def cmd_webapp_link(args: argparse.Namespace, config: AppConfig) -> int:
    """A link that opens the dashboard in any browser as `--chat`'s user would see it in Telegram."""
    from bot.webapp.links import dashboard_link

    if config.telegram_bot_token is None:
        raise RotationError("webapp-link signs with the bot's token: set TELEGRAM_BOT_TOKEN")
    if config.webapp_url:
        base = config.webapp_url
    elif config.webapp_port:
        base = f"http://{config.webapp_host}:{config.webapp_port}/"
    else:
        raise RotationError("no dashboard to link to: set WEBAPP_URL (or WEBAPP_PORT for this machine)")
    if not 0 < args.minutes <= 24 * 60:
        raise RotationError(f"--minutes {args.minutes:g} is not between 1 and 1440")
    user = args.chat if args.chat > 0 else args.user
    if user is None or user <= 0:
        raise RotationError(f"chat {args.chat} is a group: sign the link for one of its administrators with --user ID "
                            f"(the page checks with Telegram that they are one)")
    print(dashboard_link(base, config.telegram_bot_token.get_secret_value(), user, chat_id=args.chat,
                         minutes=args.minutes))
    print(f"valid for {args.minutes:g} minutes, for user {user}"
          + (f" controlling group {args.chat}" if args.chat != user else ""), file=sys.stderr)
    return 0


DATE_ARGUMENTS = {"as_of": "--as-of", "start": "--start", "end": "--end"}  # demo's --from is `start` too
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_dates(args: argparse.Namespace) -> None:
    """Every date argument is a real YYYY-MM-DD date, checked before any data loads (a typo costs no
    minute-long load of 2,244 files)."""
    for name, flag in DATE_ARGUMENTS.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        if args.command == "demo" and name == "start":
            flag = "--from"
        try:
            valid = bool(_ISO_DATE.match(value)) and date.fromisoformat(value) is not None
        except ValueError:
            valid = False
        if not valid:
            raise RotationError(f"{flag} {value!r} is not a date (use YYYY-MM-DD, e.g. 2024-03-08)")


def _print_json(payload: dict[str, Any]) -> None:
    json.dump(payload, sys.stdout, indent=2, allow_nan=False, default=str)
    sys.stdout.write("\n")


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace, AppConfig], int], str]] = {
    "metrics": (cmd_metrics, "the current metrics; stores nothing"),
    "replay": (cmd_replay, "walk-forward replay: the alerts that would have fired, and how IWM did vs SPY after each"),
    "run": (cmd_run, "the bot: scheduler + Telegram; prints alerts to the console when no token is set"),
    "evaluate": (cmd_evaluate, "one scheduled tick by hand: refresh, evaluate, store new signals, deliver them"),
    "fetch": (cmd_fetch, "fill or refresh the local price cache, with a progress bar"),
    "chart": (cmd_chart, "the charts the bot sends, as a PNG file"),
    "db": (cmd_db, "the database: `db check` runs SQLite's integrity check and lists every problem"),
    "demo": (cmd_demo, "the bot's loop over the packaged sample: no network, token or setup"),
    "webapp-link": (cmd_webapp_link, "a signed link to the dashboard for a browser outside Telegram, valid for "
                                     "minutes"),
    "health": (cmd_health, "exit 0 when the running bot is alive (its scheduler turned) and listening (Telegram "
                           "answered a poll) within the bound"),
}


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", type=Path, metavar="DIR", help="offline market data folder (or ROTATION_DATA)")
    common.add_argument("--db", type=Path, metavar="PATH", help="SQLite database (or DATABASE_PATH)")
    common.add_argument("--config", type=Path, metavar="FILE", help="detector settings TOML (or ROTATION_CONFIG)")
    parser = argparse.ArgumentParser(prog="rotation-bot", description="Watches the US market for a rotation "
                                     "out of mega-caps into the broad market and small caps.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    metrics = commands.add_parser("metrics", parents=[common], help=COMMANDS["metrics"][1])
    metrics.add_argument("--as-of", metavar="DATE", help="only bars up to and including DATE exist")
    metrics.add_argument("--json", action="store_true", help="one JSON object on stdout")
    replay_cmd = commands.add_parser("replay", parents=[common], help=COMMANDS["replay"][1])
    replay_cmd.add_argument("--start", required=True, metavar="DATE")
    replay_cmd.add_argument("--end", metavar="DATE", help="default: the last session in the data")
    replay_cmd.add_argument("--json", action="store_true", help="one JSON object on stdout")
    commands.add_parser("run", parents=[common], help=COMMANDS["run"][1])
    evaluate_cmd = commands.add_parser("evaluate", parents=[common], help=COMMANDS["evaluate"][1])
    evaluate_cmd.add_argument("--as-of", metavar="DATE", help="only bars up to and including DATE exist")
    evaluate_cmd.add_argument("--json", action="store_true", help="one JSON object on stdout")
    fetch = commands.add_parser("fetch", parents=[common], help=COMMANDS["fetch"][1])
    fetch.add_argument("--start", metavar="DATE", help="first date of history for tickers not cached yet "
                                                     "(default 2017-01-01)")
    chart = commands.add_parser("chart", parents=[common], help=COMMANDS["chart"][1])
    chart.add_argument("name", choices=CHART_NAMES, metavar="NAME", help=f"one of: {', '.join(CHART_NAMES)}")
    chart.add_argument("--out", type=Path, required=True, metavar="FILE.png", help="a .png or .jpg file")
    chart.add_argument("--as-of", metavar="DATE", help="only bars up to and including DATE exist")
    database = commands.add_parser("db", parents=[common], help=COMMANDS["db"][1])
    database.add_argument("action", choices=["check"], help="check: PRAGMA integrity_check, read-only")
    demo = commands.add_parser("demo", parents=[common], help=COMMANDS["demo"][1])
    demo.add_argument("--from", dest="start", metavar="DATE",
                      help="first session to tick (default: once a year of history exists)")
    demo.add_argument("--pace", type=float, default=0.0, metavar="SECONDS",
                      help="pause after each session, for a replay you can watch (default 0)")
    demo.add_argument("--charts", type=Path, metavar="DIR",
                      help="where the last session's charts are written (default: the temp folder's rotation-bot-demo)")
    demo.add_argument("--telegram", action="store_true",
                      help="also send every message to a chat (needs TELEGRAM_BOT_TOKEN; --chat or ADMIN_CHAT_IDS)")
    demo.add_argument("--chat", type=int, metavar="ID", help="the chat --telegram sends to")
    demo.add_argument("--full", action="store_true",
                      help="print each message whole, as the subscriber reads it (default: one line each)")
    link = commands.add_parser("webapp-link", parents=[common], help=COMMANDS["webapp-link"][1])
    link.add_argument("--chat", type=int, required=True, metavar="ID",
                      help="whose dashboard: a user's id (their private chat) or a group's (with --user)")
    link.add_argument("--user", type=int, metavar="ID", help="for a group: the administrator the link signs in")
    link.add_argument("--minutes", type=float, default=15.0, metavar="N", help="how long it works (default 15)")
    health = commands.add_parser("health", parents=[common], help=COMMANDS["health"][1])
    health.add_argument("--max-age", type=float, default=120.0, metavar="SECONDS",
                        help="the oldest heartbeat or good poll that still counts (default 120)")
    health.add_argument("--start-grace", type=float, default=600.0, metavar="SECONDS",
                        help="how long a fresh start counts as healthy 'starting' until its first evaluation "
                             "finishes (default 600)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from bot.runtime.config import load_config

    args = build_parser().parse_args(argv)
    config: AppConfig | None = None
    try:
        check_dates(args)
        config = load_config(rotation_data=args.data, database_path=args.db, rotation_config=args.config)
        handler, _ = COMMANDS[args.command]
        return handler(args, config)
    except RotationError as exc:
        print(f"rotation-bot: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except sqlite3.DatabaseError as exc:  # a corrupt or foreign file given as the database
        print(f"rotation-bot: error: the database cannot be used: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # output piped into a reader that stopped early
        return EXIT_ERROR
    except OSError as exc:  # a path we cannot read or create
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"rotation-bot: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        if type(exc).__module__.startswith("psycopg"):  # the server is down, refuses us, or has no such database
            print(f"rotation-bot: error: the database {config.database_name if config else ''} cannot be used: "
                  f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
            return EXIT_ERROR
        if not type(exc).__module__.startswith("telegram"):
            raise
        # python-telegram-bot's errors (InvalidToken's message holds the token): one redacted line
        from bot.runtime.logs import redact

        secret = config.telegram_bot_token.get_secret_value() if config and config.telegram_bot_token else None
        print(f"rotation-bot: error: Telegram: {type(exc).__name__}: {redact(str(exc), secret)}", file=sys.stderr)
        return EXIT_ERROR


def entry() -> None:
    """The `rotation-bot` process: `main`, then exit. What the command built is left to the operating
    system: `gc.freeze()` spares the interpreter's last full collection over pandas', pydantic's and the
    data's objects, a tenth of a second of a warm `metrics`. Exit handlers (logging's flush, thread
    joins) still run, and every command has closed what it wrote before it returns."""
    gc.set_threshold(*ONE_COMMAND_GC)  # before `main` imports the settings, pandas and the data
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
