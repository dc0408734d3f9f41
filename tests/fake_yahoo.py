"""A counting fake of `yfinance.download`, returning frames built the way `yfinance/multi.py` builds them.

multi.py: each ticker's `history()` frame (Open, High, Low, Close, Adj Close, Volume, index "Date"),
a failed ticker replaced by `utils.empty_df()` (all six columns NaN), all reindexed to the union of
dates, `pd.concat(..., keys=tickers, names=['Ticker', 'Price'])`, then for `group_by='column'`
`swaplevel(0, 1)` and `sort_index(level=0, axis=1)`. Failures are logged by the "yfinance" logger
("N Failed download(s):" then "['T1', 'T2']: <error repr>"), never raised; only a rate limit while
setting up the session raises `YFRateLimitError`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from yfinance.exceptions import YFRateLimitError

FIELDS = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]


def history_frame(close: pd.Series, adjust: float = 1.0) -> pd.DataFrame:
    frame = pd.DataFrame({"Open": close * 0.99, "High": close * 1.01, "Low": close * 0.98, "Close": close,
                          "Adj Close": close * adjust, "Volume": 1_000_000.0}, index=close.index)
    frame.index.name = "Date"
    return frame


def empty_df(index=None) -> pd.DataFrame:
    frame = pd.DataFrame(index=index if index is not None else [],
                         data={name: np.nan for name in FIELDS})
    frame.index.name = "Date"
    return frame


def as_download(frames: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """What download(group_by='column', multi_level_index=True) returns for these per-ticker frames."""
    index = None
    for frame in frames.values():
        if frame is not None and not frame.empty:
            index = frame.index if index is None else index.union(frame.index)
    index = index if index is not None else pd.DatetimeIndex([])
    dfs = {t: (f if f is not None and not f.empty else empty_df()).reindex(index) for t, f in frames.items()}
    data = pd.concat(dfs.values(), axis=1, sort=True, keys=dfs.keys(), names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    return data.sort_index(level=0, axis=1)


@dataclass
class FakeYahoo:
    """A market of full histories; `download` answers slices of it and counts what it sent."""

    histories: dict[str, pd.DataFrame]
    requests: int = 0
    rows_sent: int = 0
    calls: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    rate_limit_next: int = 0  # the next N calls: every ticker fails with YFRateLimitError (logged)
    raise_rate_limit_next: int = 0  # the next N calls raise YFRateLimitError (session setup)
    unknown: set[str] = field(default_factory=set)  # delisted / not found
    offline: bool = False  # no network: what yfinance 1.7 logs and returns then (measured on this machine)
    delay: float = 0.0  # seconds each call takes

    def download(self, tickers: list[str], **kwargs: Any) -> pd.DataFrame:
        self.requests += 1
        if self.delay:
            time.sleep(self.delay)
        if self.offline:
            return self._offline(tickers)
        start = kwargs["start"]
        self.calls.append((tuple(tickers), start))
        assert kwargs["group_by"] == "column" and kwargs["auto_adjust"] is False and kwargs["progress"] is False
        if self.raise_rate_limit_next:
            self.raise_rate_limit_next -= 1
            raise YFRateLimitError()
        logger = logging.getLogger("yfinance")
        frames: dict[str, pd.DataFrame | None] = {}
        errors: dict[str, str] = {}
        for ticker in tickers:
            if self.rate_limit_next:
                frames[ticker] = None
                errors[ticker] = repr(YFRateLimitError())
            elif ticker in self.unknown or ticker not in self.histories:
                frames[ticker] = None
                errors[ticker] = "YFTzMissingError('possibly delisted; no timezone found')"
            else:
                part = self.histories[ticker].loc[start:]
                if kwargs.get("end"):
                    part = part.loc[: pd.Timestamp(kwargs["end"]) - pd.Timedelta(days=1)]
                frames[ticker] = part
                self.rows_sent += len(part)
        if self.rate_limit_next:
            self.rate_limit_next -= 1
        if errors:
            logger.error("\n%.f Failed download%s:" % (len(errors), "s" if len(errors) > 1 else ""))
            grouped: dict[str, list[str]] = {}
            for ticker, error in errors.items():
                grouped.setdefault(error, []).append(ticker)
            for error, symbols in grouped.items():
                logger.error(f"{symbols}: " + error)
        return as_download(frames)

    def _offline(self, tickers: list[str]) -> pd.DataFrame:
        """Every ticker: "Could not resolve host", then "possibly delisted"; an empty frame back."""
        logger = logging.getLogger("yfinance")
        dns = ("Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com (Domain name not "
               "found). See https://curl.se/libcurl/c/libcurl-errors.html first for more details.")
        for ticker in tickers:
            logger.error(f"Failed to get ticker '{ticker}' reason: {dns}")
            logger.error(f"${ticker}: possibly delisted; no timezone found")
        logger.error("\n%d Failed downloads:" % len(tickers))
        logger.error(f"{tickers[:2]}: DNSError('{dns}')")
        logger.error(f"{tickers[2:]}: possibly delisted; no timezone found")
        return as_download({t: None for t in tickers})

    def append_session(self, day: str, growth: float = 1.01) -> None:
        for ticker, frame in self.histories.items():
            last = frame.iloc[-1]
            row = pd.DataFrame([last * growth], index=pd.DatetimeIndex([day], name="Date"))
            row["Volume"] = last["Volume"]
            self.histories[ticker] = pd.concat([frame, row])

    def split(self, ticker: str, ratio: float) -> None:
        """A split: Yahoo rewrites the whole price history of `ticker` (volume the other way)."""
        frame = self.histories[ticker].copy()
        for column in ("Open", "High", "Low", "Close", "Adj Close"):
            frame[column] = frame[column] / ratio
        frame["Volume"] = frame["Volume"] * ratio
        self.histories[ticker] = frame
