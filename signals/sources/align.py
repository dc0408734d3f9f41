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
    issues: list[DataIssue] = []
    tickers = list(parsed.tickers)
    columns = pd.Index(tickers, name="ticker")
    span = parsed.date_range()
    if span is None:
        empty = pd.DataFrame(index=pd.DatetimeIndex([], name="Date"), columns=columns, dtype="float64")
        return Aligned(empty, empty, empty, empty, empty.astype(bool), pd.Series([], dtype=object), issues)

    sessions = sessions_between(*span)
    if len(sessions) == 0:  # every row is on a holiday or weekend: each file's rows are warned of, no grid
        for chunk in parsed.chunks:
            _report_off_calendar(chunk, names, np.ones(len(chunk.dates), dtype=bool), issues)
        empty = pd.DataFrame(index=pd.DatetimeIndex([], name="Date"), columns=columns, dtype="float64")
        return Aligned(empty, empty, empty, empty, empty.astype(bool), pd.Series([], dtype=object), issues)
    shape = (len(sessions), len(tickers))
    close, high, low, volume = (np.full(shape, np.nan) for _ in range(4))
    adjusted_files = np.zeros(len(tickers), dtype=bool)
    has_rows = np.zeros(len(sessions), dtype=bool)  # a row, even one whose close was unusable
    while parsed.chunks:  # each chunk is dropped once scattered: memory holds the grid, not two copies
        chunk = parsed.chunks.pop(0)
        rows, on_session = _session_rows(chunk.dates, sessions)
        _report_off_calendar(chunk, names, ~on_session, issues)
        rows, codes = rows[on_session], chunk.codes[on_session]
        has_rows[rows] = True
        raw_close = chunk.values["Close"][on_session]
        adjusted = chunk.values.get("Adj Close")
        if adjusted is not None:
            # A file's Adj Close is used when it has one; the adjustment factor carries over to High/Low.
            adjusted = adjusted[on_session]
            has_adjusted = np.zeros(len(tickers), dtype=bool)
            has_adjusted[codes[~np.isnan(adjusted)]] = True
            adjusted_files |= has_adjusted
            uses = has_adjusted[codes]
            with np.errstate(invalid="ignore", divide="ignore"):
                factor = np.where(uses, adjusted / raw_close, 1.0)
            close[rows, codes] = np.where(uses, adjusted, raw_close)
        else:
            factor = None
            close[rows, codes] = raw_close
        for name, target in (("High", high), ("Low", low)):
            if name in chunk.values:
                part = chunk.values[name][on_session]
                target[rows, codes] = part if factor is None else part * factor
        if "Volume" in chunk.values:
            volume[rows, codes] = chunk.values["Volume"][on_session]

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
    filled = pd.DataFrame(close, index=sessions, columns=columns, copy=False).ffill(limit=MAX_CARRY)
    in_gaps = _inside_data_gaps(has_rows)
    filled.iloc[in_gaps] = np.nan  # a gap in the data is a gap: nothing carried into it
    carried = filled.isna().to_numpy() != ~present  # missing before, defined after the carry
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


def _session_rows(dates: np.ndarray, sessions: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    grid = sessions.to_numpy(dtype="datetime64[ns]")
    rows = np.searchsorted(grid, dates)
    inside = rows < len(grid)
    on_session = np.zeros(len(dates), dtype=bool)
    on_session[inside] = grid[rows[inside]] == dates[inside]
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


def _missing_volume_on_moves(volume: np.ndarray, close: np.ndarray, previous: np.ndarray, names: list[str],
                             sessions: pd.DatetimeIndex, issues: list[DataIssue]) -> None:
    for first in range(0, close.shape[1], _BLOCK):
        block = slice(first, first + _BLOCK)
        with np.errstate(invalid="ignore"):
            bad = (volume[:, block] == 0) & (close[:, block] != previous[:, block]) & ~np.isnan(close[:, block]) \
                & ~np.isnan(previous[:, block])
        if not bad.any():
            continue
        for column in np.flatnonzero(bad.any(axis=0)):
            rows = np.flatnonzero(bad[:, column])
            issues.append(DataIssue(names[first + column], None,
                                    f"sessions with zero Volume while the price moved: {len(rows)} "
                                    f"({_listed([_day(sessions[r]) for r in rows])}); Volume treated as missing"))
        volume[:, block][bad] = np.nan


def _remove_bad_prints(close: np.ndarray, high: np.ndarray, low: np.ndarray, previous: np.ndarray,
                       signed_mask: np.ndarray, names: list[str], sessions: pd.DatetimeIndex,
                       issues: list[DataIssue]) -> None:
    """A close 10x off the bar before it is removed on its own day, unless it returns to within 2x of
    the bar before that (the session after a bad print, which is good). Only earlier bars are read,
    so a bar is judged the same on its own day and in any later history: a 10x move that holds is
    removed on its first session and accepted from the second."""
    def judge(block: slice) -> list[DataIssue]:  # blocks of columns bound the temporaries
        found: list[DataIssue] = []
        first = block.start
        part = close[:, block]
        rows = np.arange(len(part), dtype="float64")[:, None]
        own_rows = np.where(np.isnan(part), np.nan, rows)
        last_row = np.empty_like(own_rows)
        last_row[0] = np.nan
        last_row[1:] = pd.DataFrame(own_rows[:-1]).ffill().to_numpy()  # the row of the bar before each cell
        before_last = np.full_like(part, np.nan)  # the bar before that one
        known = ~np.isnan(last_row)
        columns = np.broadcast_to(np.arange(part.shape[1]), part.shape)
        at = last_row[known].astype(np.int64)
        earlier = last_row[at, columns[known]]
        has = ~np.isnan(earlier)
        values = np.full(at.shape, np.nan)
        values[has] = part[earlier[has].astype(np.int64), columns[known][has]]
        before_last[known] = values
        with np.errstate(invalid="ignore", divide="ignore"):
            jump = part / previous[:, block]
            back = part / before_last
            spike = ((jump >= BAD_PRINT_FACTOR) | (jump <= 1 / BAD_PRINT_FACTOR)) & ~((back < 2.0) & (back > 0.5))
        spike[:, signed_mask[block]] = False
        if not spike.any():
            return found
        for column in np.flatnonzero(spike.any(axis=0)):
            rows_hit = np.flatnonzero(spike[:, column])
            found.append(DataIssue(names[first + column], None,
                                   f"bad print removed: the close of {_listed([_day(sessions[r]) for r in rows_hit])} "
                                   f"is {BAD_PRINT_FACTOR:.0f}x off the session before it (judged with earlier "
                                   f"bars only; a move that holds is accepted from its second session)"))
        close[:, block][spike] = np.nan
        high[:, block][spike] = np.nan
        low[:, block][spike] = np.nan
        return found

    for found in _each_block(close.shape[1], judge):
        issues.extend(found)


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
    started = np.maximum.accumulate(present, axis=0)
    later = np.maximum.accumulate(present[::-1], axis=0)[::-1]
    inside = ~present & started & later
    for column in np.flatnonzero(inside.any(axis=0)):
        missing = np.flatnonzero(inside[:, column])
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


def _listed(days: list[str]) -> str:
    more = f" and {len(days) - _LISTED} more" if len(days) > _LISTED else ""
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
