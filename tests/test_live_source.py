"""The live source at its boundaries: yfinance-shaped frames, FRED over HTTP, the SQLite cache."""

from __future__ import annotations

import logging

import httpx
import numpy as np
import pandas as pd
import pytest

from signals.errors import DataError
from signals.sources.fred import FRED_CSV, FredClient, parse_fred_csv
from signals.sources.live import MARKET_TICKERS, LiveSettings, LiveSource
from signals.sources.price_cache import PriceCache
from signals.sources.universe import UniverseError, parse_sp500_html
from signals.sources.yahoo import YahooClient, split_download
from tests.builders import nyse_sessions, random_walk
from tests.fake_yahoo import FakeYahoo, as_download, history_frame

MEMBERS = ["AAA", "BBB", "CCC"]
DAYS = nyse_sessions(60, start="2024-01-02")


SMALL = ["SSS", "TTT"]  # the Russell 2000 of this small world
EVERY = MEMBERS + SMALL + list(MARKET_TICKERS)


def universe() -> pd.DataFrame:
    return pd.DataFrame({"ticker": MEMBERS, "name": MEMBERS, "sector": "Tech", "sub_industry": "x"})


def small_universe() -> pd.DataFrame:
    return pd.DataFrame({"ticker": SMALL, "name": SMALL, "sector": "Financials", "weight": [0.6, 0.4]})


UNIVERSE_FETCHERS = {"sp500": universe, "russell2000": small_universe}


def fred_transport(counter: dict[str, int], fail: set[str] = frozenset()) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        series = request.url.params["id"]
        counter[series] = counter.get(series, 0) + 1
        if series in fail:
            return httpx.Response(500, text="Internal Server Error")
        start = request.url.params["cosd"]
        lines = [f"observation_date,{series}"]
        for day in DAYS:
            if day.strftime("%Y-%m-%d") >= start:
                lines.append(f"{day:%Y-%m-%d},{'.' if day.day == 15 else '4.25'}")
        return httpx.Response(200, text="\n".join(lines) + "\n")

    return httpx.MockTransport(handler)


@pytest.fixture
def world(tmp_path):
    close = random_walk(DAYS, EVERY, seed=5)
    histories = {t: history_frame(close[t]) for t in close.columns}
    yahoo = FakeYahoo(histories)
    fred_calls: dict[str, int] = {}
    cache = PriceCache(tmp_path / "cache.sqlite")
    waits: list[float] = []
    source = LiveSource(
        cache,
        yahoo=YahooClient(download=yahoo.download),
        fred=FredClient(httpx.Client(transport=fred_transport(fred_calls))),
        universe_fetchers=UNIVERSE_FETCHERS,
        settings=LiveSettings(history_start="2024-01-01", index_history_start="2024-01-01", batch_size=10,
                              backoff_seconds=1, max_retries=3),
        sleep=waits.append,
    )
    yield source, yahoo, fred_calls, waits
    cache.close()


def test_split_download_handles_every_shape():
    bars = history_frame(pd.Series([10.0, 11.0], index=pd.DatetimeIndex(["2024-01-02", "2024-01-03"])))
    frame = as_download({"AAA": bars, "BAD": None})
    assert isinstance(frame.columns, pd.MultiIndex) and frame.columns.names == ["Price", "Ticker"]
    batch = split_download(frame, ["AAA", "BAD", "GONE"])
    assert list(batch.bars) == ["AAA"] and batch.bars["AAA"]["Close"].tolist() == [10.0, 11.0]
    assert batch.failed == {"BAD": "no prices (all NaN)", "GONE": "not in the download"}
    single = split_download(as_download({"AAA": bars}), ["AAA"])  # one ticker: still MultiIndex
    assert single.bars["AAA"]["Adj Close"].tolist() == [10.0, 11.0]
    flat = split_download(bars, ["AAA"])  # multi_level_index=False shape
    assert flat.bars["AAA"]["Close"].tolist() == [10.0, 11.0]
    assert split_download(pd.DataFrame(), ["AAA"]).failed == {"AAA": "no data returned"}


def test_logged_failures_carry_their_reason(world):
    source, yahoo, _, _ = world
    yahoo.unknown.add("BBB")
    batch = source.yahoo.fetch(["AAA", "BBB"], "2024-01-01")
    assert "AAA" in batch.bars and "possibly delisted" in batch.failed["BBB"]
    assert not batch.rate_limited


def test_first_refresh_fills_the_cache_and_loads_like_a_folder(world):
    source, yahoo, fred_calls, _ = world
    report = source.refresh()
    assert report.outcome == "complete" and not report.failed
    assert report.last_session == DAYS[-1].strftime("%Y-%m-%d")
    data = source.load()
    assert data.members == tuple(MEMBERS)
    assert data.universes["russell2000"] == tuple(SMALL)
    assert data.close.shape == (60, len(EVERY))
    np.testing.assert_allclose(data.close["AAA"], yahoo.histories["AAA"]["Adj Close"])
    assert data.rates["DGS2"].notna().sum() == sum(d.day != 15 for d in DAYS)  # "." days are missing, not zero
    assert set(fred_calls) == {"DFF", "DFEDTARL", "DFEDTARU", "DGS3MO", "DGS2", "DGS10"}


