"""The live market data source: Yahoo Finance and FRED behind the incremental SQLite cache.

A refresh asks each source only for what the cache lacks, from the last cached date minus a small
overlap. The overlap is compared with the cache: a disagreement beyond rounding means the history
was adjusted (a split, a dividend), and that ticker alone is fetched again whole. Rate limits and
network errors back off exponentially (capped); a refresh that could not finish is recorded as
partial, never mistaken for complete. Each batch is committed as it arrives, so an interrupted
refresh resumes where it stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

import httpx
import numpy as np
import pandas as pd

from signals.errors import Cancelled, DataError
from signals.market_data import DataIssue, MarketData
from signals.sources.align import align, extend
from signals.sources.fred import SERIES as FRED_SERIES
from signals.sources.fred import FredClient, FredError
from signals.sources.price_cache import PriceCache, to_block
from signals.sources.folder import members_with_data
from signals.sources.universe import LIST_SOURCES, UniverseError, snapshot
from signals.sources.yahoo import YahooClient, YahooRateLimited, YahooUnreachable
from signals.sources.csv_prices import ParsedChunk, ParsedPrices
from signals.tickers import INDEX_HISTORY, WATCHED, YIELD_TICKERS

log = logging.getLogger(__name__)

MARKET_TICKERS = ("^GSPC", "SPY", "RSP", "IWM", "^RUT", "QQQ", "IJR", "IJH", "IWN", "IWO", "IWC", "DIA",
                  "XLB", "XLC", "XLE", "XLF", "XLI", "XLK", "XLP", "XLRE", "XLU", "XLV", "XLY", "KRE", "KBE",
                  "HYG", "JNK", "IEF", "SHY", "TLT", "^VIX", "^IRX", "^TNX")
REFERENCE_TICKER = "SPY"  # its last bar says how far the data reaches


@dataclass(frozen=True)
class LiveSettings:
    history_start: str = "2017-01-01"
    index_history_start: str = "1987-09-01"  # INDEX_HISTORY and FRED's series: the decades records read them
    overlap_days: int = 7  # calendar days re-read before the last cached bar
    batch_size: int = 50
    max_retries: int = 4
    backoff_seconds: float = 30.0
    backoff_cap_seconds: float = 600.0
    universe_max_age_days: float = 7.0
    tolerance: float = 1e-4  # relative difference that counts as a revision, beyond rounding
    unreachable_after: int = 2  # batches in a row that never reached Yahoo: the refresh stops asking
    unreachable_pause_seconds: float = 2.0


@dataclass
class RefreshReport:
    requests: int = 0
    rows: int = 0
    updated: list[str] = field(default_factory=list)
    refetched: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    partial: bool = False
    stale: bool = False
    last_session: str | None = None
    notes: list[str] = field(default_factory=list)
    lists_changed: bool = False  # a universe list was written: membership may differ
    unreachable: str | None = None  # why Yahoo could not be reached, when the refresh stopped for it

    @property
    def outcome(self) -> str:
        return "stale" if self.stale else "partial" if self.partial else "complete"


Progress = Callable[[int, int, str], None]  # done, total, label


class LiveSource:
    def __init__(
        self,
        cache: PriceCache,
        yahoo: YahooClient | None = None,
        fred: FredClient | None = None,
        universe_fetchers: dict[str, Callable[..., pd.DataFrame]] | None = None,
        settings: LiveSettings | None = None,
        sleep: Callable[[float], None] | None = None,
        today: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.cache = cache
        self.yahoo = yahoo or YahooClient()
        self.fred = fred or FredClient()
        # each universe's live list; a test or a notebook passes its own
        self.universe_fetchers = universe_fetchers or {name: source.fetch for name, source in LIST_SOURCES.items()}
        self.settings = settings or LiveSettings()
        self._stop = threading.Event()
        self.sleep = sleep or self._stop.wait  # waits end at once when asked to stop
        self.today = today

    def cancel(self) -> None:
        """Stop a refresh in progress at the next batch boundary (from any thread, e.g. a signal)."""
        self._stop.set()

    def _check_cancelled(self) -> None:
        if self._stop.is_set():
            raise Cancelled("stopped on request; every batch fetched so far is kept, a refresh resumes there")

    # refresh -------------------------------------------------------------------------------------

    def refresh(self, expected_session: str | None = None, progress: Progress | None = None,
                start: str | None = None) -> RefreshReport:
        report = RefreshReport()
        refresh_id = self.cache.start_refresh(expected_session)
        error = None
        try:
            for name in self.universe_fetchers:
                self._refresh_universe(name, report)
            tickers = self.tickers()
            self._refresh_prices(tickers, report, progress, start)
            self._refresh_rates(report)
        except BaseException as exc:  # interrupted or failed: recorded as partial, then raised again
            report.partial = True
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            state = self.cache.states().get(REFERENCE_TICKER)
            report.last_session = state.last if state else None
            if expected_session and (report.last_session is None or report.last_session < expected_session):
                report.stale = True
            if error is None and report.unreachable:
                error = f"Yahoo Finance unreachable ({report.unreachable})"
            self.cache.finish_refresh(refresh_id, report.outcome, report.last_session, report.requests,
                                      report.rows, report.failed, error)
        return report

    def tickers(self) -> list[str]:
        """Every universe's members, then the indices, ETFs and yields the detectors read."""
        members = [t for name in self.universe_fetchers for t in self.cache.universe(name)["ticker"].tolist()]
        return list(dict.fromkeys([*members, *MARKET_TICKERS]))

    def _refresh_universe(self, name: str, report: RefreshReport) -> None:
        """Weekly: the live list; failing that the cached one; with none cached, the packaged snapshot."""
        info = self.cache.universe_info(name)
        fetched_at = info["fetched_at"]
        age = None
        if fetched_at:
            age = (self.today() - _aware(datetime.fromisoformat(fetched_at))).total_seconds() / 86400
        if age is not None and age < self.settings.universe_max_age_days and info["source"] == "live":
            return
        label = LIST_SOURCES[name].label if name in LIST_SOURCES else name
        try:
            self.cache.write_universe(self.universe_fetchers[name](), name, source="live")
            report.lists_changed = True
        except (UniverseError, httpx.HTTPError) as exc:
            if fetched_at is not None:
                report.notes.append(f"{exc}; using the cached {label} list from {fetched_at[:10]} "
                                    f"({age:.0f} days old, {info['source']})")
                return
            packaged = snapshot(name)
            # dated by the snapshot, so the live list is tried again at the next refresh
            self.cache.write_universe(packaged.members, name, source=f"snapshot of {packaged.as_of}",
                                      fetched_at=f"{packaged.as_of}T00:00:00+00:00")
            report.lists_changed = True
            report.notes.append(f"{exc}; no cached {label} list, so the packaged snapshot of {packaged.as_of} "
                                f"({len(packaged.members)} members) is used")

    def _refresh_prices(self, tickers: list[str], report: RefreshReport, progress: Progress | None,
                        start: str | None) -> None:
        states = self.cache.states()
        first_day = start or self.settings.history_start
        plans: dict[str, list[str]] = {}
        backfill = []  # index history cached from the later start only: fetched once from the early one
        fresh_history = []  # index history asked from the early start now: nothing earlier to backfill later
        for ticker in tickers:
            state = states.get(ticker)
            early = ticker in INDEX_HISTORY and start is None
            if state is None or state.last is None:
                begin = self.settings.index_history_start if early else first_day
                if early:
                    fresh_history.append(ticker)
            elif (early and state.first is not None and state.first > _later(self.settings.index_history_start)
                  and self.cache.meta(f"backfilled:{ticker}") != self.settings.index_history_start):
                backfill.append(ticker)  # once: Yahoo may simply have nothing earlier
                continue
            else:
                begin = (pd.Timestamp(state.last) - timedelta(days=self.settings.overlap_days)).strftime("%Y-%m-%d")
            plans.setdefault(begin, []).append(ticker)
        batches = [(begin, group[i:i + self.settings.batch_size])
                   for begin, group in sorted(plans.items()) for i in range(0, len(group), self.settings.batch_size)]
        done = 0
        refetch: list[str] = []
        position, unreachable = 0, 0
        while position < len(batches):
            self._check_cancelled()
            begin, batch = batches[position]
            try:
                received = self._fetch_with_backoff(batch, begin, report)
            except YahooUnreachable as exc:
                unreachable += 1
                if unreachable >= self.settings.unreachable_after:
                    report.partial = True
                    report.unreachable = str(exc)
                    report.notes.append(f"Yahoo Finance unreachable ({exc}); stopped asking after {unreachable} "
                                        f"tries, no ticker is marked failed")
                    return
                self.sleep(self.settings.unreachable_pause_seconds)
                continue
            unreachable = 0
            position += 1
            if received is None:  # gave up: the rest is left for the next refresh
                report.partial = True
                report.failed.update({t: "not fetched: Yahoo kept refusing" for t in batch})
                break
            updates = {}
            for ticker, bars in received.items():
                if states.get(ticker) and self._revised(ticker, bars):
                    refetch.append(ticker)
                else:
                    updates[ticker] = bars
            report.rows += self.cache.write_bars(updates)
            report.updated.extend(updates)
            done += len(batch)
            if progress:
                progress(done, len(tickers), f"{begin}..")
        if refetch and not report.partial:
            self._refetch_whole([t for t in refetch if t not in INDEX_HISTORY], report, first_day)
            self._refetch_whole([t for t in refetch if t in INDEX_HISTORY], report, self.settings.index_history_start)
        if backfill and not report.partial:
            self._refetch_whole(backfill, report, self.settings.index_history_start)
        if not report.partial:
            for ticker in (*backfill, *(t for t in fresh_history if t in report.updated)):
                self.cache.set_meta(f"backfilled:{ticker}", self.settings.index_history_start)

    def _fetch_with_backoff(self, tickers: list[str], begin: str,
                            report: RefreshReport) -> dict[str, pd.DataFrame] | None:
        """Bars per ticker; failed tickers recorded; None when rate limits outlast the retries."""
        wanted = list(tickers)
        received: dict[str, pd.DataFrame] = {}
        for attempt in range(self.settings.max_retries + 1):
            report.requests += 1
            try:
                batch = self.yahoo.fetch(wanted, begin)
            except YahooUnreachable:
                raise
            except YahooRateLimited as exc:
                limited, reason = wanted, str(exc)
            except Exception as exc:  # network trouble inside yfinance's session setup
                limited, reason = wanted, f"{type(exc).__name__}: {exc}"
            else:
                received.update(batch.bars)
                limited = [t for t, why in batch.failed.items() if "Too Many Requests" in why or "RateLimit" in why]
                reason = "rate limited"
                failed = {t: why for t, why in batch.failed.items() if t not in limited}
                report.failed.update(failed)
                self.cache.record_attempts(batch.bars, failed)
            if not limited:
                return received
            wanted = limited
            if attempt == self.settings.max_retries:
                break
            wait = min(self.settings.backoff_cap_seconds, self.settings.backoff_seconds * 2 ** attempt)
            log.warning("Yahoo: %s; waiting %.0f s before retrying %d tickers", reason, wait, len(wanted))
            self.sleep(wait)
            self._check_cancelled()
        self.cache.record_attempts(received, {t: "rate limited" for t in wanted})
        if received:
            report.rows += self.cache.write_bars(received)
            report.updated.extend(received)
        return None

    def _revised(self, ticker: str, fresh: pd.DataFrame) -> bool:
        """Whether the overlap disagrees with the cache beyond rounding (a split or dividend adjustment)."""
        old, new = self.cache.packed(ticker), to_block(fresh)
        _, at_old, at_new = np.intersect1d(old[:, 0], new[:, 0], return_indices=True)
        if not len(at_old):
            return False
        for column in (4, 5):  # Close, Adj Close
            before, after = old[at_old, column], new[at_new, column]
            both = ~(np.isnan(before) | np.isnan(after))
            if np.any(np.abs(after[both] - before[both]) > self.settings.tolerance * np.abs(before[both])):
                return True
        return False

    def _refetch_whole(self, tickers: list[str], report: RefreshReport, first_day: str) -> None:
        for i in range(0, len(tickers), self.settings.batch_size):
            batch = tickers[i:i + self.settings.batch_size]
            received = self._fetch_with_backoff(batch, first_day, report)
            if received is None:
                report.partial = True
                return
            report.rows += self.cache.write_bars(received, replace=received)
            report.refetched.extend(received)

    def _refresh_rates(self, report: RefreshReport) -> None:
        for series in FRED_SERIES:
            self._check_cancelled()
            last = self.cache.last_rate_date(series)
            begin = self.settings.index_history_start  # FRED's few series are cheap: the decades records read them
            if last:
                begin = (pd.Timestamp(last) - timedelta(days=10)).strftime("%Y-%m-%d")
            report.requests += 1
            try:
                observed = self.fred.fetch(series, begin)
            except FredError as exc:
                report.partial = True
                report.failed[series] = str(exc)
                if isinstance(exc.__cause__, httpx.TransportError):  # no answer at all: the rest would wait too
                    report.notes.append(f"FRED unreachable ({exc}); stopped asking, the cached rates are used")
                    return
                continue
            report.rows += self.cache.write_rates(series, observed)

    # load ----------------------------------------------------------------------------------------

    def extend(self, data: MarketData) -> MarketData | None:
        """`data` with the cached bars after its last session appended (None: load anew)."""
        extended = extend(data, self.cache.read_since(data.last_session.strftime("%Y-%m-%d")),
                          YIELD_TICKERS, WATCHED)
        if extended is None:
            return None
        rates = self.cache.rates()
        if extended is data and rates.equals(data.rates):
            return data  # nothing new: the same object, so everything keyed on it stays valid
        return replace(extended, rates=rates)

    def load(self) -> MarketData:
        """The cache as the engine's MarketData, the same model the offline folder gives."""
        universe = self.cache.universe("sp500")
        parsed = _since(self.cache.read_long(), self.settings.history_start)  # the index decades stay out of the grid
        if not parsed.tickers:
            last = self.cache.last_refresh()
            why = f" (the last refresh: {last['error']})" if last and last.get("error") else ""
            raise DataError(f"the price cache is empty{why}: run `rotation-bot fetch` once Yahoo Finance can be "
                            f"reached, or point --data / ROTATION_DATA at an offline folder")
        aligned = align(parsed, [f"{ticker} (cache)" for ticker in parsed.tickers], signed=YIELD_TICKERS,
                        watched=WATCHED)
        close = aligned.close
        with_data = set(close.columns[close.notna().any(axis=0).to_numpy()])
        issues = [DataIssue("price cache", None, f"{ticker}: {reason}")
                  for ticker, reason in self.cache.failing_tickers().items()]
        issues.extend(aligned.issues)
        lists = {name: self.cache.universe(name) for name in self.universe_fetchers}
        lists.setdefault("sp500", universe)
        universes: dict[str, tuple[str, ...]] = {}
        missing: tuple[str, ...] = ()
        for name, listing in lists.items():
            universes[name], absent = members_with_data(listing, with_data, f"price cache ({name} list)", issues)
            if name == "sp500":
                missing = absent
        members = universes["sp500"]
        return MarketData(close=close, high=aligned.high, low=aligned.low, volume=aligned.volume,
                          rates=self.cache.rates(), constituents=universe, members=members, missing_members=missing,
                          issues=tuple(issues), source=f"Yahoo Finance + FRED cache ({self.cache.db.description})",
                          carried=aligned.carried, suspect=aligned.suspect, universes=universes,
                          universe_lists=lists, price_basis=aligned.price_basis)


    def index_history(self) -> MarketData | None:
        """The cached index history (INDEX_HISTORY, from 1987) with FRED's rates, index-only: the
        longest record the bot has for its index-level keys. None when the cache holds no earlier
        history than the grid's."""
        parsed = self.cache.read_long(INDEX_HISTORY)
        span = parsed.date_range()
        if span is None or span[0] >= np.datetime64(self.settings.history_start):
            return None
        aligned = align(parsed, [f"{ticker} (cache)" for ticker in parsed.tickers], signed=YIELD_TICKERS,
                        watched=WATCHED)
        empty = pd.DataFrame({"ticker": pd.Series([], dtype=str), "name": pd.Series([], dtype=str),
                              "sector": pd.Series([], dtype=str)})
        return MarketData(close=aligned.close, high=aligned.high, low=aligned.low, volume=aligned.volume,
                          rates=self.cache.rates(), constituents=empty, members=(), issues=tuple(aligned.issues),
                          source=f"index history in the cache ({self.cache.db.description})", carried=aligned.carried,
                          suspect=aligned.suspect, price_basis=aligned.price_basis)


__all__ = ["LiveSettings", "LiveSource", "MARKET_TICKERS", "RefreshReport"]


def _since(parsed: ParsedPrices, start: str) -> ParsedPrices:
    """The parsed rows on or after `start`."""
    cut = np.datetime64(start, "ns")
    chunks = [ParsedChunk(chunk.codes[keep], chunk.dates[keep], {k: v[keep] for k, v in chunk.values.items()},
                          None if chunk.lines is None else chunk.lines[keep])
              for chunk in parsed.chunks for keep in [chunk.dates >= cut]]
    return ParsedPrices(parsed.tickers, chunks, parsed.issues)


def _later(day: str, days: int = 120) -> str:
    """A few months after `day`: a cache that starts later than this was filled from the later start."""
    return (pd.Timestamp(day) + timedelta(days=days)).strftime("%Y-%m-%d")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
