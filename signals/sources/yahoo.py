"""Yahoo Finance daily bars through yfinance 1.x, with every surprise of its return shapes handled.

What yfinance does (read in `yfinance/multi.py`):
- `download()` returns MultiIndex columns `(Price, Ticker)` with `group_by="column"`, also for a
  single ticker (`multi_level_index=True`), dates time-zone-naive with `ignore_tz` left to default;
- a ticker that fails does not raise: it becomes an all-NaN column, and the reason is only logged
  ("1 Failed download: ['XYZ']: YFRateLimitError('Too Many Requests ...')") by the `yfinance`
  logger. So the logger is listened to during the call to tell a rate limit from a delisted symbol;
- a rate limit while setting up the session does raise `YFRateLimitError`;
- with nothing at all it returns an empty frame.

Every argument is passed explicitly (`auto_adjust=False`: we store both Close and Adj Close, the
layout of the offline folder). `download` itself is injectable, so tests hand in frames shaped
exactly like these, including the failure shapes.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

FIELDS = ("Open", "High", "Low", "Close", "Adj Close", "Volume")
DownloadFunction = Callable[..., pd.DataFrame | None]


class YahooRateLimited(Exception):
    """Yahoo answered "Too Many Requests": back off before asking again."""


class YahooUnreachable(Exception):
    """No connection to Yahoo at all (DNS, refused, timeouts): no ticker is to blame."""


# what yfinance logs when the request never reached Yahoo (curl's codes: 6 DNS, 7 refused, 28 timeout,
# 35 TLS, 56 receive failure)
_CONNECTION_FAILURE = re.compile(r"curl: \((?:5|6|7|28|35|52|56)\)|Could not resolve host|DNSError|"
                                 r"Failed to connect|Connection refused|Network is unreachable|"
                                 r"ConnectionError|ConnectTimeout|Cookie/crumb fetch failed", re.I)


def connection_failure(reason: str) -> str | None:
    """A short reason when a logged failure means Yahoo was never reached, else None."""
    if not _CONNECTION_FAILURE.search(reason):
        return None
    host = re.search(r"resolve host:? ([\w.-]+)", reason)
    if host:
        return f"could not resolve {host.group(1).rstrip('.')}"
    code = re.search(r"curl: \((\d+)\) (.*?)(?: after \d| \(|\. See|$)", reason)
    return f"curl error {code.group(1)}: {code.group(2).strip()}" if code else reason.split(". See")[0][:120]


@dataclass
class Batch:
    """One download's outcome, per ticker."""

    bars: dict[str, pd.DataFrame] = field(default_factory=dict)  # ticker -> Date-indexed FIELDS
    failed: dict[str, str] = field(default_factory=dict)  # ticker -> reason
    rate_limited: bool = False


def _real_download(tickers: list[str], **kwargs: Any) -> pd.DataFrame | None:
    import multitasking
    import yfinance

    # yfinance's per-ticker threads (multitasking) are not daemons by default: a stop during a download
    # on a hanging network would wait for each of their 20-30 s timeouts (minutes) before the process
    # could exit. As daemons they are left behind with the tick (bot/runtime/worker.py).
    multitasking.set_daemon(True)
    return yfinance.download(tickers, **kwargs)


class _FailureListener(logging.Handler):
    """Collects the per-ticker failures yfinance only logs."""

    pattern = re.compile(r"\[(?P<tickers>[^\]]*)\]:\s*(?P<reason>.+)", re.S)

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.failures: dict[str, str] = {}
        self.unreachable: str | None = None  # a reason, when a request never reached Yahoo

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.unreachable = self.unreachable or connection_failure(message)
        match = self.pattern.search(message)
        if not match:
            return
        for ticker in re.findall(r"'([^']+)'", match.group("tickers")):
            self.failures[ticker.upper()] = match.group("reason").strip()


YAHOO_HOST = "https://query2.finance.yahoo.com/"
PROBE_SECONDS = 10.0


def probe_yahoo(timeout: float = PROBE_SECONDS) -> str | None:
    """Why Yahoo cannot be reached at all (no answer within `timeout`, refused, DNS), else None.

    yfinance makes several requests per ticker (its time zone, then the bars), each waiting out its
    own 20-30 s timeout: on a network that hangs, one batch of 4 tickers took 220 s and a refresh
    eight minutes before it said anything. One request with one deadline says it in seconds. Any HTTP
    answer, whatever its status, means Yahoo is there (the proxies are the environment's, as curl's).
    """
    import httpx

    try:
        httpx.head(YAHOO_HOST, timeout=timeout)
    except httpx.TransportError as exc:
        return f"no answer from {YAHOO_HOST.split('/')[2]} within {timeout:g} s ({type(exc).__name__})"
    return None