def test_second_refresh_asks_only_for_new_dates(world):
    source, yahoo, fred_calls, _ = world
    source.refresh()
    first_rows, first_requests = yahoo.rows_sent, yahoo.requests
    yahoo.append_session("2024-03-28")
    report = source.refresh(expected_session="2024-03-28")
    assert report.outcome == "complete"
    starts = {start for _, start in yahoo.calls[first_requests:]}
    assert starts == {"2024-03-20"}  # last cached day minus the 7-day overlap
    per_ticker = (yahoo.rows_sent - first_rows) / len(source.tickers())
    assert per_ticker == 7  # the overlap sessions plus the new one, not the 61-day history
    assert source.load().last_session == pd.Timestamp("2024-03-28")


def test_a_split_in_the_overlap_refetches_that_ticker_only(world):
    source, yahoo, _, _ = world
    source.refresh()
    yahoo.split("BBB", 4.0)
    yahoo.append_session("2024-03-28")
    before = yahoo.requests
    report = source.refresh()
    assert report.refetched == ["BBB"]
    full_history_calls = [(t, s) for t, s in yahoo.calls[before:] if s == "2024-01-01"]
    assert full_history_calls == [(("BBB",), "2024-01-01")]
    data = source.load()
    np.testing.assert_allclose(data.close["BBB"], yahoo.histories["BBB"]["Adj Close"])  # no seam at the split
    np.testing.assert_allclose(data.close["AAA"], yahoo.histories["AAA"]["Adj Close"])


def test_rate_limit_backs_off_and_then_succeeds(world):
    source, yahoo, _, waits = world
    yahoo.rate_limit_next = 2
    report = source.refresh()
    assert report.outcome == "complete"
    assert waits == [1, 2]  # exponential: 1 s, then 2 s (time is faked)


def test_rate_limit_that_outlasts_the_retries_marks_the_refresh_partial(world):
    source, yahoo, _, waits = world
    yahoo.raise_rate_limit_next = 10
    report = source.refresh()
    assert report.partial and report.outcome == "partial"
    assert waits == [1, 2, 4]
    assert source.cache.last_refresh()["outcome"] == "partial"
    assert all("Yahoo kept refusing" in why for why in report.failed.values())
    capped = LiveSettings(backoff_seconds=100, backoff_cap_seconds=150, max_retries=3)
    source.settings = capped
    waits.clear()
    yahoo.raise_rate_limit_next = 10
    source.refresh()
    assert waits == [100, 150, 150]


def test_a_failed_ticker_is_retried_next_time_and_listed(world):
    source, yahoo, _, _ = world
    yahoo.unknown.add("CCC")
    report = source.refresh()
    assert "CCC" in report.failed and report.outcome == "complete"
    data = source.load()
    assert data.missing_members == ("CCC",)
    assert any("CCC" in str(issue) for issue in data.issues)
    yahoo.unknown.clear()
    before = yahoo.requests
    source.refresh()
    assert any("CCC" in tickers and start == "2024-01-01" for tickers, start in yahoo.calls[before:])
    assert source.load().members == tuple(MEMBERS)
    assert source.cache.failing_tickers() == {}


def test_stale_when_the_expected_session_is_missing(world):
    source, _, _, _ = world
    report = source.refresh(expected_session="2024-03-28")
    assert report.stale and report.outcome == "stale"


def test_interrupted_fetch_resumes(world):
    source, yahoo, _, _ = world
    seen: list[int] = []

    def stop_after_first_batch(done: int, total: int, label: str) -> None:
        seen.append(done)
        if len(seen) == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        source.refresh(progress=stop_after_first_batch)
    assert source.cache.last_refresh()["outcome"] == "partial"
    kept = set(source.cache.states())
    assert len(kept) == 10  # the first batch was committed
    before = yahoo.requests
    report = source.refresh()
    assert report.outcome == "complete"
    resumed = [start for _, start in yahoo.calls[before:]]
    assert "2024-01-01" in resumed and "2024-03-20" in resumed  # new tickers whole, kept ones from the overlap


def test_fred_errors_make_the_refresh_partial(tmp_path):
    cache = PriceCache(tmp_path / "cache.sqlite")
    close = random_walk(DAYS, EVERY, seed=5)
    yahoo = FakeYahoo({t: history_frame(close[t]) for t in close})
    source = LiveSource(cache, yahoo=YahooClient(download=yahoo.download),
                        fred=FredClient(httpx.Client(transport=fred_transport({}, fail={"DGS2"}))),
                        universe_fetchers=UNIVERSE_FETCHERS,
                        settings=LiveSettings(history_start="2024-01-01", index_history_start="2024-01-01"),
                        sleep=lambda s: None)
    report = source.refresh()
    assert report.partial and "HTTP 500" in report.failed["DGS2"]
    cache.close()


