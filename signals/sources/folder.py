"""The offline data folder of DESIGN.md: `prices/<TICKER>.csv`, `constituents.csv`, `rates.csv`.

With an offline folder, "now" is the folder's last session: the folder is a replayable test bed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from signals.errors import DataError
from signals.market_data import DataIssue, MarketData
from signals.sources.csv_prices import ParsedPrices, RawFile, parse_files, read_raw_file
from signals.tickers import YIELD_TICKERS


def load_folder(folder: str | Path) -> MarketData:
    """Read a data folder into a `MarketData`; bad files become `DataIssue`s, never a crash."""
    root = Path(folder).expanduser()
    prices_dir = root / "prices"
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    if not prices_dir.is_dir():
        raise DataError(f"no prices/ folder in {root} (expected prices/<TICKER>.csv files)")
    issues: list[DataIssue] = []

    raws: list[RawFile] = []
    for path in sorted(prices_dir.glob("*.csv")):
        raw = read_raw_file(path, f"prices/{path.name}", issues)
        if raw is not None:
            raws.append(raw)
    if not raws:
        raise DataError(f"no usable price files in {prices_dir}")
    parsed = parse_files(raws, signed_tickers=YIELD_TICKERS)
    issues.extend(parsed.issues)
    close, high, low, volume = wide_frames(parsed)
    if close.empty:
        raise DataError(f"no valid price rows in {prices_dir}")

    constituents = _read_constituents(root / "constituents.csv", issues)
    listed = constituents["ticker"].tolist()
    with_data = set(close.columns[close.notna().any(axis=0).to_numpy()])
    members = tuple(t for t in listed if t in with_data)
    missing = tuple(t for t in listed if t not in with_data)
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        issues.append(
            DataIssue(
                "constituents.csv",
                None,
                f"{len(missing)} of {len(listed)} constituents have no price data and are left out of "
                f"breadth: {shown}",
            )
        )
    rates = _read_rates(root / "rates.csv", issues)
    return MarketData(
        close=close,
        high=high,
        low=low,
        volume=volume,
        rates=rates,
        constituents=constituents,
        members=members,
        missing_members=missing,
        issues=tuple(issues),
        source=str(root),
    )


def wide_frames(parsed: ParsedPrices) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Scatter the long rows into (session x ticker) arrays in one assignment per field."""
    # factorize (hashing) then sort the ~2,000 distinct dates: cheaper than sorting 900,000 rows
    first_codes, distinct = pd.factorize(parsed.dates.view("int64"))
    order = np.argsort(distinct)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    sessions = distinct[order].view("datetime64[ns]")
    date_codes = rank[first_codes]
    shape = (len(sessions), len(parsed.tickers))
    index = pd.DatetimeIndex(sessions, name="Date")
    columns = pd.Index(parsed.tickers, name="ticker")

    def wide(values: np.ndarray) -> np.ndarray:
        out = np.full(shape, np.nan)
        out[date_codes, parsed.ticker_codes] = values
        return out

    raw_close = wide(parsed.values["Close"])
    adjusted = wide(parsed.values["Adj Close"])
    # A file's Adj Close is used when it has one; the adjustment factor carries over to High/Low.
    has_adjusted = np.zeros(len(parsed.tickers), dtype=bool)
    has_adjusted[np.unique(parsed.ticker_codes[~np.isnan(parsed.values["Adj Close"])])] = True
    close = np.where(has_adjusted, adjusted, raw_close)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(has_adjusted, adjusted / raw_close, 1.0)
    high = wide(parsed.values["High"]) * factor
    low = wide(parsed.values["Low"]) * factor
    volume = wide(parsed.values["Volume"])

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=index, columns=columns, copy=False)

    return frame(close), frame(high), frame(low), frame(volume)


