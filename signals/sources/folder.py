"""The offline data folder of DESIGN.md: `prices/<TICKER>.csv`, `constituents.csv`, `rates.csv`,
`universes/<name>.csv`.

With an offline folder, "now" is the folder's last session: the folder is a replayable test bed.
"""

from __future__ import annotations

from typing import Any, TypeVar

import csv
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from signals.calendar import session_rules
from signals.errors import DataError
from signals.market_data import DataIssue, MarketData
from signals.sources.align import Aligned, SessionGrid, align
from signals.sources.csv_prices import ChunkStream, ParsedChunk, ParsedPrices, parse_paths
from signals.sources.folder_cache import FolderCache, Stamp, StoredRows, stamps
from signals.tickers import WATCHED, YIELD_TICKERS

T = TypeVar("T")


def load_folder(folder: str | Path, cache_dir: Path | None = None, key: dict[str, Any] | None = None,
                cache: FolderCache | None = None) -> MarketData:
    """Read a data folder into a `MarketData`; bad files become `DataIssue`s, never a crash.

    With `cache_dir` (or a `cache` of the caller's, which may write behind), a parsed copy is kept
    there (`folder_cache.py`): an unchanged folder loads from it whole, and a changed one re-parses
    only the files that changed. `key` is the folder's `folder_key` when the caller has just taken it
    (one stat per file is enough).
    """
    root = Path(folder).expanduser()
    prices_dir = root / "prices"
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    if not prices_dir.is_dir():
        raise DataError(f"no prices/ folder in {root} (expected prices/<TICKER>.csv files)")
    if cache is None:
        if cache_dir is None:
            return _load_streamed(root, price_files(root))
        cache = FolderCache(Path(cache_dir), root)
    if key is None:
        key = folder_key(root)
    cached = cache.load_result(key)
    if isinstance(cached, MarketData):
        return cached
    price_paths = [path for path in price_files(root) if path.name in key["prices"]]
    price_stamps = {name: Stamp(*stamp) for name, stamp in key["prices"].items()}
    previous = cache.load_rows()
    if previous is None:
        # The rows are kept once the folder has changed since a load (its result is there, stale): a folder
        # loaded once and never changed (a test bed, a first answer) is written once, as its result, not
        # twice (the rows are as large again; writing them was a tenth of a first load's time).
        data = _load_streamed(root, price_paths, cache if cache.has_result() else None, price_stamps)
    else:
        data = assemble(root, _while_the_calendar_loads(
            lambda: _parse_changed(cache, previous, price_paths, price_stamps)))
    data.first_closes()  # in the copy: a command that loads it maps only the columns it reads, not all of them
    cache.save_result(key, data)
    return data


def _load_streamed(root: Path, paths: list[Path], rows_to: FolderCache | None = None,
                   current: dict[str, Stamp] | None = None) -> MarketData:
    """Every file parsed, each chunk scattered into the session grid while the next parse (and, with
    `rows_to`, its rows kept there as they come, under the files' `current` stamps): a load holds the
    grid and a few chunks, and its scattering is not a step of its own after the parse."""
    items = [(path, f"prices/{path.name}") for path in paths]
    # The calendar loads while the files' ends are read (waits on the disk), not while they parse: its
    # Python beside the parsing threads held them up (they need the GIL between calls).
    stream = _while_the_calendar_loads(lambda: ChunkStream(items, YIELD_TICKERS))
    grid = SessionGrid(len(items), [display for _, display in items], stream.span)
    count = 0
    for chunk in stream:
        if rows_to is not None:
            rows_to.save_chunk(count, chunk)
        grid.add(chunk)
        count += 1
    issues = _in_file_order(stream.issues, paths)
    if rows_to is not None and current is not None:
        read = {paths[index].name for index in stream.read}
        rows_to.save_manifest(current, [path.name for path in paths], read, count, _by_file(issues))
    columns = stream.columns()
    tickers = [stream.read[index] for index in columns]
    aligned = grid.aligned(tickers, YIELD_TICKERS, WATCHED, columns)
    return _assembled(root, aligned, issues)


