"""Parsing yfinance-style price CSVs (`Date,Open,High,Low,Close,Adj Close,Volume`) into long columns.

Speed and memory matter (2,244 files of 1,800 rows, or 5,000 of 6,300), and so does telling the
user exactly which file and line is wrong. Files are read a chunk at a time (`CHUNK_FILES` files of
one header), and each chunk takes one of two paths:

- the fast path joins the chunk's bodies and hands them to pandas' C parser once; the rows are
  mapped back to their files by line counts;
- when a chunk does not parse cleanly (a stray field, a word where a number belongs, blank lines),
  each of its files is read row by row with the `csv` module, which knows every line number.

Both produce `ParsedChunk`s; the checks on values (dates, duplicates, non-positive prices) run over
each chunk's long table at once. Chunks are never joined into one long table: the aligner scatters
each into the (session x ticker) grid as it comes (`ChunkStream`).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from signals.market_data import DataIssue
from signals.parallel import streamed

PRICE_COLUMNS = ("Open", "High", "Low", "Close", "Adj Close", "Volume")
# What the engine reads: Open, in every file, is read by nothing, so it is neither parsed nor checked
# (a quarter of a parse's numbers).
_PARSED = frozenset({"Date", "High", "Low", "Close", "Adj Close", "Volume"})
_CANONICAL = {name.lower(): name for name in ("Date", *PRICE_COLUMNS)}
_CANONICAL.update({"adj_close": "Adj Close", "adjclose": "Adj Close", "datetime": "Date"})
_MAX_ROWS_LISTED = 5


@dataclass(frozen=True)
class RawFile:
    """One price file's bytes, split into a normalised header and a body."""

    ticker: str
    name: str  # as shown to the user, e.g. "prices/AAPL.csv"
    columns: tuple[str | None, ...]  # canonical name per field, None for a column we do not use
    body: memoryview  # the bytes after the header, ending with a newline
    lines: int  # data lines in body


@dataclass
class ParsedChunk:
    """The valid rows of some files, as long columns: a file's rows never span two chunks."""

    codes: np.ndarray  # int32, index into `ParsedPrices.tickers`
    dates: np.ndarray  # datetime64[ns]
    values: dict[str, np.ndarray]  # only the columns these files have; float64, NaN where a cell is missing
    lines: np.ndarray | None = None  # 1-based line in its file, when the rows came from files


@dataclass
class ParsedPrices:
    """Every file's valid rows, in chunks: never one long copy of everything (memory, at 5,000 tickers)."""

    tickers: list[str]
    chunks: list[ParsedChunk]
    issues: list[DataIssue]

    @property
    def rows(self) -> int:
        return sum(len(chunk.dates) for chunk in self.chunks)

    def date_range(self) -> tuple[np.datetime64, np.datetime64] | None:
        spans = [(chunk.dates.min(), chunk.dates.max()) for chunk in self.chunks if len(chunk.dates)]
        if not spans:
            return None
        return min(s[0] for s in spans), max(s[1] for s in spans)