def test_parse_fred_csv_and_empty_cache():
    text = "observation_date,DGS2\n2024-01-02,4.33\n2024-01-03,.\n2024-01-04,\n2024-01-05,4.40\n"
    series = parse_fred_csv(text, "DGS2")
    assert series.tolist() == [4.33, 4.40]
    with pytest.raises(Exception, match="unexpected columns"):
        parse_fred_csv("<html>oops</html>\n", "DGS2")
    assert FRED_CSV.startswith("https://fred.stlouisfed.org/")


def test_empty_cache_is_a_clear_error(tmp_path):
    cache = PriceCache(tmp_path / "cache.sqlite")
    with pytest.raises(DataError, match="rotation-bot fetch"):
        LiveSource(cache).load()
    cache.close()


def test_universe_parsing_and_cached_list_on_failure(world):
    rows = "".join(f"<tr><td>T{i}.B</td><td>Name {i}</td><td>Tech</td><td>Soft</td></tr>" for i in range(450))
    html = ("<table id='constituents'><tr><th>Symbol</th><th>Security</th><th>GICS Sector</th>"
            f"<th>GICS Sub-Industry</th></tr>{rows}</table>")
    members = parse_sp500_html(html)
    assert len(members) == 450 and members["ticker"].iloc[0] == "T0-B"
    with pytest.raises(UniverseError, match="only 1 members"):
        parse_sp500_html(html.replace(rows, rows[: rows.index("</tr>") + 5]))

    source, _, _, _ = world
    source.refresh()

    def broken():
        raise UniverseError("S&P 500 list: HTTP 503")

    source.universe_fetchers = {**UNIVERSE_FETCHERS, "sp500": broken}
    source.settings = LiveSettings(history_start="2024-01-01", index_history_start="2024-01-01",
                                   universe_max_age_days=0)
    report = source.refresh()
    assert any("HTTP 503; using the cached S&P 500 list from" in note for note in report.notes)
    assert source.load().members == tuple(MEMBERS)


def test_yahoo_logger_listener_is_removed(world):
    source, yahoo, _, _ = world
    yahoo.unknown.add("AAA")
    source.yahoo.fetch(["AAA"], "2024-01-01")
    assert not [h for h in logging.getLogger("yfinance").handlers if type(h).__name__ == "_FailureListener"]


def test_the_index_history_comes_from_1987_once_and_stays_out_of_the_grid(tmp_path):
    """fetch asks the indices from 1987 (Yahoo has ^RUT from 1987-09), once; the (session x member) grid
    still starts at the live history's start, and the index-level records read the decades."""
    from bot.runtime.feeds import LiveFeed
    from bot.runtime.tick import decades_records
    from signals.settings import load_detector_settings

    long_days = nyse_sessions(9200, start="1987-09-10")
    indices = random_walk(long_days, ["^GSPC", "^RUT", "^IRX", "^TNX", "^VIX"], seed=9)
    recent = random_walk(DAYS, EVERY, seed=5)
    histories = {t: history_frame(recent[t]) for t in recent.columns}
    histories.update({t: history_frame(indices[t]) for t in indices.columns})
    yahoo = FakeYahoo(histories)
    cache = PriceCache(tmp_path / "cache.sqlite")
    source = LiveSource(cache, yahoo=YahooClient(download=yahoo.download),
                        fred=FredClient(httpx.Client(transport=fred_transport({}))),
                        universe_fetchers=UNIVERSE_FETCHERS,
                        settings=LiveSettings(history_start="2024-01-01", batch_size=50), sleep=lambda s: None)
    try:
        assert source.refresh().outcome == "complete"
        asked = {ticker: start for tickers, start in yahoo.calls for ticker in tickers}
        assert asked["^RUT"] == asked["^GSPC"] == "1987-09-01" and asked["AAA"] == "2024-01-01"
        data = source.load()
        assert data.sessions[0] == DAYS[0] and data.close.shape == (60, len(EVERY))  # the grid: 2024 only
        history = source.index_history()
        assert history is not None and history.sessions[0] == long_days[0] and not history.members
        yahoo.calls.clear()
        source.refresh()
        assert all(start > "2024-01-01" for _, start in yahoo.calls)  # incremental after: no second decade fetch
        records = decades_records(LiveFeed(source), data.last_session.strftime("%Y-%m-%d"),
                                  load_detector_settings())
        assert records and all(line.startswith(("Since 1988", "No start since 1988")) for line in records.values())
        assert "cycle:small_caps_lead" in records and not any(key.startswith("breadth:") for key in records)
    finally:
        cache.close()