def _read_constituents(path: Path, issues: list[DataIssue]) -> pd.DataFrame:
    empty = pd.DataFrame({"ticker": pd.Series([], dtype=str), "name": pd.Series([], dtype=str),
                          "sector": pd.Series([], dtype=str)})
    if not path.is_file():
        issues.append(DataIssue(path.name, None, "not found: breadth metrics are unavailable"))
        return empty
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = [_constituent_column(name) for name in reader.fieldnames or []]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        issues.append(DataIssue(path.name, None, f"cannot be read ({exc}); breadth metrics are unavailable",
                                "error"))
        return empty
    if "ticker" not in header:
        issues.append(DataIssue(path.name, 1, "needs a 'ticker' column; breadth metrics are unavailable",
                                "error"))
        return empty
    if not rows:
        return empty
    frame = pd.DataFrame(rows)
    frame.columns = [_constituent_column(str(c)) for c in frame.columns]
    frame = frame.loc[:, ~frame.columns.duplicated()]
    frame["ticker"] = frame["ticker"].astype(str).str.strip().str.upper()
    blank = frame.index[frame["ticker"] == ""]
    if len(blank):
        issues.append(DataIssue(path.name, int(blank[0]) + 2, f"{len(blank)} rows without a ticker; skipped"))
    duplicated = frame.index[frame["ticker"].duplicated() & (frame["ticker"] != "")]
    if len(duplicated):
        issues.append(DataIssue(path.name, int(duplicated[0]) + 2,
                                f"ticker {frame.loc[duplicated[0], 'ticker']} listed twice; the first row is kept"))
    frame = frame[(frame["ticker"] != "") & ~frame["ticker"].duplicated()].reset_index(drop=True)
    for column in ("name", "sector"):
        if column not in frame:
            frame[column] = ""
    return frame


def _constituent_column(name: str) -> str:
    """`Ticker`, `Symbol`, `GICS Sector` ... read as ticker, sector ...: headers vary by where the list came from."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    aliases = {"symbol": "ticker", "security": "name", "gics_sector": "sector", "gics_sub_industry": "sub_industry"}
    return aliases.get(key, key)


def _read_rates(path: Path, issues: list[DataIssue]) -> pd.DataFrame:
    """FRED series in percent on FRED's own dates; blanks stay missing (FRED has none that day)."""
    empty = pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
    if not path.is_file():
        return empty
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError, OSError) as exc:
        issues.append(DataIssue(path.name, None, f"cannot be parsed ({exc}); rates come from ^IRX/^TNX only",
                                "error"))
        return empty
    frame.columns = [c.strip() for c in frame.columns]
    date_column = next((c for c in frame.columns if c.lower() in ("date", "observation_date")), None)
    if date_column is None:
        issues.append(DataIssue(path.name, 1, "needs a 'date' column; rates come from ^IRX/^TNX only", "error"))
        return empty
    dates = pd.to_datetime(frame[date_column].str.strip().str[:10], format="%Y-%m-%d", errors="coerce")
    bad_dates = np.flatnonzero(dates.isna().to_numpy())
    if len(bad_dates):
        issues.append(DataIssue(path.name, int(bad_dates[0]) + 2,
                                f"{len(bad_dates)} rows with an unparseable date; skipped"))
    values = {}
    for column in frame.columns:
        if column == date_column:
            continue
        text = frame[column].str.strip()
        numbers = pd.to_numeric(text.where(~text.isin(["", "."])), errors="coerce")
        bad = np.flatnonzero((numbers.isna() & ~text.isin(["", "."])).to_numpy())
        if len(bad):
            issues.append(DataIssue(path.name, int(bad[0]) + 2,
                                    f"{column}: {len(bad)} values are not numbers; treated as missing"))
        values[column] = numbers.to_numpy(dtype="float64")
    rates = pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date"))
    rates = rates[rates.index.notna()]
    if rates.index.has_duplicates:
        issues.append(DataIssue(path.name, None, "duplicate dates; the later row is kept"))
        rates = rates[~rates.index.duplicated(keep="last")]
    return rates.sort_index()
