"""Live data benchmark: a daily refresh on a warm cache of the full universe, and loading the cache.

    python -m benchmarks.bench_live [--data DIR]

The counting fake of `yfinance.download` (tests/fake_yahoo.py) serves the real development set
(515 tickers x 1,807 sessions) as Yahoo would; FRED is faked at the HTTP layer. Measured in one run:
- the first fill (every ticker's whole history), as the baseline a full re-download would cost;
- a daily refresh after one new session: requests, rows transferred, wall time, against that baseline;
- loading the cache into MarketData, against loading the offline folder of the same data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd

from signals.sources.fred import SERIES, FredClient
from signals.sources.live import LiveSettings, LiveSource
from signals.sources.price_cache import PriceCache
from signals.sources.folder import load_folder
from signals.sources.yahoo import YahooClient
from tests.fake_yahoo import FakeYahoo

DEFAULT_DATA = Path(os.environ.get("ROTATION_MARKET_DATA", Path(__file__).resolve().parents[2] / "shared/data/market"))


def fred_from(rates: pd.DataFrame) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        series = request.url.params["id"]
        start = pd.Timestamp(request.url.params["cosd"])
        values = rates[series].dropna().loc[start:] if series in rates else pd.Series(dtype=float)
        body = f"observation_date,{series}\n" + "".join(f"{d:%Y-%m-%d},{v}\n" for d, v in values.items())
        return httpx.Response(200, text=body)

    return httpx.Client(transport=httpx.MockTransport(handler))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    if not (args.data / "prices").is_dir():
        print(f"benchmark needs the development data set; not found at {args.data}", file=sys.stderr)
        return 1
    folder = load_folder(args.data)
    histories = {}
    for ticker in folder.close.columns:
        close = folder.close[ticker]
        keep = close.notna()
        histories[ticker] = pd.DataFrame({
            "Open": folder.close[ticker], "High": folder.high[ticker], "Low": folder.low[ticker],
            "Close": close, "Adj Close": close, "Volume": folder.volume[ticker]}).loc[keep].rename_axis("Date")
    yahoo = FakeYahoo(histories)
    members = folder.constituents[folder.constituents["ticker"].isin(folder.close.columns)]
    small = folder.universe_lists.get("russell2000", members.iloc[:0])
    small = small[small["ticker"].isin(folder.close.columns)]

    with tempfile.TemporaryDirectory() as scratch:
        cache = PriceCache(Path(scratch) / "cache.sqlite")
        source = LiveSource(cache, yahoo=YahooClient(download=yahoo.download), fred=FredClient(fred_from(folder.rates)),
                            universe_fetchers={"sp500": lambda: members.assign(sub_industry=""),
                                               "russell2000": lambda: small.assign(sub_industry="")},
                            settings=LiveSettings(history_start="2017-01-01", index_history_start="2017-01-01"),
                            sleep=lambda s: None)
        source.tickers = lambda: list(histories)  # exactly the tickers of the data set
        began = time.perf_counter()
        source.refresh()
        fill_s = time.perf_counter() - began
        fill_requests, fill_rows = yahoo.requests, yahoo.rows_sent
        before = source.load()

        yahoo.append_session("2024-03-11")
        yahoo.requests = yahoo.rows_sent = 0
        began = time.perf_counter()
        report = source.refresh(expected_session="2024-03-11")
        daily_s = time.perf_counter() - began
        daily_requests, daily_rows = yahoo.requests, yahoo.rows_sent
        appends = []
        for _ in range(5):
            began = time.perf_counter()
            appended = source.extend(before)
            appends.append(time.perf_counter() - began)

        loads, folder_loads = [], []
        for _ in range(5):
            began = time.perf_counter()
            data = source.load()
            loads.append(time.perf_counter() - began)
            began = time.perf_counter()
            load_folder(args.data)
            folder_loads.append(time.perf_counter() - began)
        cache.close()

    cache_load, folder_load = statistics.median(loads), statistics.median(folder_loads)
    append = statistics.median(appends)
    print(f"universe: {len(histories)} tickers; FRED series: {len(SERIES)}")
    print(f"full download (first fill): {fill_requests} Yahoo requests, {fill_rows:,} rows, {fill_s:.1f} s")
    print(f"daily refresh on a warm cache: {daily_requests} Yahoo requests, {daily_rows:,} rows, {daily_s:.2f} s; "
          f"outcome {report.outcome}; rows {fill_rows / max(daily_rows, 1):.0f}x fewer than a full re-download "
          f"(target >= 100x)")
    print(f"load into MarketData ({data.close.shape[0]} sessions x {data.close.shape[1]} tickers): cache "
          f"{cache_load:.3f} s vs offline folder {folder_load:.3f} s ({folder_load / cache_load:.1f}x)")
    print(f"a tick's new session appended in memory ({appended.close.shape[0]} sessions): {append:.3f} s vs "
          f"loading the whole cache {cache_load:.3f} s ({cache_load / append:.1f}x)")
    return 0 if report.outcome == "complete" and fill_rows / max(daily_rows, 1) >= 100 else 1


if __name__ == "__main__":
    sys.exit(main())
