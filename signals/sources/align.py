"""From parsed rows to the engine's session grid: the one place real feeds' quirks are handled.

Both sources (the offline folder and the live cache) hand their long rows to `align`, so one rule
decides, for both, what a session is and what a bad bar is:

- sessions are the NYSE's within the data's span; a row on any other date (a holiday row that
  Yahoo's ^VIX or a yield index carries) is dropped with one warning per file naming the dates;
- a trailing session that most files lack (a partial refresh, a file one session ahead) is not
  "now" yet: it is held back with a warning naming it;
- a close missing inside a ticker's life is carried forward for at most `MAX_CARRY` sessions
  (it then moves neither up nor down), and each gap is reported once; a longer gap leaves the
  ticker undefined until its windows refill. The carry is causal: on the day a bar is missing
  nobody knows whether it comes back, so appending later data never changes an earlier session.
  A second session in a row that no file has a bar for is a gap in the data: nothing is carried
  into it;
- zero volume on a day the price moved is missing volume, not zero;
- a close 10x off the bar before it is a bad print and is removed on its own day, judged with
  earlier bars only (no rule here reads a later bar): the next bar, back near the one before the
  print, is good; a 10x move that holds is accepted from its second session;
- a session on which a watched index or ETF jumps by half or more in a day, or on which most
  files repeat the previous session's bar (a stale refresh), is *suspect*: its metrics are
  reported, but no detector fires on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
import pandas as pd

from signals.calendar import sessions_between
from signals.market_data import DataIssue, MarketData
from signals.parallel import in_order
from signals.sources.csv_prices import ParsedChunk, ParsedPrices

MAX_CARRY = 5  # sessions a missing close is carried forward
COMPLETE_SHARE = 0.90  # share of the files that had the previous session which must have a session
BAD_PRINT_FACTOR = 10.0  # a close this many times (or this fraction of) the previous one is a bad print
WATCHED_MOVE_FACTOR = 1.5  # an index/ETF move this large in one session is not believable
STALE_SHARE = 0.5  # share of files repeating yesterday's bar that makes a session a stale refresh
STALE_MIN_FILES = 10
_LISTED = 5  # dates named in one warning
T = TypeVar("T")
_BLOCK = 512  # columns per block where a rule needs temporaries as large as the data


def _each_block(columns: int, work: Callable[[slice], T]) -> list[T]:
    """`work` over blocks of columns, side by side (signals/parallel.py), results in block order."""
    return in_order(work, [slice(first, first + _BLOCK) for first in range(0, columns, _BLOCK)])


ADJUSTED_BASIS = "adjusted"  # the closes are Adj Close wherever a file has one (as the live path stores them)
CLOSE_BASIS = "close (adjustment not stated)"  # Close-only files: dividend-adjusted or not, nothing says


@dataclass(frozen=True)
class Aligned:
    close: pd.DataFrame
    high: pd.DataFrame
    low: pd.DataFrame
    volume: pd.DataFrame
    carried: pd.DataFrame  # bool: the close was missing and carried forward
    suspect: pd.Series  # session -> why no detector may fire on it ("" when fine)
    issues: list[DataIssue]
    price_basis: str = CLOSE_BASIS


def align(
    parsed: ParsedPrices,
    names: list[str],
    signed: frozenset[str] = frozenset(),
    watched: tuple[str, ...] = (),
) -> Aligned:
    """Scatter `parsed` onto the NYSE session grid, applying the rules of the module docstring.

    `names` are the files as shown to the user (one per ticker of `parsed`); `signed` tickers are
    yields (no price rules); `watched` are the indices and ETFs the detectors read.
    """
    grid = SessionGrid(len(parsed.tickers), names, parsed.date_range())
    while parsed.chunks:  # each chunk is dropped once scattered: memory holds the grid, not two copies
        grid.add(parsed.chunks.pop(0))
    return grid.aligned(list(parsed.tickers), signed, watched)


class SessionGrid:
    """The (session x column) arrays that parsed chunks are scattered into as they come: a chunk can be
    dropped once scattered, so a load holds the grid and a chunk or two, never every row twice, and
    scattering runs while the next chunks parse (`ChunkStream`).

    The grid is sized by a span known before the rows (the files' first and last dates, or the rows'
    own). A chunk with a row outside it waits, and `aligned` fits the grid to the rows' real span
    first: the result is the same whatever the span given, only the work differs.
    """

    def __init__(self, columns: int, names: list[str], span: tuple[np.datetime64, np.datetime64] | None) -> None:
        self.names = names  # each column's file as shown to the user
        self._columns = columns
        self._seen: tuple[np.datetime64, np.datetime64] | None = None  # the rows' span so far
        self._added = 0
        self._waiting: list[tuple[int, ParsedChunk]] = []
        self._issues: list[tuple[int, DataIssue]] = []  # by chunk number: reported in the chunks' order
        self.adjusted_files = np.zeros(columns, dtype=bool)
        self._allocate(sessions_between(*span) if span is not None else pd.DatetimeIndex([], name="Date"))

    def _allocate(self, sessions: pd.DatetimeIndex) -> None:
        self.sessions = sessions
        shape = (len(sessions), self._columns)
        self.close, self.high, self.low, self.volume = (np.full(shape, np.nan) for _ in range(4))
        self.has_rows = np.zeros(len(sessions), dtype=bool)  # a row, even one whose close was unusable

    def add(self, chunk: ParsedChunk) -> None:
        number, self._added = self._added, self._added + 1
        if not len(chunk.dates):
            return
        low, high = chunk.dates.min(), chunk.dates.max()
        self._seen = (low, high) if self._seen is None else (min(self._seen[0], low), max(self._seen[1], high))
        grid = self.sessions
        if not len(grid) or low < grid[0].to_datetime64() or high > grid[-1].to_datetime64():
            self._waiting.append((number, chunk))
            return
        self._scatter(number, chunk)

    def _scatter(self, number: int, chunk: ParsedChunk) -> None:
        rows, on_session = _session_rows(chunk.dates, self.sessions)
        found: list[DataIssue] = []
        _report_off_calendar(chunk, self.names, ~on_session, found)
        self._issues.extend((number, issue) for issue in found)
        rows, codes = rows[on_session], chunk.codes[on_session]
        self.has_rows[rows] = True
        raw_close = chunk.values["Close"][on_session]
        adjusted = chunk.values.get("Adj Close")
        if adjusted is not None:
            # A file's Adj Close is used when it has one; the adjustment factor carries over to High/Low.
            adjusted = adjusted[on_session]
            has_adjusted = np.zeros(self._columns, dtype=bool)
            has_adjusted[codes[~np.isnan(adjusted)]] = True
            self.adjusted_files |= has_adjusted
            uses = has_adjusted[codes]
            with np.errstate(invalid="ignore", divide="ignore"):
                factor = np.where(uses, adjusted / raw_close, 1.0)
            self.close[rows, codes] = np.where(uses, adjusted, raw_close)
        else:
            factor = None
            self.close[rows, codes] = raw_close
        for name, target in (("High", self.high), ("Low", self.low)):
            if name in chunk.values:
                part = chunk.values[name][on_session]
                target[rows, codes] = part if factor is None else part * factor
        if "Volume" in chunk.values:
            self.volume[rows, codes] = chunk.values["Volume"][on_session]

    def _fit(self) -> bool:
        """Fit the grid to the rows' span and place the chunks that waited; False when there are no sessions."""
        if self._seen is None:
            return False
        sessions = sessions_between(*self._seen)
        if not sessions.equals(self.sessions):
            self._reshape(sessions)
        if not len(sessions):  # every row is on a holiday or weekend: each file's rows are warned of, no grid
            for number, chunk in self._waiting:
                found: list[DataIssue] = []
                _report_off_calendar(chunk, self.names, np.ones(len(chunk.dates), dtype=bool), found)
                self._issues.extend((number, issue) for issue in found)
            return False
        for number, chunk in self._waiting:
            self._scatter(number, chunk)
        self._waiting = []
        return True

    def _reshape(self, sessions: pd.DatetimeIndex) -> None:
        """Onto `sessions`: the rows of the grid within them are kept (a view when they are a run of it)."""
        at = self.sessions.get_indexer(sessions)
        old = (self.close, self.high, self.low, self.volume, self.has_rows)
        if len(at) and (at >= 0).all() and (np.diff(at) == 1).all():
            run = slice(int(at[0]), int(at[-1]) + 1)
            self.sessions = sessions
            self.close, self.high, self.low, self.volume, self.has_rows = (array[run] for array in old)
            return
        self._allocate(sessions)
        kept = at >= 0
        for target, source in zip((self.close, self.high, self.low, self.volume, self.has_rows), old):
            target[kept] = source[at[kept]]

    def aligned(self, tickers: list[str], signed: frozenset[str] = frozenset(), watched: tuple[str, ...] = (),
                columns: np.ndarray | None = None) -> Aligned:
        """The grid with the rules of the module docstring applied, its columns named `tickers`;
        `columns` (positions, in order) keeps only those columns (the files that could be read)."""
        index = pd.Index(tickers, name="ticker")
        fitted = self._fit()
        issues = [issue for _, issue in sorted(self._issues, key=lambda numbered: numbered[0])]
        if not fitted:
            empty = pd.DataFrame(index=pd.DatetimeIndex([], name="Date"), columns=index, dtype="float64")
            return Aligned(empty, empty, empty, empty, empty.astype(bool), pd.Series([], dtype=object), issues)
        close, high, low, volume = self.close, self.high, self.low, self.volume
        names, adjusted = self.names, self.adjusted_files
        if columns is not None and len(columns) < self._columns:  # a file that could not be read: a copy
            close, high, low, volume = close[:, columns], high[:, columns], low[:, columns], volume[:, columns]
            names, adjusted = [names[column] for column in columns], adjusted[columns]
        return _apply_rules(self.sessions, close, high, low, volume, self.has_rows, adjusted, index, names, signed,
                            watched, issues)