def _while_the_calendar_loads(work: Callable[[], T]) -> T:
    """Importing exchange_calendars and reading XNYS's rules takes 0.1 s of Python: it runs on a thread
    while `work` waits on the disk, and is ready for the grid."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        calendar = pool.submit(session_rules)
        done = work()
        calendar.result()
    return done


def price_files(folder: Path) -> list[Path]:
    """The folder's price files in name order (a sort on names: on Paths it costs 100 ms for 2,244)."""
    return sorted((folder / "prices").glob("*.csv"), key=lambda path: path.name)


def folder_key(folder: str | Path, price_paths: list[Path] | None = None) -> dict[str, Any]:
    """Every file's size and modification time: equal keys mean an unchanged folder (one stat per file)."""
    root = Path(folder).expanduser()
    if price_paths is None:
        price_paths = price_files(root)
    others = [root / "constituents.csv", root / "rates.csv",
              *sorted((root / "universes").glob("*.csv"), key=lambda path: path.name)]
    return {"source": str(root),
            "prices": {n: [s.size, s.mtime_ns] for n, s in stamps(price_paths).items()},
            "others": {str(p.relative_to(root)): [s.size, s.mtime_ns] for p in others for s in stamps([p]).values()}}


def _parse_changed(cache: FolderCache, previous: StoredRows, paths: list[Path],
                   current: dict[str, Stamp]) -> ParsedPrices:
    """Parse the files whose stamp changed; take every other file's rows from the last parse."""
    unchanged = {name for name, stamp in current.items() if previous.stamps.get(name) == stamp}
    fresh = [(p, f"prices/{p.name}") for p in paths if p.name not in unchanged]
    parsed = parse_paths(fresh, YIELD_TICKERS, [])
    issues = {name: previous.issues.get(name, []) for name in unchanged}
    for name, found in _by_file(parsed.issues).items():
        issues[name] = found
    # every file that could be read, in the folder's order; codes renumbered to that order
    by_ticker = {p.stem.upper(): p.name for p, _ in fresh}
    fresh_files = [by_ticker[t] for t in parsed.tickers]
    read = set(fresh_files) | (previous.read & unchanged)
    files = [p.name for p in paths if p.name in read]
    position = {name: i for i, name in enumerate(files)}
    chunks: list[ParsedChunk] = []
    if previous.coded:
        old_position = np.array([position.get(name, -1) if name in unchanged else -1 for name in previous.coded],
                                dtype=np.int32)
        for chunk in previous.chunks:
            codes = old_position[chunk.codes]
            keep = codes >= 0
            if keep.any():
                chunks.append(ParsedChunk(codes[keep], chunk.dates[keep],
                                          {k: v[keep] for k, v in chunk.values.items()},
                                          None if chunk.lines is None else chunk.lines[keep]))
    new_position = np.array([position[name] for name in fresh_files], dtype=np.int32)
    for chunk in parsed.chunks:
        chunk.codes = new_position[chunk.codes] if len(new_position) else chunk.codes
        chunks.append(chunk)
    if fresh or set(previous.stamps) != set(current):
        cache.save_rows(current, files, set(files), chunks, issues)
    tickers = [Path(name).stem.upper() for name in files]
    ordered = [issue for p in paths for issue in issues.get(p.name, [])]
    return ParsedPrices(tickers, chunks, ordered)


def _by_file(issues: list[DataIssue]) -> dict[str, list[DataIssue]]:
    """A price file's issues under its file name (the rows cache keeps them with the file's stamp)."""
    found: dict[str, list[DataIssue]] = {}
    for issue in issues:
        found.setdefault(issue.file.removeprefix("prices/"), []).append(issue)
    return found


def _in_file_order(issues: list[DataIssue], paths: list[Path]) -> list[DataIssue]:
    """Parse issues in the folder's file order, whichever chunk (files of one header) found them."""
    found = _by_file(issues)
    return [issue for path in paths for issue in found.get(path.name, [])]


def assemble(root: Path, parsed: ParsedPrices, source: str | None = None) -> MarketData:
    """Parsed price rows plus the folder's lists and rates, aligned into a `MarketData`: the one
    assembly for a data folder's rows parsed again in part and for the packaged sample (which stores
    parsed rows)."""
    if not parsed.tickers:
        raise DataError(f"no usable price files in {root / 'prices'}")
    names = _names_of(parsed.tickers, price_files(root))
    aligned = align(parsed, names, signed=YIELD_TICKERS, watched=WATCHED)
    return _assembled(root, aligned, parsed.issues, source)


