"""`rotation-bot fetch`: fills the cache with a progress line, says what failed, exits non-zero when partial."""

from __future__ import annotations

import io

import httpx
import pytest

from bot.runtime.cli import main
from bot.runtime.feeds import LiveFeed
from bot.runtime.progress import ProgressLine
from signals.sources.fred import FredClient
from signals.sources.live import LiveSettings, LiveSource
from signals.sources.price_cache import PriceCache
from signals.sources.yahoo import YahooClient
from tests.builders import random_walk
from tests.fake_yahoo import FakeYahoo, history_frame
from tests.test_live_source import DAYS, EVERY, UNIVERSE_FETCHERS, fred_transport


@pytest.fixture
def fake_world(monkeypatch, tmp_path):
    close = random_walk(DAYS, EVERY, seed=5)
    yahoo = FakeYahoo({t: history_frame(close[t]) for t in close.columns})

    def at(database):
        source = LiveSource(PriceCache(database), yahoo=YahooClient(download=yahoo.download),
                            fred=FredClient(httpx.Client(transport=fred_transport({}))),
                            universe_fetchers=UNIVERSE_FETCHERS,
                            settings=LiveSettings(history_start="2024-01-01", index_history_start="2024-01-01",
                                                  batch_size=10, max_retries=1),
                            sleep=lambda s: None)
        return LiveFeed(source)

    monkeypatch.setattr(LiveFeed, "at", staticmethod(at))
    monkeypatch.delenv("ROTATION_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    return yahoo


def test_fetch_fills_the_cache_then_metrics_read_it(fake_world, tmp_path, capsys):
    database = str(tmp_path / "bot.sqlite")
    assert main(["fetch", "--db", database]) == 0
    out, err = capsys.readouterr()
    assert "fetch complete" in out and "data to 2024-03-27" in out
    assert "progress: 38/38 tickers (100%)" in err  # plain lines when stderr is not a terminal
    assert main(["metrics", "--db", database, "--json"]) == 0
    assert '"as_of": "2024-03-27"' in capsys.readouterr().out


def test_fetch_reports_failures_and_partial_exits_non_zero(fake_world, tmp_path, capsys):
    fake_world.unknown.add("BBB")
    database = str(tmp_path / "bot.sqlite")
    assert main(["fetch", "--db", database]) == 0
    assert "warning: BBB: YFTzMissingError" in capsys.readouterr().err
    fake_world.raise_rate_limit_next = 100
    fake_world.append_session("2024-03-28")
    assert main(["fetch", "--db", database]) == 1
    out, err = capsys.readouterr()
    assert "fetch partial" in out and "run it again to resume" in err


def test_fetch_refuses_an_offline_folder(tmp_path, capsys):
    assert main(["fetch", "--data", str(tmp_path)]) == 1
    assert "fetch fills the live cache" in capsys.readouterr().err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_redrawn_line_in_a_terminal():
    terminal = Terminal()
    line = ProgressLine(terminal, width=10)
    line(5, 10, "2024-01-01..")
    line(10, 10, "2024-01-01..")
    line.finish()
    text = terminal.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and "[##########] 10/10" in text
    plain = io.StringIO()
    ProgressLine(plain)(3, 10)
    assert plain.getvalue() == "progress: 3/10 tickers (30%)\n"