def _apply_rules(sessions: pd.DatetimeIndex, close: np.ndarray, high: np.ndarray, low: np.ndarray,
                 volume: np.ndarray, has_rows: np.ndarray, adjusted_files: np.ndarray, columns: pd.Index,
                 names: list[str], signed: frozenset[str], watched: tuple[str, ...],
                 issues: list[DataIssue]) -> Aligned:
    tickers = list(columns)
    keep = _complete_sessions(close, sessions, issues)
    if keep < len(sessions):
        sessions = sessions[:keep]
        close, high, low, volume = close[:keep], high[:keep], low[:keep], volume[:keep]
        has_rows = has_rows[:keep]

    present = ~np.isnan(close)
    previous = _previous_value(close)
    _missing_volume_on_moves(volume, close, previous, names, sessions, issues)
    signed_mask = np.isin(np.asarray(tickers, dtype=object), list(signed))
    suspect = _suspect_sessions(close, previous, volume, present, tickers, watched, signed_mask, sessions)
    _remove_bad_prints(close, high, low, previous, signed_mask, names, sessions, issues)

    present = ~np.isnan(close)
    carried_forward = _carried_forward(close)
    in_gaps = _inside_data_gaps(has_rows)
    carried_forward[in_gaps] = np.nan  # a gap in the data is a gap: nothing carried into it
    carried = np.isnan(carried_forward) != ~present  # missing before, defined after the carry
    filled = pd.DataFrame(carried_forward, index=sessions, columns=columns, copy=False)
    _report_gaps(present, names, sessions, issues, in_gaps)

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=sessions, columns=columns, copy=False)

    basis = _price_basis(adjusted_files, signed_mask, names, issues)
    return Aligned(filled, frame(high), frame(low), frame(volume),
                   pd.DataFrame(carried, index=sessions, columns=columns, copy=False), suspect, issues, basis)


