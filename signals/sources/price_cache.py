"""The local SQLite cache of the live sources: bars keyed by (ticker, date), FRED rates, the universe.

`cache_bars` is the record, one row per (ticker, date). Reading 900,000 rows back through sqlite3
costs seconds, so every write also refreshes `cache_packed`: one blob per ticker (its rows as a
float64 array), from which the engine's wide frames are built in a few hundred milliseconds.
Both are written in the same transaction, so they never disagree.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from signals.sources.csv_prices import PRICE_COLUMNS, ParsedChunk, ParsedPrices
from signals.sqlite_file import connect_private

SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_bars (
    ticker TEXT NOT NULL, date TEXT NOT NULL,
    open REAL, high REAL, low REAL, close REAL, adj_close REAL, volume REAL,
    PRIMARY KEY (ticker, date)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cache_bars_by_date ON cache_bars (date);
CREATE TABLE IF NOT EXISTS cache_packed (
    ticker TEXT PRIMARY KEY, rows INTEGER NOT NULL, first TEXT, last TEXT, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS cache_rates (
    series TEXT NOT NULL, date TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY (series, date)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cache_universe (
    ticker TEXT PRIMARY KEY, name TEXT, sector TEXT, sub_industry TEXT
);
CREATE TABLE IF NOT EXISTS cache_universes (
    universe TEXT NOT NULL, position INTEGER NOT NULL, ticker TEXT NOT NULL, name TEXT, sector TEXT,
    sub_industry TEXT, weight REAL, PRIMARY KEY (universe, ticker)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cache_meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS cache_ticker_status (
    ticker TEXT PRIMARY KEY, last_attempt TEXT, last_success TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0, last_error TEXT
);
CREATE TABLE IF NOT EXISTS cache_refreshes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, finished_at TEXT,
    outcome TEXT NOT NULL DEFAULT 'running', expected_session TEXT, last_session TEXT,
    requests INTEGER NOT NULL DEFAULT 0, rows INTEGER NOT NULL DEFAULT 0, failed TEXT, error TEXT
);
"""
_FIELDS = ("open", "high", "low", "close", "adj_close", "volume")
_EPOCH = np.datetime64("1970-01-01", "D")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class TickerState:
    rows: int
    first: str | None
    last: str | None