def read_raw_file(path: Path, display_name: str, issues: list[DataIssue]) -> RawFile | None:
    """Read one file and check its header; None (with an issue) when it cannot be used at all.

    The body is a view of the bytes read, not a copy: a chunk's bodies are copied once, into the one
    buffer the C parser reads (these are the bulk of a load's bytes, and copies hold the GIL)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        issues.append(DataIssue(display_name, None, f"cannot be read ({exc.strerror}); skipped", "error"))
        return None
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    newline = data.find(b"\n", start)
    header_bytes = data[start:] if newline < 0 else data[start:newline]
    if not header_bytes.strip():
        issues.append(DataIssue(display_name, None, "empty file; skipped"))
        return None
    try:
        header = next(csv.reader([header_bytes.decode("utf-8").strip()]))
    except UnicodeDecodeError:
        issues.append(DataIssue(display_name, 1, "header is not UTF-8 text; file skipped", "error"))
        return None
    columns = tuple(_CANONICAL.get(field.strip().lower()) for field in header)
    missing = [name for name in ("Date", "Close") if name not in columns]
    if missing:
        issues.append(
            DataIssue(
                display_name,
                1,
                f"missing required column {' and '.join(missing)} (header: {','.join(header)}); file skipped",
                "error",
            )
        )
        return None
    if newline < 0 or _TEXT.search(data, newline + 1) is None:
        issues.append(DataIssue(display_name, None, "no rows after the header; skipped"))
        return None
    body = memoryview(data)[newline + 1:]
    lines = data.count(b"\n", newline + 1)
    if not data.endswith(b"\n"):
        body, lines = memoryview(data[newline + 1:] + b"\n"), lines + 1
    # tickers are upper case (Yahoo's spelling), whatever the file name's case
    return RawFile(path.stem.upper(), display_name, columns, body, lines)


_TEXT = re.compile(rb"\S")  # a byte that is not white space: a body with one has rows


# files per C-parser call: big enough to be fast, small enough to bound memory (two chunks parse at once and
# up to two more wait for the grid: loading the development folder peaks at 390-420 MiB)
CHUNK_FILES = 128


class ChunkStream:
    """Files parsed a chunk at a time on the cores, each chunk handed out as soon as it and those before
    it are parsed, so the caller scatters one while the next parse (signals/parallel.py `streamed`).

    Files are grouped by header (the first line, read cheaply) so that each chunk of same-header files
    goes to the C parser in one call; a chunk's bytes are read only when it is parsed and dropped
    after. The chunks' `codes` are positions in `items`; after the last chunk, `issues` holds what the
    files reported (in chunk order) and `read` the ticker of every file that could be read.

    `span` is the earliest first-row date and the latest last-row date the files show before any is
    parsed (read from each file's ends with its header): what the session grid is sized by. It is a
    hint; rows outside it (an unsorted file) still count.
    """

    def __init__(self, items: list[tuple[Path, str]], signed_tickers: frozenset[str] = frozenset()) -> None:
        self.items = items
        self.signed_tickers = signed_tickers
        self.issues: list[DataIssue] = []
        self.read: dict[int, str] = {}  # file index -> ticker, for the files that could be used
        groups: dict[bytes, list[int]] = {}
        firsts: list[np.datetime64] = []
        lasts: list[np.datetime64] = []
        for index, (path, _) in enumerate(items):
            header, first, last = _ends(path)
            groups.setdefault(header, []).append(index)
            if first is not None and last is not None:
                firsts.append(first)
                lasts.append(last)
        self.span = (min(firsts), max(lasts)) if firsts else None
        self._chunks = [members[start:start + CHUNK_FILES] for members in groups.values()
                        for start in range(0, len(members), CHUNK_FILES)]

    def __iter__(self) -> Iterator[ParsedChunk]:
        for found_read, found_chunks, found_issues in streamed(self._parse_chunk, self._chunks):
            self.read.update(found_read)
            self.issues.extend(found_issues)
            yield from found_chunks

    def _parse_chunk(self, indices: list[int]) -> tuple[dict[int, str], list[ParsedChunk], list[DataIssue]]:
        found: list[DataIssue] = []
        raws: list[RawFile] = []
        codes: list[int] = []
        for index in indices:
            path, display = self.items[index]
            raw = read_raw_file(path, display, found)
            if raw is not None:
                raws.append(raw)
                codes.append(index)
        parsed = parse_files(raws, self.signed_tickers, found, np.asarray(codes, dtype=np.int32))
        return {index: raw.ticker for index, raw in zip(codes, raws)}, parsed, found

    def columns(self) -> np.ndarray:
        """The files that could be read, in the files' order: the columns a load keeps."""
        return np.array(sorted(self.read), dtype=np.int64)


def parse_paths(
    items: list[tuple[Path, str]], signed_tickers: frozenset[str] = frozenset(), issues: list[DataIssue] | None = None
) -> ParsedPrices:
    """Read and parse files given as (path, name shown to the user), all chunks kept: `ChunkStream`
    collected, columns renumbered to the files that could be read, in the files' order."""
    issues = issues if issues is not None else []
    stream = ChunkStream(items, signed_tickers)
    chunks = list(stream)
    issues.extend(stream.issues)
    kept = stream.columns()
    position = np.full(len(items), -1, dtype=np.int32)
    position[kept] = np.arange(len(kept), dtype=np.int32)
    for chunk in chunks:
        chunk.codes = position[chunk.codes]
    return ParsedPrices([stream.read[i] for i in kept], chunks, issues)


_PEEK = 4096  # bytes read from a file's end for its last row's date


def _ends(path: Path) -> tuple[bytes, np.datetime64 | None, np.datetime64 | None]:
    """A file's header (lower case: files of one header parse together) and the dates of its first and last
    rows as they read, None where a date does not read; a file that cannot be read is left to the parse.
    Two reads of a few KB at the file's ends, not the file."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return b"", None, None
    try:
        head = os.pread(handle, _PEEK, 0)
        size = os.fstat(handle).st_size
        tail = os.pread(handle, _PEEK, size - _PEEK) if size > _PEEK else head
        if b"\n" not in head and size > _PEEK:  # a header longer than the peek: read it whole
            with path.open("rb") as whole:
                head = whole.readline() + whole.readline()
    except OSError:
        return b"", None, None
    finally:
        os.close(handle)
    header_line, _, rest = head.partition(b"\n")
    header = header_line.strip().lstrip(b"\xef\xbb\xbf").lower()
    fields = [_CANONICAL.get(field.strip().decode("utf-8", "replace")) for field in header.split(b",")]
    if "Date" not in fields:
        return header, None, None
    column = fields.index("Date")
    first_row = rest.partition(b"\n")[0]
    last_row = tail.rstrip().rpartition(b"\n")[2]
    return header, _row_date(first_row, column), _row_date(last_row, column)


def _row_date(row: bytes, column: int) -> np.datetime64 | None:
    fields = row.split(b",")
    if len(fields) <= column:
        return None
    try:
        day = np.datetime64(fields[column].strip()[:10].decode("ascii"), "D")
    except (ValueError, UnicodeDecodeError):
        return None
    return None if np.isnat(day) else day


def parse_files(files: list[RawFile], signed_tickers: frozenset[str], issues: list[DataIssue],
                codes: np.ndarray) -> list[ParsedChunk]:
    """Parse files (`codes[i]` names `files[i]` in the result), each same-header group in one C-parser call.

    `signed_tickers` hold values that may be zero or negative (yields), so they skip the
    positive-price check.
    """
    groups: dict[tuple[str | None, ...], list[int]] = {}
    for index, raw in enumerate(files):
        groups.setdefault(raw.columns, []).append(index)
    chunks: list[ParsedChunk] = []
    for columns, members in groups.items():
        group = [files[i] for i in members]
        used = [name for name in columns if name in _PARSED and name != "Date"]
        parsed = _parse_group_fast(columns, group)
        if parsed is None:  # one part per file; its rows all belong to that file
            parts = [(i, _parse_file_slow(raw, issues)) for i, raw in zip(members, group)]
            local = np.concatenate([np.full(len(part[2]), i, dtype=np.int32) for i, part in parts])
            lines = np.concatenate([part[1] for _, part in parts])
            dates = np.concatenate([part[2] for _, part in parts])
            values = {name: np.concatenate([part[3][name] for _, part in parts]) for name in used}
        else:
            local = np.asarray(members, dtype=np.int32)[parsed[0]]
            lines, dates, values = parsed[1], parsed[2], parsed[3]
        chunk = _checked(files, local, lines, dates, values, signed_tickers, issues)
        chunk.codes = codes[chunk.codes]
        chunks.append(chunk)
    return chunks


def _checked(files: list[RawFile], local: np.ndarray, lines: np.ndarray, dates: np.ndarray,
             values: dict[str, np.ndarray], signed_tickers: frozenset[str], issues: list[DataIssue]) -> ParsedChunk:
    """The value checks of one group (a file's rows are all in it): dates, duplicates, impossible prices."""
    _report_bad_dates(dates, local, lines, files, issues)
    keep = ~np.isnat(dates)
    keep &= _drop_duplicate_dates(local, dates, lines, files, issues, keep)
    if not keep.all():
        local, lines, dates = local[keep], lines[keep], dates[keep]
        values = {name: column[keep] for name, column in values.items()}
    checked = np.array([f.ticker not in signed_tickers for f in files], dtype=bool)[local]
    _mask_impossible_values(values, local, lines, files, issues, checked)
    _report_missing_adjusted(values, local, lines, files, issues)
    return ParsedChunk(local, dates, values, lines.astype(np.int32))


def _parse_group_fast(
    columns: tuple[str | None, ...], group: list[RawFile]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]] | None:
    """One C-parser call over the joined bodies; None when anything is irregular (then go slow)."""
    names = [name if name else f"_unused{i}" for i, name in enumerate(columns)]
    used = [name for name in columns if name in _PARSED]
    body = b"".join(raw.body for raw in group)
    # The C parser quietly pads short rows and turns a surplus field into an index: a row of the
    # wrong width shows as a comma count off the expected total (quotes could hide commas). Counted
    # by numpy, which lets go of the GIL: the other chunk's thread parses meanwhile.
    commas = np.count_nonzero(np.frombuffer(body, dtype=np.uint8) == ord(","))
    if commas != (len(columns) - 1) * sum(raw.lines for raw in group) or b'"' in body:
        return None
    try:
        frame = pd.read_csv(
            io.BytesIO(body),
            header=None,
            names=names,
            usecols=used,
            dtype={name: ("category" if name == "Date" else "float64") for name in used},
            engine="c",
            skip_blank_lines=False,
        )
    except (ValueError, pd.errors.ParserError):
        return None
    counts = np.array([raw.lines for raw in group])
    if len(frame) != counts.sum() or frame["Date"].isna().any():
        return None  # blank lines or rows without a date: let the slow path name them
    local_codes = np.repeat(np.arange(len(group)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    lines = np.arange(len(frame)) - starts + 2  # line 1 is the header
    values = {name: frame[name].to_numpy(dtype="float64") for name in used if name != "Date"}
    return local_codes, lines, _dates_from_categorical(frame["Date"].array), values


def _parse_file_slow(
    raw: RawFile, issues: list[DataIssue]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Row by row, so that every bad line is reported with its number and the good ones kept."""
    text = str(raw.body, "utf-8", errors="replace")
    width = len(raw.columns)
    used = [(i, name) for i, name in enumerate(raw.columns) if name in _PARSED and name != "Date"]
    date_index = raw.columns.index("Date")
    dates: list[str] = []
    lines: list[int] = []
    cells: dict[str, list[float]] = {name: [] for _, name in used}
    bad_width: list[int] = []
    not_numeric: dict[str, list[int]] = {}
    for offset, fields in enumerate(csv.reader(io.StringIO(text))):
        line = offset + 2
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != width:
            bad_width.append(line)
            continue
        dates.append(fields[date_index].strip())
        lines.append(line)
        for i, name in used:
            cell = fields[i].strip()
            if not cell or cell.lower() in ("nan", "null", "none"):
                cells[name].append(np.nan)
                continue
            try:
                cells[name].append(float(cell))
            except ValueError:
                cells[name].append(np.nan)
                not_numeric.setdefault(name, []).append(line)
    if bad_width:
        issues.append(_rows_issue(raw.name, bad_width, f"expected {width} fields; row skipped"))
    for name, bad_lines in not_numeric.items():
        issues.append(_rows_issue(raw.name, bad_lines, f"{name} is not a number; treated as missing"))
    local_codes = np.zeros(len(dates), dtype=int)
    values = {name: np.asarray(column, dtype="float64") for name, column in cells.items()}
    return local_codes, np.asarray(lines, dtype=int), _dates_from_categorical(pd.Categorical(dates)), values


def _dates_from_categorical(text: pd.Categorical) -> np.ndarray:
    """Exchange dates from `YYYY-MM-DD` strings (a time or zone suffix is ignored: the date is local).

    Each distinct string is parsed once: 900,000 rows hold fewer than 2,000 distinct dates.
    Unparseable strings become NaT and are reported by `_report_bad_dates`.
    """
    unique = pd.Index(text.categories, dtype=object).astype(str).str.strip().str[:10]
    parsed = pd.to_datetime(unique, format="%Y-%m-%d", errors="coerce").to_numpy(dtype="datetime64[ns]")
    parsed = np.append(parsed, np.datetime64("NaT", "ns"))  # code -1 (a missing cell) maps to NaT
    return parsed[np.asarray(text.codes)]


def _report_bad_dates(
    dates: np.ndarray, codes: np.ndarray, lines: np.ndarray, files: list[RawFile], issues: list[DataIssue]
) -> None:
    bad = np.flatnonzero(np.isnat(dates))
    for code in np.unique(codes[bad]):
        rows = bad[codes[bad] == code]
        issues.append(_rows_issue(files[code].name, lines[rows].tolist(), "unparseable date; row skipped"))


def _drop_duplicate_dates(
    codes: np.ndarray, dates: np.ndarray, lines: np.ndarray, files: list[RawFile], issues: list[DataIssue],
    valid: np.ndarray,
) -> np.ndarray:
    """Keep the last row of a date repeated within one file (a later correction wins), and say so."""
    days = dates.astype("datetime64[D]").astype(np.int64)
    keys = codes.astype(np.int64) * 1_000_000 + days
    if len(keys) < 2 or (np.diff(keys) > 0).all():  # each file's rows in date order, as files come: none repeats
        return np.ones(len(codes), dtype=bool)
    duplicated = pd.Index(keys).duplicated(keep="last") & valid
    if not duplicated.any():
        return np.ones(len(codes), dtype=bool)
    bad = np.flatnonzero(duplicated)
    for code in np.unique(codes[bad]):
        rows = bad[codes[bad] == code]
        issues.append(
            _rows_issue(files[code].name, lines[rows].tolist(), "duplicate date; the later row is kept")
        )
    return ~duplicated


def _mask_impossible_values(
    values: dict[str, np.ndarray], codes: np.ndarray, lines: np.ndarray, files: list[RawFile],
    issues: list[DataIssue], checked: np.ndarray,
) -> None:
    """Prices must be positive and volumes non-negative: anything else becomes missing, reported."""
    for name, column in values.items():
        bad_mask = column < 0 if name == "Volume" else column <= 0
        bad_mask = (bad_mask & checked) | np.isinf(column)
        if not bad_mask.any():
            continue
        bad = np.flatnonzero(bad_mask)
        rule = "negative" if name == "Volume" else "not positive"
        for code in np.unique(codes[bad]):
            rows = bad[codes[bad] == code]
            issues.append(
                _rows_issue(files[code].name, lines[rows].tolist(), f"{name} is {rule}; treated as missing")
            )
        if not column.flags.writeable:  # pandas (copy-on-write) hands out read-only views
            values[name] = column = column.copy()
        column[bad] = np.nan


def _report_missing_adjusted(
    values: dict[str, np.ndarray], codes: np.ndarray, lines: np.ndarray, files: list[RawFile],
    issues: list[DataIssue],
) -> None:
    """A file with an Adj Close column uses it for every row: a row with Close but no Adj Close is a gap."""
    if "Adj Close" not in values:
        return
    gap = np.isnan(values["Adj Close"]) & ~np.isnan(values["Close"])
    bad = np.flatnonzero(gap)
    for code in np.unique(codes[bad]):
        rows = bad[codes[bad] == code]
        issues.append(_rows_issue(files[code].name, lines[rows].tolist(),
                                  "Adj Close is missing where Close is not; the day is treated as missing"))


def _rows_issue(file: str, rows: list[int], message: str) -> DataIssue:
    listed = ", ".join(str(r) for r in rows[:_MAX_ROWS_LISTED])
    more = f" and {len(rows) - _MAX_ROWS_LISTED} more" if len(rows) > _MAX_ROWS_LISTED else ""
    plural = f" (lines {listed}{more})" if len(rows) > 1 else ""
    return DataIssue(file, rows[0], f"{message}{plural}")
