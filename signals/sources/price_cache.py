"""The cache of the live sources: bars keyed by (ticker, date), FRED rates, the universe lists.

It lives in the bot's database (the file, or the server replicas share, so a replica that takes
the lead starts with the history the last leader fetched).

`cache_bars` is the record, one row per (ticker, date). Reading 900,000 rows back row by row
costs seconds, so every write also refreshes `cache_packed`: one blob per ticker (its rows as a
float64 array), from which the engine's wide frames are built in a few hundred milliseconds.
Both are written in the same transaction, so they never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from signals.database import Database, Migration, open_database
from signals.sources.csv_prices import PRICE_COLUMNS, ParsedChunk, ParsedPrices

# 1: the schema as files had it before migrations were recorded (IF NOT EXISTS: such a file takes it as is)
CACHE_MIGRATIONS = (Migration("""
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
""", name="first cache schema"),)
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
    def __init__(self, target: str | Path | Database) -> None:
        self.db = target if isinstance(target, Database) else open_database(
            target if isinstance(target, str) and "://" in target else Path(target).expanduser(),
            application_name="rotation-bot cache")
        self.db.migrate("cache", CACHE_MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    # bars --------------------------------------------------------------------------------------

    def states(self) -> dict[str, TickerState]:
        rows = self.db.tuples("SELECT ticker, rows, first, last FROM cache_packed")
        return {ticker: TickerState(count, first, last) for ticker, count, first, last in rows}

    def bars(self, ticker: str, since: str | None = None) -> pd.DataFrame:
        """One ticker's cached bars (from the packed copy), optionally from `since` on."""
        block = self.packed(ticker)
        index = pd.DatetimeIndex((_EPOCH + block[:, 0].astype("int64")).astype("datetime64[ns]"), name="Date")
        frame = pd.DataFrame(block[:, 1:], index=index, columns=list(PRICE_COLUMNS))
        return frame.loc[pd.Timestamp(since):] if since else frame

    def packed(self, ticker: str) -> np.ndarray:
        """One ticker's bars as an (n, 7) array: day number since 1970, then the six fields."""
        rows = self.db.tuples("SELECT data FROM cache_packed WHERE ticker = ?", [ticker])
        return _unpack(rows[0][0] if rows else b"")

    def write_bars(self, updates: dict[str, pd.DataFrame], replace: Iterable[str] = ()) -> int:
        """Upsert each ticker's bars (a full replacement for tickers in `replace`); one transaction.

        The packed copy is merged in numpy (old rows the update does not carry, plus the update),
        not re-read row by row from `cache_bars`.
        """
        replace = set(replace)
        written = 0
        with self.db.transaction() as db:
            for ticker, bars in updates.items():
                if ticker in replace:
                    db.execute("DELETE FROM cache_bars WHERE ticker = ?", [ticker])
                fresh = to_block(bars)
                dates = np.datetime_as_string(_EPOCH + fresh[:, 0].astype("int64"), unit="D").tolist()
                # a missing field stays missing: SQLite stores a NaN as NULL, the server as NaN; both read as NaN
                rows = list(zip([ticker] * len(dates), dates, *fresh[:, 1:].T.tolist()))
                db.executemany(
                    "INSERT INTO cache_bars (ticker, date, open, high, low, close, adj_close, volume) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ticker, date) DO UPDATE SET open = excluded.open, "
                    "high = excluded.high, low = excluded.low, close = excluded.close, "
                    "adj_close = excluded.adj_close, volume = excluded.volume", rows)
                written += len(rows)
                old = _unpack(b"") if ticker in replace else self.packed(ticker)
                merged = merge_blocks(old, fresh)
                first, last = (_day(merged[0, 0]), _day(merged[-1, 0])) if len(merged) else (None, None)
                db.execute(
                    "INSERT INTO cache_packed (ticker, rows, first, last, data) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (ticker) DO UPDATE SET rows = excluded.rows, first = excluded.first, "
                    "last = excluded.last, data = excluded.data",
                    [ticker, len(merged), first, last, merged.tobytes()])
        return written

    def read_since(self, after: str) -> ParsedPrices:
        """The bars dated after `after` (an index on date serves it): what a tick appends."""
        rows = self.db.tuples(
            "SELECT ticker, date, open, high, low, close, adj_close, volume FROM cache_bars WHERE date > ? "
            "ORDER BY ticker, date", [after])
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
        rows = self.db.tuples("SELECT ticker, data FROM cache_packed ORDER BY ticker")
        wanted = set(tickers) if tickers is not None else None
        names, arrays = [], []
        for ticker, blob in rows:
            if wanted is not None and ticker not in wanted:
                continue
            names.append(ticker)
            arrays.append(_unpack(blob))
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
        return self.db.tuples("SELECT MAX(date) FROM cache_rates WHERE series = ?", [series])[0][0]

    def write_rates(self, series: str, observed: pd.Series) -> int:
        rows = [(series, day.strftime("%Y-%m-%d"), float(value)) for day, value in observed.items()]
        with self.db.transaction() as db:
            db.executemany("INSERT INTO cache_rates (series, date, value) VALUES (?, ?, ?) "
                           "ON CONFLICT (series, date) DO UPDATE SET value = excluded.value", rows)
        return len(rows)

    def rates(self) -> pd.DataFrame:
        rows = self.db.tuples("SELECT series, date, value FROM cache_rates")
        if not rows:
            return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
        long = pd.DataFrame(rows, columns=["series", "date", "value"])
        wide = long.pivot(index="date", columns="series", values="value")
        wide.index = pd.DatetimeIndex(pd.to_datetime(wide.index), name="date")
        wide.columns.name = None
        return wide.sort_index()

    def universe(self, name: str = "sp500") -> pd.DataFrame:
        """A cached universe list in its source's order (empty when never cached)."""
        rows = self.db.tuples(
            "SELECT ticker, name, sector, sub_industry, weight FROM cache_universes WHERE universe = ? "
            "ORDER BY position", [name])
        if not rows and name == "sp500" and self.db.dialect == "sqlite":  # a file written before lists were named
            rows = [(*row, None) for row in self.db.tuples(
                "SELECT ticker, name, sector, sub_industry FROM cache_universe ORDER BY rowid")]
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
        with self.db.transaction() as db:
            db.execute("DELETE FROM cache_universes WHERE universe = ?", [name])
            db.executemany("INSERT INTO cache_universes (universe, position, ticker, name, sector, sub_industry, "
                           "weight) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)
            self._set_meta(db, [(f"universe:{name}:fetched_at", fetched_at or utc_now()),
                                (f"universe:{name}:source", source)])

    def universe_info(self, name: str) -> dict[str, str | None]:
        """When a universe's list was fetched and from where ("live", or the snapshot's description)."""
        fetched = self.meta(f"universe:{name}:fetched_at")
        if fetched is None and name == "sp500":
            fetched = self.meta("universe_fetched_at")
        return {"fetched_at": fetched, "source": self.meta(f"universe:{name}:source") or ("live" if fetched else None)}

    def set_meta(self, key: str, value: str) -> None:
        with self.db.transaction() as db:
            self._set_meta(db, [(key, value)])

    @staticmethod
    def _set_meta(db: Database, pairs: list[tuple[str, str]]) -> None:
        db.executemany("INSERT INTO cache_meta (key, value) VALUES (?, ?) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value", pairs)

    def meta(self, key: str) -> str | None:
        rows = self.db.tuples("SELECT value FROM cache_meta WHERE key = ?", [key])
        return rows[0][0] if rows else None

    def record_attempts(self, succeeded: Iterable[str], failed: dict[str, str]) -> None:
        now = utc_now()
        with self.db.transaction() as db:
            db.executemany(
                "INSERT INTO cache_ticker_status (ticker, last_attempt, last_success, consecutive_failures) "
                "VALUES (?, ?, ?, 0) ON CONFLICT(ticker) DO UPDATE SET last_attempt = excluded.last_attempt, "
                "last_success = excluded.last_success, consecutive_failures = 0, last_error = NULL",
                [(t, now, now) for t in succeeded])
            db.executemany(
                "INSERT INTO cache_ticker_status (ticker, last_attempt, consecutive_failures, last_error) "
                "VALUES (?, ?, 1, ?) ON CONFLICT(ticker) DO UPDATE SET last_attempt = excluded.last_attempt, "
                "consecutive_failures = cache_ticker_status.consecutive_failures + 1, "
                "last_error = excluded.last_error",
                [(t, now, reason) for t, reason in failed.items()])

    def failing_tickers(self) -> dict[str, str]:
        return dict(self.db.tuples("SELECT ticker, last_error FROM cache_ticker_status "
                                   "WHERE consecutive_failures > 0 ORDER BY ticker"))

    def start_refresh(self, expected_session: str | None) -> int:
        row = self.db.execute("INSERT INTO cache_refreshes (started_at, expected_session) VALUES (?, ?) "
                              "RETURNING id", [utc_now(), expected_session]).first()
        assert row is not None, "INSERT ... RETURNING answers one row"
        return int(row["id"])

    def finish_refresh(self, refresh_id: int, outcome: str, last_session: str | None, requests: int, rows: int,
                       failed: dict[str, str], error: str | None) -> None:
        self.db.execute(
            "UPDATE cache_refreshes SET finished_at = ?, outcome = ?, last_session = ?, requests = ?, rows = ?, "
            "failed = ?, error = ? WHERE id = ?",
            [utc_now(), outcome, last_session, requests, rows, json.dumps(failed), error, refresh_id])

    def last_refresh(self) -> dict[str, Any] | None:
        return self.db.execute("SELECT * FROM cache_refreshes ORDER BY id DESC LIMIT 1").first()


def _unpack(blob: bytes) -> np.ndarray:
    return np.frombuffer(bytes(blob), dtype="float64").reshape(-1, 7)


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
