"""Universe lists in live mode: the iShares holdings file, Yahoo's symbols, cache, weekly refresh, snapshot."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pandas as pd
import pytest

from bot.runtime.feeds import LiveFeed
from signals.sources.universe import (
    UniverseError,
    fetch_russell2000,
    parse_ishares_holdings,
    snapshot,
    yahoo_ticker,
)
from tests.conftest import MARKET_DATA
from tests.test_live_source import MEMBERS, SMALL, UNIVERSE_FETCHERS, world  # noqa: F401,F811 (a fixture)

HOLDINGS = MARKET_DATA.parent / "universes" / "iwm_holdings_2026-05-05.csv"
PREAMBLE = ('\ufeffiShares Russell 2000 ETF\nFund Holdings as of,"May 05, 2026"\nInception Date,"May 22, 2000"\n'
            'Shares Outstanding,"278,750,000.00"\nStock,"-"\nBond,"-"\nCash,"-"\nOther,"-"\n \n'
            "Ticker,Name,Sector,Asset Class,Market Value,Weight (%),Notional Value,Quantity,Price,Location,"
            "Exchange,Currency,FX Rate,Market Currency,Accrual Date\n")


def holding(ticker: str, name: str, asset: str = "Equity", weight: str = "0.01") -> str:
    return (f'"{ticker}","{name}","Industrials","{asset}","1,000.00","{weight}","1,000.00","10.00","100.00",'
            f'"United States","NYSE","USD","1.00","USD","-"\n')


def holdings_text(rows: list[str]) -> str:
    return PREAMBLE + "".join(rows) + ' \n"The content contained herein is owned or licensed by BlackRock..."\n'


def test_the_ishares_file_format_keeps_equities_only():
    rows = [holding(f"T{i:04d}", f"COMPANY {i}") for i in range(1200)]
    rows += [holding("MOGA", "MOOG INC CLASS A", weight="0.26"), holding("ZETA", "ZETA GLOBAL CLASS A"),
             holding("BFC", "BANK FIRST CORP"), holding("XTSLA", "BLK CSH FND TREASURY SL AGENCY", "Money Market"),
             holding("RTYM6", "RUSSELL 2000 EMINI CME JUN 26", "Futures"), holding("USD", "USD CASH", "Cash"),
             holding("-", "OMNIAB INC $12.50 VESTING Prvt")]
    members, as_of = parse_ishares_holdings(holdings_text(rows))
    assert as_of == "2026-05-05"
    assert len(members) == 1203
    assert {"MOG-A", "ZETA", "BFC"} <= set(members["ticker"])
    assert not {"XTSLA", "RTYM6", "USD", "-"} & set(members["ticker"])
    assert members.set_index("ticker").loc["MOG-A", "weight"] == pytest.approx(0.26)


@pytest.mark.parametrize("ticker, name, expected", [
    ("BRK.B", "", "BRK-B"), ("BF/B", "", "BF-B"), ("MOGA", "MOOG INC CLASS A", "MOG-A"),
    ("GEFB", "GREIF INC CLASS B", "GEF-B"), ("GEF", "GREIF INC CLASS A", "GEF"),
    ("ZETA", "ZETA GLOBAL HOLDINGS CORP CLASS A", "ZETA"), ("BELFA", "BEL FUSE INC CLASS A", "BELFA"),
    ("BFC", "BANK FIRST CORP", "BFC"), ("BHB", "BAR HARBOR BANKSHARES", "BHB"),
])
def test_yahoo_spelling_of_share_classes(ticker, name, expected):
    assert yahoo_ticker(ticker, name) == expected


def test_an_html_page_or_a_short_list_is_refused():
    with pytest.raises(UniverseError, match="HTML page"):
        parse_ishares_holdings("<!DOCTYPE html><html><body>Service unavailable</body></html>")
    with pytest.raises(UniverseError, match="only 2 equities"):
        parse_ishares_holdings(holdings_text([holding("AAA", "A"), holding("BBB", "B")]))
    with pytest.raises(UniverseError, match="no 'Ticker"):
        parse_ishares_holdings("iShares Russell 2000 ETF\nnothing here\n")


def test_fetch_russell2000_reads_the_ishares_answer():
    rows = [holding(f"T{i:04d}", f"COMPANY {i}") for i in range(1100)]

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "www.ishares.com"
        return httpx.Response(200, text=holdings_text(rows))

    assert len(fetch_russell2000(httpx.Client(transport=httpx.MockTransport(handler)))) == 1100
    down = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(503, text="busy")))
    with pytest.raises(UniverseError, match="HTTP 503"):
        fetch_russell2000(down)


@pytest.mark.skipif(not HOLDINGS.is_file(), reason=f"the real iShares file is not at {HOLDINGS}")
def test_the_real_holdings_file_covers_the_development_universe():
    members, as_of = parse_ishares_holdings(HOLDINGS.read_text(encoding="utf-8"))
    assert as_of == "2026-05-05" and len(members) == 1920
    development = pd.read_csv(MARKET_DATA / "universes" / "russell2000.csv")["ticker"]
    assert set(development) <= set(members["ticker"])
    assert {"MOG-A", "GEF-B", "CRD-A"} <= set(members["ticker"])


def test_the_packaged_snapshots_are_dated_and_believable():
    sp500, russell = snapshot("sp500"), snapshot("russell2000")
    assert len(sp500.members) >= 500 and len(russell.members) >= 1900
    assert russell.as_of == "2026-05-05" and pd.Timestamp(sp500.as_of)
    assert russell.members["ticker"].is_unique and "MOG-A" in set(russell.members["ticker"])


def _broken():
    raise UniverseError("Russell 2000 list: HTTP 503")


def test_with_the_live_list_down_and_nothing_cached_the_snapshot_is_used(world):  # noqa: F811
    source, _, _, _ = world
    source.universe_fetchers = {**UNIVERSE_FETCHERS, "russell2000": _broken}
    report = source.refresh()
    assert any("HTTP 503; no cached Russell 2000 list, so the packaged snapshot of 2026-05-05" in n
               for n in report.notes)
    assert report.outcome == "complete"  # breadth is never unavailable because iShares is down
    assert len(source.cache.universe("russell2000")) == len(snapshot("russell2000").members)
    lines = LiveFeed(source).status_lines()
    assert any(line.startswith("Russell 2000 list: 1,920 members") and "snapshot of 2026-05-05" in line
               for line in lines)
    # the live list is tried again at the next refresh, and replaces the snapshot once it answers
    source.universe_fetchers = dict(UNIVERSE_FETCHERS)
    source.refresh()
    assert source.cache.universe("russell2000")["ticker"].tolist() == SMALL
    assert source.cache.universe_info("russell2000")["source"] == "live"


def test_lists_are_refreshed_weekly_not_every_tick(world):  # noqa: F811
    source, _, _, _ = world
    calls: list[str] = []

    def counting(name, fetch):
        def wrapped():
            calls.append(name)
            return fetch()
        return wrapped

    source.universe_fetchers = {name: counting(name, fetch) for name, fetch in UNIVERSE_FETCHERS.items()}
    source.refresh()
    source.refresh()
    assert calls == ["sp500", "russell2000"]
    source.today = lambda: datetime.now(timezone.utc) + timedelta(days=8)
    source.refresh()
    assert calls == ["sp500", "russell2000", "sp500", "russell2000"]
    assert source.load().universes == {"sp500": tuple(MEMBERS), "russell2000": tuple(SMALL)}
