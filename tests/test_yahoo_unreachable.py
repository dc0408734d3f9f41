"""Yahoo unreachable is one line, not 2,455 "possibly delisted" ones; Ctrl-C and SIGTERM stop a refresh.

At the yfinance boundary the fake logs and returns exactly what yfinance 1.7 does without network
(measured on this machine, which has none). The process tests run the real yfinance with its proxy
pointed at a closed port on 127.0.0.1, so they never reach Yahoo even on a machine that could.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from signals.errors import Cancelled
from signals.sources.fred import FredClient
from signals.sources.live import LiveSettings, LiveSource
from signals.sources.price_cache import PriceCache
from signals.sources.yahoo import YahooClient
from tests.fake_yahoo import FakeYahoo, history_frame
from tests.test_live_source import DAYS, EVERY, UNIVERSE_FETCHERS, fred_transport
from tests.builders import random_walk
from tests.test_run_command import ROOT, cli


def source_over(tmp_path, yahoo: FakeYahoo, **settings) -> LiveSource:
    return LiveSource(PriceCache(tmp_path / "cache.sqlite"), yahoo=YahooClient(download=yahoo.download),
                      fred=FredClient(httpx.Client(transport=fred_transport({}))),
                      universe_fetchers=UNIVERSE_FETCHERS,
                      settings=LiveSettings(history_start="2024-01-01", index_history_start="2024-01-01",
                                            batch_size=10, **settings),
                      sleep=lambda seconds: None)


def histories() -> dict:
    close = random_walk(DAYS, EVERY, seed=5)
    return {t: history_frame(close[t]) for t in close.columns}


def test_an_unreachable_yahoo_stops_the_refresh_in_one_line_and_blames_no_ticker(tmp_path, caplog):
    yahoo = FakeYahoo(histories(), offline=True)
    source = source_over(tmp_path, yahoo)
    with caplog.at_level("DEBUG"):
        report = source.refresh()
    assert report.outcome == "partial" and report.unreachable == "could not resolve query2.finance.yahoo.com"
    assert yahoo.requests == 2  # the first batch, and one more to be sure; not the other batches
    assert report.failed == {} and source.cache.failing_tickers() == {}
    said = [n for n in report.notes if "unreachable" in n]
    assert said == ["Yahoo Finance unreachable (could not resolve query2.finance.yahoo.com); stopped asking "
                    "after 2 tries, no ticker is marked failed"]
    assert not any(r.name.startswith("yfinance") for r in caplog.records)  # yfinance's own lines held back
    source.cache.close()


def test_yahoo_back_after_one_unreachable_batch_finishes_the_refresh(tmp_path):
    yahoo = FakeYahoo(histories(), offline=True)
    source = source_over(tmp_path, yahoo)
    original = yahoo.download

    def back_after_first(tickers, **kwargs):
        frame = original(tickers, **kwargs)
        yahoo.offline = False
        return frame

    source.yahoo = YahooClient(download=back_after_first)
    report = source.refresh()
    assert report.outcome == "complete" and report.unreachable is None
    source.cache.close()


def test_cancel_stops_a_refresh_at_the_next_batch_with_what_was_fetched_kept(tmp_path):
    yahoo = FakeYahoo(histories(), delay=0.3)
    source = source_over(tmp_path, yahoo)
    threading.Timer(0.5, source.cancel).start()
    began = time.monotonic()
    with pytest.raises(Cancelled):
        source.refresh()
    assert time.monotonic() - began < 1.0  # within the batch under way
    assert 1 <= len(source.cache.states()) < len(EVERY)  # the batches done are kept
    assert source.cache.last_refresh()["outcome"] == "partial"
    source.cache.close()


OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", "NO_PROXY": ""}


@pytest.mark.slow
def test_evaluate_without_network_and_an_empty_cache_ends_within_a_minute_in_a_few_lines(tmp_path):
    began = time.monotonic()
    process = cli("evaluate", "--db", str(tmp_path / "bot.sqlite"), env=OFFLINE, cwd=tmp_path)
    out, err = process.communicate(timeout=90)
    took = time.monotonic() - began
    print(f"evaluate offline: {took:.1f} s, exit {process.returncode}, stderr: {err!r}")
    assert process.returncode == 1 and took < 60
    lines = err.strip().splitlines()
    assert len(lines) <= 5 and "Traceback" not in err and "delisted" not in err
    assert "Yahoo Finance unreachable" in lines[-1] and "rotation-bot fetch" in lines[-1]


SLOW_FETCH = """
import sys
import yfinance
from tests.fake_yahoo import FakeYahoo, history_frame
from tests.builders import nyse_sessions, random_walk
days = nyse_sessions(30, start="2024-01-02")
close = random_walk(days, ["SPY"], seed=1)
slow = FakeYahoo({"SPY": history_frame(close["SPY"])}, delay=1.0)
yfinance.download = slow.download
import signals.sources.yahoo
signals.sources.yahoo.probe_yahoo = lambda timeout=10.0: None  # the fake stands for a Yahoo that answers
from bot.runtime.cli import main
print("fetching", flush=True)
sys.exit(main(["fetch", "--db", sys.argv[1]]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_stop_fetch_mid_refresh_within_five_seconds(tmp_path, signum):
    process = subprocess.Popen([sys.executable, "-c", SLOW_FETCH, str(tmp_path / "bot.sqlite")], cwd=ROOT,
                               env={**OFFLINE, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "fetching"
        time.sleep(4)  # batches of 50 tickers, one second each: well inside the refresh
        began = time.monotonic()
        process.send_signal(signum)
        _, err = process.communicate(timeout=30)
        took = time.monotonic() - began
    finally:
        process.kill()
    print(f"{signal.Signals(signum).name}: stopped in {took:.1f} s; stderr tail: {err[-300:]!r}")
    assert took < 5
    assert process.returncode == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("rotation-bot: error: stopped on request")


class Blackhole:
    """A proxy that accepts every connection and never answers: a network that hangs, not one that fails."""

    def __init__(self) -> None:
        import socket

        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.held.append(connection)

    def env(self) -> dict[str, str]:
        proxy = f"http://127.0.0.1:{self.port}"
        return {"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "https_proxy": proxy, "http_proxy": proxy,
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

    def close(self) -> None:
        self.server.close()
        for connection in self.held:
            connection.close()


def stop_time(process: subprocess.Popen, signum: int, after: float) -> tuple[float, str]:
    time.sleep(after)
    assert process.poll() is None, process.stderr.read()
    began = time.monotonic()
    process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    return time.monotonic() - began, err


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_evaluate_on_a_hanging_network_stops_within_five_seconds(tmp_path, signum):
    """Every read hangs (the lists, Yahoo, FRED): a stop asked mid-read ends the command in seconds,
    with one line (old main: SIGINT ignored for more than 30 s, each read waiting out its timeout)."""
    hole = Blackhole()
    try:
        process = cli("evaluate", "--db", str(tmp_path / "bot.sqlite"), env=hole.env(), cwd=tmp_path)
        took, err = stop_time(process, signum, after=6)
    finally:
        hole.close()
    print(f"evaluate, hanging network, {signal.Signals(signum).name}: stopped in {took:.1f} s; {err[-200:]!r}")
    assert took < 5
    assert process.returncode == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("rotation-bot: error: stopped on request")


@pytest.mark.slow
def test_run_whose_tick_hangs_on_the_network_stops_within_five_seconds(tmp_path):
    """Telegram answers, Yahoo hangs: the start-up tick waits on a read; SIGINT ends `run` in seconds,
    exit 0, no traceback (old main: two SIGINTs ignored over 90 s)."""
    from tests.fake_telegram import FakeTelegram

    hole = Blackhole()
    try:
        with FakeTelegram() as fake:
            env = {**hole.env(), "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url}
            process = cli("run", "--db", str(tmp_path / "bot.sqlite"), env=env, cwd=tmp_path)
            took, err = stop_time(process, signal.SIGINT, after=12)
    finally:
        hole.close()
    print(f"run, hanging network, SIGINT: stopped in {took:.1f} s; {err[-300:]!r}")
    assert took < 5
    assert process.returncode == 0 and "Traceback" not in err


def test_fred_that_never_answers_is_asked_once_not_once_per_series(tmp_path):
    """A read that times out says the network is away: the other five series would each wait out their
    timeout too (old main: six timeouts in a row, 120 s of a hanging network)."""
    asked: list[str] = []

    def hangs(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params["id"])
        raise httpx.ReadTimeout("timed out", request=request)

    yahoo = FakeYahoo(histories())
    source = source_over(tmp_path, yahoo)
    source.fred = FredClient(httpx.Client(transport=httpx.MockTransport(hangs)))
    report = source.refresh()
    assert len(asked) == 1
    assert any(note.startswith("FRED unreachable") for note in report.notes) and report.outcome == "partial"
    source.cache.close()


def test_yfinances_own_threads_are_daemons_so_a_stop_does_not_wait_for_them(monkeypatch):
    """yfinance downloads in multitasking threads, non-daemon by default: a stop during a download on a
    hanging network waited for each of their timeouts (220 s for one batch of 4 tickers, measured)."""
    import multitasking
    import yfinance

    from signals.sources.yahoo import _real_download

    daemons: list[bool] = []

    @multitasking.task
    def one_ticker() -> None:
        daemons.append(threading.current_thread().daemon)

    def download(tickers, **kwargs):
        one_ticker()
        multitasking.wait_for_tasks()

    multitasking.set_daemon(False)
    monkeypatch.setattr(yfinance, "download", download)
    _real_download(["SPY"])
    assert daemons == [True]


def test_a_yahoo_that_never_answers_is_said_after_one_deadline_not_after_every_timeout(monkeypatch):
    """The probe: one request, one deadline, through the environment's proxy (a blackhole here), instead
    of yfinance's several requests per ticker each waiting out its timeout (220 s for 4 tickers)."""
    from signals.sources.yahoo import probe_yahoo

    hole = Blackhole()
    try:
        for name, value in hole.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("NO_PROXY", "")
        monkeypatch.setenv("no_proxy", "")
        began = time.monotonic()
        reason = probe_yahoo(timeout=1.0)
        took = time.monotonic() - began
    finally:
        hole.close()
    assert reason is not None and reason.startswith("no answer from query2.finance.yahoo.com within 1 s")
    assert took < 3


def test_the_probe_comes_before_the_first_download_and_after_one_that_never_reached_yahoo():
    from signals.sources.yahoo import YahooUnreachable

    answers = ["no answer", None, None]
    probed, downloads = [], []
    yahoo = FakeYahoo(histories())

    def download(tickers, **kwargs):
        downloads.append(tickers)
        if len(downloads) == 2:
            raise RuntimeError("curl: (28) Connection timed out after 20001 milliseconds")
        return yahoo.download(tickers, **kwargs)

    def probe():
        probed.append(True)
        return answers.pop(0)

    client = YahooClient(download=download, probe=probe)
    with pytest.raises(YahooUnreachable, match="no answer"):
        client.fetch(["SPY"], start="2024-01-02")
    assert downloads == []  # yfinance was never asked
    client.fetch(["SPY"], start="2024-01-02")
    with pytest.raises(YahooUnreachable):
        client.fetch(["SPY"], start="2024-01-02")
    client.fetch(["SPY"], start="2024-01-02")
    assert len(probed) == 3 and len(downloads) == 3