class PriceCache:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.RLock()
        self.conn = connect_private(self.path)
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # bars --------------------------------------------------------------------------------------

    def states(self) -> dict[str, TickerState]:
        with self._lock:
            rows = self.conn.execute("SELECT ticker, rows, first, last FROM cache_packed").fetchall()
        return {ticker: TickerState(count, first, last) for ticker, count, first, last in rows}

    def bars(self, ticker: str, since: str | None = None) -> pd.DataFrame:
        """One ticker's cached bars (from the packed copy), optionally from `since` on."""
        block = self.packed(ticker)
        index = pd.DatetimeIndex((_EPOCH + block[:, 0].astype("int64")).astype("datetime64[ns]"), name="Date")
        frame = pd.DataFrame(block[:, 1:], index=index, columns=list(PRICE_COLUMNS))
        return frame.loc[pd.Timestamp(since):] if since else frame

    def packed(self, ticker: str) -> np.ndarray:
        """One ticker's bars as an (n, 7) array: day number since 1970, then the six fields."""
        with self._lock:
            row = self.conn.execute("SELECT data FROM cache_packed WHERE ticker = ?", [ticker]).fetchone()
        return np.frombuffer(row[0] if row else b"", dtype="float64").reshape(-1, 7)

    def write_bars(self, updates: dict[str, pd.DataFrame], replace: Iterable[str] = ()) -> int:
        """Upsert each ticker's bars (a full replacement for tickers in `replace`); one transaction.

        The packed copy is merged in numpy (old rows the update does not carry, plus the update),
        not re-read row by row from `cache_bars`.
        """
        replace = set(replace)
        written = 0
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for ticker, bars in updates.items():
                    if ticker in replace:
                        self.conn.execute("DELETE FROM cache_bars WHERE ticker = ?", [ticker])
                    fresh = to_block(bars)
                    dates = np.datetime_as_string(_EPOCH + fresh[:, 0].astype("int64"), unit="D").tolist()
                    # SQLite stores a NaN bound as REAL as NULL: missing stays missing
                    rows = list(zip([ticker] * len(dates), dates, *fresh[:, 1:].T.tolist()))
                    self.conn.executemany(
                        "INSERT OR REPLACE INTO cache_bars (ticker, date, open, high, low, close, adj_close, volume) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                    written += len(rows)
                    row = None if ticker in replace else self.conn.execute(
                        "SELECT data FROM cache_packed WHERE ticker = ?", [ticker]).fetchone()
                    old = np.frombuffer(row[0] if row else b"", dtype="float64").reshape(-1, 7)
                    merged = merge_blocks(old, fresh)
                    first, last = (_day(merged[0, 0]), _day(merged[-1, 0])) if len(merged) else (None, None)
                    self.conn.execute(
                        "INSERT OR REPLACE INTO cache_packed (ticker, rows, first, last, data) VALUES (?, ?, ?, ?, ?)",
                        [ticker, len(merged), first, last, merged.tobytes()])
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return written

    def read_since(self, after: str) -> ParsedPrices:
        """The bars dated after `after` (an index on date serves it): what a tick appends."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT ticker, date, open, high, low, close, adj_close, volume FROM cache_bars WHERE date > ? "
                "ORDER BY ticker, date", [after]).fetchall()
        if not rows:
            return ParsedPrices([], [], [])
        frame = pd.DataFrame(rows, columns=["ticker", "date", *_FIELDS])
        codes, tickers = pd.factorize(frame["ticker"])
        values = {name: frame[field].to_numpy(dtype="float64", na_value=np.nan)
                  for name, field in zip(PRICE_COLUMNS, _FIELDS)}
        dates = pd.to_datetime(frame["date"]).to_numpy(dtype="datetime64[ns]")
        return ParsedPrices(list(tickers), [ParsedChunk(codes.astype(np.int32), dates, values)], [])

    def read_long(self, tickers: Iterable[str] | None = None) -> ParsedPrices:
        """Every cached bar as the long columns the wide-frame builder takes (from the packed copy)."""
        with self._lock:
            rows = self.conn.execute("SELECT ticker, data FROM cache_packed ORDER BY ticker").fetchall()
        wanted = set(tickers) if tickers is not None else None
        names, arrays = [], []
        for ticker, blob in rows:
            if wanted is not None and ticker not in wanted:
                continue
            names.append(ticker)
            arrays.append(np.frombuffer(blob, dtype="float64").reshape(-1, 7))
        if not arrays:
            return ParsedPrices(names, [], [])
        counts = [len(a) for a in arrays]
        block = np.concatenate(arrays)
        dates = (_EPOCH + block[:, 0].astype("int64")).astype("datetime64[ns]")
        values = {name: np.ascontiguousarray(block[:, 1 + i]) for i, name in enumerate(PRICE_COLUMNS)}
        codes = np.repeat(np.arange(len(names), dtype=np.int32), counts)
        return ParsedPrices(names, [ParsedChunk(codes, dates, values)], [])

    # rates, universe, status -------------------------------------------------------------------

    def last_rate_date(self, series: str) -> str | None:
        with self._lock:
            return self.conn.execute("SELECT MAX(date) FROM cache_rates WHERE series = ?", [series]).fetchone()[0]

    def write_rates(self, series: str, observed: pd.Series) -> int:
        rows = [(series, day.strftime("%Y-%m-%d"), float(value)) for day, value in observed.items()]
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("INSERT OR REPLACE INTO cache_rates (series, date, value) VALUES (?, ?, ?)", rows)
            self.conn.execute("COMMIT")
        return len(rows)

    def rates(self) -> pd.DataFrame:
        with self._lock:
            rows = self.conn.execute("SELECT series, date, value FROM cache_rates").fetchall()
        if not rows:
            return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
        long = pd.DataFrame(rows, columns=["series", "date", "value"])
        wide = long.pivot(index="date", columns="series", values="value")
        wide.index = pd.DatetimeIndex(pd.to_datetime(wide.index), name="date")
        wide.columns.name = None
        return wide.sort_index()

    def universe(self, name: str = "sp500") -> pd.DataFrame:
        """A cached universe list in its source's order (empty when never cached)."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT ticker, name, sector, sub_industry, weight FROM cache_universes WHERE universe = ? "
                "ORDER BY position", [name]).fetchall()
            if not rows and name == "sp500":  # a cache written before universes were named
                rows = [(*row, None) for row in self.conn.execute(
                    "SELECT ticker, name, sector, sub_industry FROM cache_universe ORDER BY rowid").fetchall()]
        return pd.DataFrame(rows, columns=["ticker", "name", "sector", "sub_industry", "weight"])

    def write_universe(self, members: pd.DataFrame, name: str = "sp500", source: str = "live",
                       fetched_at: str | None = None) -> None:
        """Replace a universe's list; `source` and `fetched_at` are what /status reports of it."""
        frame = members.copy()
        for column in ("name", "sector", "sub_industry", "weight"):
            if column not in frame:
                frame[column] = None
        rows = [(name, position, str(r.ticker), r.name, r.sector, r.sub_industry,
                 None if pd.isna(r.weight) or r.weight == "" else float(r.weight))
                for position, r in enumerate(frame[["ticker", "name", "sector", "sub_industry", "weight"]]
                                             .itertuples(index=False))]
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM cache_universes WHERE universe = ?", [name])
            self.conn.executemany("INSERT OR REPLACE INTO cache_universes (universe, position, ticker, name, sector, "
                                  "sub_industry, weight) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self.conn.executemany("INSERT OR REPLACE INTO cache_meta (key, value) VALUES (?, ?)",
                                  [(f"universe:{name}:fetched_at", fetched_at or utc_now()),
                                   (f"universe:{name}:source", source)])
            self.conn.execute("COMMIT")

    def universe_info(self, name: str) -> dict[str, str | None]:
        """When a universe's list was fetched and from where ("live", or the snapshot's description)."""
        fetched = self.meta(f"universe:{name}:fetched_at")
        if fetched is None and name == "sp500":
            fetched = self.meta("universe_fetched_at")
        return {"fetched_at": fetched, "source": self.meta(f"universe:{name}:source") or ("live" if fetched else None)}

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("INSERT OR REPLACE INTO cache_meta (key, value) VALUES (?, ?)", [key, value])
            self.conn.execute("COMMIT")

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT value FROM cache_meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def record_attempts(self, succeeded: Iterable[str], failed: dict[str, str]) -> None:
        now = utc_now()
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT INTO cache_ticker_status (ticker, last_attempt, last_success, consecutive_failures) "
                "VALUES (?, ?, ?, 0) ON CONFLICT(ticker) DO UPDATE SET last_attempt = excluded.last_attempt, "
                "last_success = excluded.last_success, consecutive_failures = 0, last_error = NULL",
                [(t, now, now) for t in succeeded])
            self.conn.executemany(
                "INSERT INTO cache_ticker_status (ticker, last_attempt, consecutive_failures, last_error) "
                "VALUES (?, ?, 1, ?) ON CONFLICT(ticker) DO UPDATE SET last_attempt = excluded.last_attempt, "
                "consecutive_failures = consecutive_failures + 1, last_error = excluded.last_error",
                [(t, now, reason) for t, reason in failed.items()])
            self.conn.execute("COMMIT")

    def failing_tickers(self) -> dict[str, str]:
        with self._lock:
            rows = self.conn.execute("SELECT ticker, last_error FROM cache_ticker_status "
                                     "WHERE consecutive_failures > 0 ORDER BY ticker").fetchall()
        return dict(rows)

    def start_refresh(self, expected_session: str | None) -> int:
        with self._lock:
            return int(self.conn.execute("INSERT INTO cache_refreshes (started_at, expected_session) VALUES (?, ?)",
                                         [utc_now(), expected_session]).lastrowid)

    def finish_refresh(self, refresh_id: int, outcome: str, last_session: str | None, requests: int, rows: int,
                       failed: dict[str, str], error: str | None) -> None:
        with self._lock:
            self.conn.execute(
                "UPDATE cache_refreshes SET finished_at = ?, outcome = ?, last_session = ?, requests = ?, rows = ?, "
                "failed = ?, error = ? WHERE id = ?",
                [utc_now(), outcome, last_session, requests, rows, json.dumps(failed), error, refresh_id])

    def last_refresh(self) -> dict[str, Any] | None:
        with self._lock:
            cursor = self.conn.execute("SELECT * FROM cache_refreshes ORDER BY id DESC LIMIT 1")
            row = cursor.fetchone()
            names = [d[0] for d in cursor.description]
        return dict(zip(names, row)) if row else None



def to_block(bars: pd.DataFrame) -> np.ndarray:
    """A Date-indexed bar frame as the packed (n, 7) layout."""
    block = np.empty((len(bars), 7), dtype="float64")
    block[:, 0] = (bars.index.values.astype("datetime64[D]") - _EPOCH).astype("int64")
    block[:, 1:] = bars.reindex(columns=list(PRICE_COLUMNS)).to_numpy(dtype="float64")
    return block


def merge_blocks(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Old rows whose dates the update does not carry, plus the update, in date order."""
    if not len(old):
        return new[np.argsort(new[:, 0], kind="stable")]
    kept = old[~np.isin(old[:, 0], new[:, 0])]
    merged = np.concatenate([kept, new])
    return np.ascontiguousarray(merged[np.argsort(merged[:, 0], kind="stable")])


def _day(number: float) -> str:
    return str(_EPOCH + int(number))