class YahooClient:
    def __init__(self, download: DownloadFunction | None = None, threads: int = 4, timeout: float = 20.0,
                 probe: Callable[[], str | None] | None = None) -> None:
        self._download = download or _real_download
        self.threads = threads
        self.timeout = timeout
        # Yahoo itself is probed before the first real download, and again after one that never reached it
        self._probe = probe if probe is not None else (probe_yahoo if download is None else None)
        self._reached = False

    def fetch(self, tickers: list[str], start: str, end: str | None = None) -> Batch:
        """Daily bars of `tickers` from `start` (inclusive) to `end` (exclusive, yfinance's rule)."""
        if self._probe is not None and not self._reached:
            unreachable = self._probe()
            if unreachable:
                raise YahooUnreachable(unreachable)
            self._reached = True
        try:
            return self._fetch(tickers, start, end)
        except YahooUnreachable:
            self._reached = False
            raise

    def _fetch(self, tickers: list[str], start: str, end: str | None) -> Batch:
        listener = _FailureListener()
        yahoo_logger = logging.getLogger("yfinance")
        yahoo_logger.addHandler(listener)
        # yfinance logs every failed ticker at ERROR (2,455 lines for a refresh without network): the
        # listener reads them and the refresh says what they mean, in one line
        propagate, yahoo_logger.propagate = yahoo_logger.propagate, False
        if self._download is _real_download:
            import yfinance  # noqa: F401  (its import puts a "default" filter first: ours must come after it)
        try:
            with warnings.catch_warnings():
                # yfinance 1.7 still calls pandas with inplace=, deprecated in pandas 3
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
                warnings.filterwarnings("ignore", message=".*inplace.*")
                frame = self._download(
                    tickers, start=start, end=end, interval="1d", auto_adjust=False, actions=False,
                    group_by="column", multi_level_index=True, progress=False, threads=self.threads,
                    ignore_tz=True, repair=False, keepna=False, timeout=self.timeout,
                )
        except Exception as exc:
            if type(exc).__name__ == "YFRateLimitError" or "Too Many Requests" in str(exc):
                raise YahooRateLimited(str(exc)) from exc
            unreachable = connection_failure(f"{type(exc).__name__}: {exc}")
            if unreachable:
                raise YahooUnreachable(unreachable) from exc
            raise
        finally:
            yahoo_logger.removeHandler(listener)
            yahoo_logger.propagate = propagate
        batch = split_download(frame, tickers)
        if listener.unreachable and not batch.bars:
            raise YahooUnreachable(listener.unreachable)
        for ticker, reason in listener.failures.items():
            if ticker not in batch.bars:  # the logged reason says more than "all NaN"
                batch.failed[ticker] = reason
        batch.rate_limited = any("YFRateLimitError" in r or "Too Many Requests" in r for r in batch.failed.values())
        return batch


def split_download(frame: pd.DataFrame | None, tickers: list[str]) -> Batch:
    """Per-ticker bar frames from any shape `download()` returns; missing and all-NaN are failures."""
    batch = Batch()
    if frame is None or frame.empty:
        batch.failed.update({t: "no data returned" for t in tickers})
        return batch
    if not isinstance(frame.columns, pd.MultiIndex):  # multi_level_index=False with one ticker
        frame = pd.concat({tickers[0]: frame}, axis=1, names=["Ticker", "Price"]).swaplevel(0, 1, axis=1)
    if not set(frame.columns.get_level_values(0)) & set(FIELDS):  # group_by="ticker" layout
        frame = frame.swaplevel(0, 1, axis=1)
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    index = index.normalize().rename("Date")
    present = set(frame.columns.get_level_values(0))
    if "Close" not in present:
        batch.failed.update({t: "no Close in the download" for t in tickers})
        return batch
    # one (date x ticker) array per field, then a cheap column pick per ticker (no xs() per ticker)
    arrays, positions = {}, {}
    for name in FIELDS:
        if name in present:
            part = frame[name]
            positions[name] = {str(c).upper(): i for i, c in enumerate(part.columns)}
            arrays[name] = part.apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    duplicated = index.duplicated(keep="last")
    for ticker in tickers:
        key = ticker.upper()
        if key not in positions["Close"]:
            batch.failed[ticker] = "not in the download"
            continue
        close = arrays["Close"][:, positions["Close"][key]]
        rows = ~np.isnan(close) & ~duplicated
        if not rows.any():
            batch.failed[ticker] = "no prices (all NaN)"
            continue
        columns = {}
        for name in FIELDS:
            at = positions.get(name, {}).get(key)
            columns[name] = arrays[name][rows, at] if at is not None else np.nan
        batch.bars[ticker] = pd.DataFrame(columns, index=index[rows]).sort_index()
    return batch
