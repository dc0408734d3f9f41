"""Small market data the tests build themselves: frames in memory, or a data folder on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from signals.market_data import MarketData
from signals.metrics import Metrics, compute_metrics
from signals.metrics.group import Computed


def sessions(count: int, start: str = "2020-01-02") -> pd.DatetimeIndex:
    """Weekdays: enough for in-memory frames that never meet the loader's NYSE calendar."""
    return pd.bdate_range(start, periods=count, name="Date")


def nyse_sessions(count: int, start: str = "2020-01-02") -> pd.DatetimeIndex:
    """Real NYSE sessions (no holidays): for data that goes through a loader, as real feeds do."""
    from signals.calendar import sessions_between

    every = sessions_between(pd.Timestamp(start), pd.Timestamp(start) + pd.Timedelta(days=2 * count + 30))
    return pd.DatetimeIndex(every[:count], name="Date")


def market(
    close: pd.DataFrame,
    members: list[str] | None = None,
    high: pd.DataFrame | None = None,
    low: pd.DataFrame | None = None,
    volume: pd.DataFrame | None = None,
    rates: pd.DataFrame | None = None,
) -> MarketData:
    """A MarketData from wide frames; members default to every column not an index/ETF/yield."""
    members = members if members is not None else [c for c in close.columns if not _is_market_ticker(c)]
    empty = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    return MarketData(
        close=close.astype("float64"),
        high=high.reindex(columns=close.columns) if high is not None else empty,
        low=low.reindex(columns=close.columns) if low is not None else empty,
        volume=volume.reindex(columns=close.columns) if volume is not None else empty,
        rates=rates if rates is not None else pd.DataFrame(index=pd.DatetimeIndex([], name="date")),
        constituents=pd.DataFrame({"ticker": members, "name": members, "sector": "Test"}),
        members=tuple(members),
    )


def _is_market_ticker(ticker: str) -> bool:
    return ticker.startswith("^") or ticker in {"SPY", "RSP", "IWM", "QQQ", "IJR"}


def random_walk(index: pd.DatetimeIndex, tickers: list[str], seed: int = 7, start: float = 100.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0004, 0.015, size=(len(index), len(tickers)))
    return pd.DataFrame(start * np.exp(np.cumsum(steps, axis=0)), index=index, columns=tickers)


def write_folder(
    root: Path,
    prices: dict[str, str],
    constituents: str | None = "ticker,name,sector\n",
    rates: str | None = None,
    universes: dict[str, str] | None = None,
) -> Path:
    """A data folder from raw CSV texts (so tests can write exactly the malformed file they need)."""
    (root / "prices").mkdir(parents=True, exist_ok=True)
    for ticker, text in prices.items():
        (root / "prices" / f"{ticker}.csv").write_text(text, encoding="utf-8")
    if constituents is not None:
        (root / "constituents.csv").write_text(constituents, encoding="utf-8")
    if rates is not None:
        (root / "rates.csv").write_text(rates, encoding="utf-8")
    for name, text in (universes or {}).items():
        (root / "universes").mkdir(exist_ok=True)
        (root / "universes" / f"{name}.csv").write_text(text, encoding="utf-8")
    return root


def csv_text(frame: pd.DataFrame) -> str:
    """A frame with a Date index as yfinance's CSV layout."""
    return frame.rename_axis("Date").to_csv(date_format="%Y-%m-%d", float_format="%.6f")


class StaticFeed:
    """A data feed over a MarketData held in memory (the tick's feed seam), with a chosen outcome."""

    live = False

    def __init__(self, data: MarketData, outcome: str = "complete", notes: tuple[str, ...] = ()) -> None:
        self.data = data
        self.outcome = outcome
        self.notes = notes

    def update(self, expected_session, progress=None):
        from bot.runtime.feeds import FeedUpdate

        return FeedUpdate(self.outcome, self.notes)

    def load(self) -> MarketData:
        return self.data

    def status_lines(self, detail: bool = False) -> list[str]:
        return ["Source: test data"]

    def record_history(self) -> MarketData | None:
        return None

    def close(self) -> None:
        pass


def blank_metrics(count: int) -> Metrics:
    """Metrics with every column present and every value unknown, for a test to fill in."""
    index = sessions(count)
    close = pd.DataFrame({"A": 1.0, "SPY": 1.0, "IWM": 1.0, "RSP": 1.0, "^GSPC": 1.0}, index=index)
    metrics = compute_metrics(market(close, members=["A"]))
    nan = {name: Computed.of_frame(computed.frame.astype("float64") * np.nan, computed.facts)
           for name, computed in metrics.computed.items()}
    breadths = {"sp500": nan["breadth"], "russell2000": Computed.of_frame(nan["breadth"].frame.copy(), None)}
    return Metrics(index, nan, breadths)