def _price_basis(adjusted: np.ndarray, signed_mask: np.ndarray, names: list[str], issues: list[DataIssue]) -> str:
    """One basis, named: dividend-adjusted closes (`Adj Close`, as StockCharts computes breadth) where
    the files have them. A price file offering Close only is used as it is, and said: it may be
    price-only beside adjusted ones (dividend-adjusted and price-only % above the 200-day differ by
    up to 3 points on the development set). Without any Adj Close, nothing says whether a file's Close was
    adjusted (the development set's SPY and IWM Close files are, its index files cannot be): the basis says so."""
    prices = ~signed_mask
    if not adjusted[prices].any():
        return CLOSE_BASIS
    for column in np.flatnonzero(prices & ~adjusted):
        issues.append(DataIssue(names[column], None, "has Close only, no Adj Close: used as it is, which may be "
                                                    "price-only beside the adjusted closes"))
    return ADJUSTED_BASIS


_DAY = np.timedelta64(1, "D").astype("timedelta64[ns]").astype(np.int64)


def _session_rows(dates: np.ndarray, sessions: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Each date's row in `sessions`, and whether it is one of them: through a table from days to rows
    (a chunk's rows are many, its days few), not a search per row."""
    rows = np.zeros(len(dates), dtype=np.intp)
    on_session = np.zeros(len(dates), dtype=bool)
    if not len(sessions):
        return rows, on_session
    grid = sessions.to_numpy(dtype="datetime64[ns]").view(np.int64)
    days = int((grid[-1] - grid[0]) // _DAY) + 1
    table = np.full(days, -1, dtype=np.intp)
    table[(grid - grid[0]) // _DAY] = np.arange(len(grid))
    offset = dates.astype("datetime64[ns]").view(np.int64) - grid[0]
    day, remainder = np.divmod(offset, _DAY)
    inside = (remainder == 0) & (day >= 0) & (day < days)
    found = table[day[inside]]
    rows[inside] = found
    on_session[inside] = found >= 0
    return rows, on_session


def _report_off_calendar(chunk: ParsedChunk, names: list[str], off: np.ndarray, issues: list[DataIssue]) -> None:
    if not off.any():
        return
    bad = np.flatnonzero(off)
    for code in np.unique(chunk.codes[bad]):
        mine = bad[chunk.codes[bad] == code]
        days = sorted({_day(d) for d in chunk.dates[mine]})
        issues.append(DataIssue(names[code], int(chunk.lines[mine].min()) if chunk.lines is not None else None,
                                f"{len(days)} rows on dates that are not NYSE sessions dropped: {_listed(days)}"))


def _complete_sessions(close: np.ndarray, sessions: pd.DatetimeIndex, issues: list[DataIssue]) -> int:
    """How many sessions to keep: trailing sessions that most files lack are held back."""
    keep = len(sessions)
    present = ~np.isnan(close)
    while keep >= 2:
        before = present[keep - 2]
        both = int((present[keep - 1] & before).sum())
        expected = int(before.sum())
        if expected == 0 or both >= COMPLETE_SHARE * expected:
            break
        issues.append(DataIssue(
            "sessions", None,
            f"{_day(sessions[keep - 1])} held back: only {both:,} of the {expected:,} files that have "
            f"{_day(sessions[keep - 2])} have it (a partial refresh); the data ends {_day(sessions[keep - 2])}"))
        keep -= 1
    return keep


def _previous_value(values: np.ndarray) -> np.ndarray:
    """Each cell's previous defined value in its column (NaN before the first)."""
    out = np.empty_like(values)
    out[0] = np.nan

    def fill(block: slice) -> None:
        out[1:, block] = pd.DataFrame(values[:-1, block]).ffill().to_numpy()

    _each_block(values.shape[1], fill)
    return out


def _carried_forward(values: np.ndarray) -> np.ndarray:
    """Each missing value carried from the last defined one, for at most `MAX_CARRY` sessions."""
    out = np.empty_like(values)

    def fill(block: slice) -> None:
        out[:, block] = pd.DataFrame(values[:, block]).ffill(limit=MAX_CARRY).to_numpy()

    _each_block(values.shape[1], fill)
    return out


def _missing_volume_on_moves(volume: np.ndarray, close: np.ndarray, previous: np.ndarray, names: list[str],
                             sessions: pd.DatetimeIndex, issues: list[DataIssue]) -> None:
    """Zero volume on a session whose close moved is missing volume: judged at the zero-volume cells only
    (a few in a million), not over the grid."""
    rows, columns = np.nonzero(volume == 0)
    moved, before = close[rows, columns], previous[rows, columns]
    with np.errstate(invalid="ignore"):
        bad = (moved != before) & ~np.isnan(moved) & ~np.isnan(before)
    rows, columns = rows[bad], columns[bad]
    for column, hit in _by_column(rows, columns):
        issues.append(DataIssue(names[column], None,
                                f"sessions with zero Volume while the price moved: {len(hit)} "
                                f"({_sessions_listed(sessions, hit)}); Volume treated as missing"))
    volume[rows, columns] = np.nan


def _by_column(rows: np.ndarray, columns: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Cells grouped by column, columns and rows in order: one warning per file, its dates in order."""
    order = np.lexsort((rows, columns))
    rows, columns = rows[order], columns[order]
    starts = np.flatnonzero(np.r_[True, columns[1:] != columns[:-1]]) if len(columns) else np.zeros(0, np.intp)
    return [(int(columns[start]), rows[start:end]) for start, end in zip(starts, np.r_[starts[1:], len(rows)])]


def _remove_bad_prints(close: np.ndarray, high: np.ndarray, low: np.ndarray, previous: np.ndarray,
                       signed_mask: np.ndarray, names: list[str], sessions: pd.DatetimeIndex,
                       issues: list[DataIssue]) -> None:
    """A close 10x off the bar before it is removed on its own day, unless it returns to within 2x of
    the bar before that (the session after a bad print, which is good). Only earlier bars are read,
    so a bar is judged the same on its own day and in any later history: a 10x move that holds is
    removed on its first session and accepted from the second.

    The 10x jumps are found over the grid; the bar before the previous one is looked up for those
    cells only (a handful in a folder), in the columns that have one."""
    with np.errstate(invalid="ignore", divide="ignore"):
        jump = close / previous
        extreme = (jump >= BAD_PRINT_FACTOR) | (jump <= 1 / BAD_PRINT_FACTOR)
    extreme[:, signed_mask] = False
    rows, columns = np.nonzero(extreme)
    if not len(rows):
        return
    touched = np.unique(columns)
    index = np.arange(len(close))[:, None]
    last_bar = np.maximum.accumulate(np.where(np.isnan(close[:, touched]), -1, index), axis=0)
    previous_bar = last_bar[rows - 1, np.searchsorted(touched, columns)]  # a jump has a bar before it
    with np.errstate(invalid="ignore", divide="ignore"):
        back = close[rows, columns] / previous[previous_bar, columns]  # NaN when that bar is the first
        spike = ~((back < 2.0) & (back > 0.5))
    rows, columns = rows[spike], columns[spike]
    for column, hit in _by_column(rows, columns):
        issues.append(DataIssue(names[column], None,
                                f"bad print removed: the close of {_sessions_listed(sessions, hit)} "
                                f"is {BAD_PRINT_FACTOR:.0f}x off the session before it (judged with earlier "
                                f"bars only; a move that holds is accepted from its second session)"))
    for target in (close, high, low):
        target[rows, columns] = np.nan


def _suspect_sessions(close: np.ndarray, previous: np.ndarray, volume: np.ndarray, present: np.ndarray,
                      tickers: list[str], watched: tuple[str, ...], signed_mask: np.ndarray,
                      sessions: pd.DatetimeIndex) -> pd.Series:
    """Why each session cannot be trusted to fire a detector ("" when it can); uses no later bar."""
    reasons = np.full(len(sessions), "", dtype=object)
    position = {t: i for i, t in enumerate(tickers)}
    for ticker in watched:
        column = position.get(ticker)
        if column is None or signed_mask[column]:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            jump = close[:, column] / previous[:, column]
            wild = (jump >= WATCHED_MOVE_FACTOR) | (jump <= 1 / WATCHED_MOVE_FACTOR)
        for row in np.flatnonzero(wild):
            reasons[row] = _join(reasons[row], f"{ticker} moved {jump[row]:.3g}x in one session "
                                 f"({previous[row, column]:.4g} to {close[row, column]:.4g}): a bad print?")
    both = present[1:] & present[:-1]
    same_close = both & (close[1:] == close[:-1])
    with np.errstate(invalid="ignore"):
        same_volume = (volume[1:] == volume[:-1]) | np.isnan(volume[1:]) | np.isnan(volume[:-1])
    repeated = (same_close & same_volume).sum(axis=1)
    compared = both.sum(axis=1)
    stale = (compared >= STALE_MIN_FILES) & (repeated >= STALE_SHARE * np.maximum(compared, 1))
    for row in np.flatnonzero(stale) + 1:
        reasons[row] = _join(reasons[row], f"{repeated[row - 1]:,} of {compared[row - 1]:,} files repeat the "
                             f"previous session's bar: a stale refresh?")
    return pd.Series(reasons, index=sessions, name="suspect")


def _inside_data_gaps(has_rows: np.ndarray) -> np.ndarray:
    """Rows of sessions that no file has a row for, from the second such session in a row on.

    One session that every file lacks may be a feed's hiccup, and is carried like any missing bar; a
    second one in a row is a gap in the data itself (the 2007-2016 of a history joined from two
    spans), and carrying closes into it would invent prices for years. A row with an unusable close
    is not a gap: the file was there, its value was not. Causal: each row reads only itself and the
    row before.
    """
    blank = ~has_rows
    return np.flatnonzero(blank & np.r_[False, blank[:-1]])


def _report_gaps(present: np.ndarray, names: list[str], sessions: pd.DatetimeIndex,
                 issues: list[DataIssue], in_gaps: np.ndarray) -> None:
    """Each run of missing closes inside a ticker's life, once: carried, or undefined if too long."""
    if not len(present):
        return
    first_bar = present.argmax(axis=0)
    last_bar = len(present) - 1 - present[::-1].argmax(axis=0)
    with_gaps = present.any(axis=0) & (present.sum(axis=0) < last_bar - first_bar + 1)  # a column's gaps, if any
    for column in np.flatnonzero(with_gaps):
        life = slice(int(first_bar[column]), int(last_bar[column]) + 1)
        missing = life.start + np.flatnonzero(~present[life, column])
        runs = np.split(missing, np.flatnonzero(np.diff(missing) > 1) + 1)
        for run in runs:
            first, last = _day(sessions[run[0]]), _day(sessions[run[-1]])
            span = first if len(run) == 1 else f"{first}..{last}"
            if np.isin(run, in_gaps).any():
                what = "a gap in the data (no file has a bar there): nothing is carried into it"
            elif len(run) <= MAX_CARRY:
                what = "the previous close is carried forward (neither an advance nor a decline)"
            else:
                what = (f"the previous close is carried for {MAX_CARRY} sessions, then the ticker is left out "
                        f"until its averages refill")
            issues.append(DataIssue(names[column], None,
                                    f"no bar for {len(run)} session{'s' if len(run) > 1 else ''} ({span}): {what}"))


def _join(first: str, second: str) -> str:
    return f"{first}; {second}" if first else second


def _day(value: np.datetime64 | pd.Timestamp) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def _sessions_listed(sessions: pd.DatetimeIndex, rows: np.ndarray) -> str:
    """`_listed` for the sessions of `rows`: only the dates shown are formatted (a file may have 1,800)."""
    return _listed([_day(sessions[row]) for row in rows[:_LISTED]], len(rows))


def _listed(days: list[str], total: int | None = None) -> str:
    """The first days, and how many more of the `total` (all of `days` by default) there are."""
    count = len(days) if total is None else total
    more = f" and {count - _LISTED} more" if count > _LISTED else ""
    return ", ".join(days[:_LISTED]) + more


APPEND_WINDOW = 2 * MAX_CARRY + 2  # sessions of history the rules above look back at, with room to spare


def extend(data: MarketData, fresh: ParsedPrices, signed: frozenset[str] = frozenset(),
           watched: tuple[str, ...] = ()) -> MarketData | None:
    """`data` with the sessions of `fresh` after its last one appended, by the same rules as `align`.

    The rules look back a few sessions at most (the carry, the session before, yesterday's bar),
    so the new rows are aligned together with a short window of the old ones and appended: the
    history is neither read again nor recomputed, and `origin` is kept, so an engine that has seen
    it reuses its work. None when the fresh rows name a ticker `data` does not have (load anew).
    """
    columns = list(data.close.columns)
    position = {ticker: i for i, ticker in enumerate(columns)}
    if any(ticker not in position for ticker in fresh.tickers):
        return None
    start = max(0, len(data.sessions) - APPEND_WINDOW)
    old_close = data.close.iloc[start:].to_numpy()
    own = ~np.isnan(old_close)
    if data.carried is not None:
        own &= ~data.carried.iloc[start:].to_numpy()
    rows, codes = np.nonzero(own)
    window_dates = data.sessions[start:].to_numpy(dtype="datetime64[ns]")
    window = ParsedChunk(codes.astype(np.int32), window_dates[rows],
                         {"Close": old_close[rows, codes],
                          "High": data.high.iloc[start:].to_numpy()[rows, codes],
                          "Low": data.low.iloc[start:].to_numpy()[rows, codes],
                          "Volume": data.volume.iloc[start:].to_numpy()[rows, codes]})
    remap = np.array([position[t] for t in fresh.tickers], dtype=np.int32)
    chunks = [window]
    last = np.datetime64(data.last_session, "ns")
    for chunk in fresh.chunks:
        later = chunk.dates > last
        chunks.append(ParsedChunk(remap[chunk.codes[later]], chunk.dates[later],
                                  {k: v[later] for k, v in chunk.values.items()}, None))
    names = [f"{ticker}" for ticker in columns]
    aligned = align(ParsedPrices(columns, chunks, []), names, signed, watched)
    new = aligned.close.index > data.last_session
    if not new.any():
        return data
    first_new = aligned.close.index[new][0].strftime("%Y-%m-%d")
    issues = [i for i in aligned.issues if any(day >= first_new for day in _dates_in(i.message))]

    def joined(old: pd.DataFrame | None, extra: pd.DataFrame) -> pd.DataFrame:
        return extra[new] if old is None else pd.concat([old, extra[new]])

    return replace(
        data,
        close=joined(data.close, aligned.close),
        high=joined(data.high, aligned.high),
        low=joined(data.low, aligned.low),
        volume=joined(data.volume, aligned.volume),
        carried=joined(data.carried, aligned.carried),
        suspect=aligned.suspect[new] if data.suspect is None else pd.concat([data.suspect, aligned.suspect[new]]),
        issues=tuple(data.issues) + tuple(issues),
    )


def _dates_in(text: str) -> list[str]:
    return re.findall(r"\d{4}-\d{2}-\d{2}", text)