def _assembled(root: Path, aligned: Aligned, parse_issues: list[DataIssue], source: str | None = None) -> MarketData:
    prices_dir = root / "prices"
    issues: list[DataIssue] = list(parse_issues)
    if not len(aligned.close.columns):
        raise DataError(f"no usable price files in {prices_dir}")
    issues.extend(aligned.issues)
    if aligned.close.empty or not aligned.close.notna().any().any():
        said = "; ".join(str(issue) for issue in issues[:3])
        raise DataError(f"no valid price rows in {prices_dir}" + (f" ({said})" if said else ""))

    constituents = read_universe_list(root / "constituents.csv", issues, required=True)
    lists = {"sp500": constituents}
    universes_dir = root / "universes"
    if universes_dir.is_dir():
        for path in sorted(universes_dir.glob("*.csv")):
            name = path.stem.lower()
            if name != "sp500":
                lists[name] = read_universe_list(path, issues, display=f"universes/{path.name}")
    with_data = set(aligned.close.columns[aligned.close.notna().any(axis=0).to_numpy()])
    universes: dict[str, tuple[str, ...]] = {}
    missing: tuple[str, ...] = ()
    for name, listing in lists.items():
        display = "constituents.csv" if name == "sp500" else f"universes/{name}.csv"
        universes[name], absent = members_with_data(listing, with_data, display, issues)
        if name == "sp500":
            missing = absent
    rates = _read_rates(root / "rates.csv", issues)
    return MarketData(
        close=aligned.close,
        high=aligned.high,
        low=aligned.low,
        volume=aligned.volume,
        rates=rates,
        constituents=constituents,
        members=universes["sp500"],
        missing_members=missing,
        issues=tuple(issues),
        source=source or str(root),
        carried=aligned.carried,
        suspect=aligned.suspect,
        universes=universes,
        universe_lists=lists,
        price_basis=aligned.price_basis,
    )


def _names_of(tickers: list[str], paths: list[Path]) -> list[str]:
    """The file name shown for each parsed ticker (a ticker is its file's stem, upper case)."""
    by_ticker = {path.stem.upper(): f"prices/{path.name}" for path in paths}
    return [by_ticker.get(ticker, f"prices/{ticker}.csv") for ticker in tickers]


def members_with_data(listing: pd.DataFrame, with_data: set[str], display: str,
                      issues: list[DataIssue]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(members that have prices, members that have none); the latter reported, never counted as zero."""
    listed = listing["ticker"].tolist()
    members = tuple(t for t in listed if t in with_data)
    missing = tuple(t for t in listed if t not in with_data)
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        issues.append(DataIssue(display, None, f"{len(missing)} of {len(listed)} constituents have no price data "
                                f"and are left out of breadth: {shown}"))
    return members, missing


def read_universe_list(path: Path, issues: list[DataIssue], required: bool = False,
                       display: str | None = None) -> pd.DataFrame:
    """A universe's `ticker,name,sector[,weight,...]` list; problems become issues, never a crash."""
    return _read_constituents(path, issues, required, display or path.name)


def _read_constituents(path: Path, issues: list[DataIssue], required: bool = True,
                       display: str | None = None) -> pd.DataFrame:
    empty = pd.DataFrame({"ticker": pd.Series([], dtype=str), "name": pd.Series([], dtype=str),
                          "sector": pd.Series([], dtype=str)})
    shown = display or path.name
    if not path.is_file():
        if required:
            issues.append(DataIssue(shown, None, "not found: breadth metrics are unavailable"))
        return empty
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = [_constituent_column(name) for name in reader.fieldnames or []]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        issues.append(DataIssue(shown, None, f"cannot be read ({exc}); breadth metrics are unavailable",
                                "error"))
        return empty
    if "ticker" not in header:
        issues.append(DataIssue(shown, 1, "needs a 'ticker' column; breadth metrics are unavailable",
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
        issues.append(DataIssue(shown, int(blank[0]) + 2, f"{len(blank)} rows without a ticker; skipped"))
    duplicated = frame.index[frame["ticker"].duplicated() & (frame["ticker"] != "")]
    if len(duplicated):
        issues.append(DataIssue(shown, int(duplicated[0]) + 2,
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
