"""A first load scatters each parsed chunk into the session grid while the next parse: the grid is sized
before the rows (from the files' ends), and whatever span it starts with, the data is the same."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from signals import parallel
from signals.sources import csv_prices, folder as folder_module
from signals.sources.align import SessionGrid, align
from signals.sources.csv_prices import ChunkStream, ParsedChunk, ParsedPrices
from signals.sources.folder import load_folder
from signals.tickers import YIELD_TICKERS
from tests.test_feed_quirks import frames, write
from tests.test_folder_cache import bad_high, changed_once

WEEKDAYS = pd.bdate_range("2021-11-15", "2022-01-21")  # Thanksgiving, Christmas and New Year: off-calendar rows


def chunks_of(draw_codes: np.ndarray, draw_days: np.ndarray, tickers: int, seed: int) -> list[ParsedChunk]:
    """Rows of `tickers` files as parsed chunks: each file's rows in one chunk, any order, some without Adj Close."""
    rng = np.random.default_rng(seed)
    rows: dict[int, set[int]] = {}
    for code, day in zip(draw_codes, draw_days):
        rows.setdefault(int(code), set()).add(int(day))
    chunks = []
    owners = np.array_split(np.arange(tickers), 3)
    for files in owners:
        codes = [code for code in files for _ in rows.get(int(code), ())]
        days = [day for code in files for day in sorted(rows.get(int(code), ()), key=lambda _: rng.random())]
        if not codes:
            continue
        close = rng.uniform(10, 20, len(codes))
        values = {"Close": close, "High": close * 1.01, "Low": close * 0.99, "Volume": rng.uniform(0, 10, len(codes))}
        if rng.random() < 0.5:
            values["Adj Close"] = close * 0.98
        chunks.append(ParsedChunk(np.array(codes, dtype=np.int32), WEEKDAYS[days].to_numpy(dtype="datetime64[ns]")
                                  .copy(), values, np.arange(len(codes), dtype=np.int32) + 2))
    return chunks


def copied(chunks: list[ParsedChunk]) -> list[ParsedChunk]:
    return [ParsedChunk(c.codes.copy(), c.dates.copy(), {k: v.copy() for k, v in c.values.items()}, c.lines)
            for c in chunks]


def same_aligned(left, right) -> None:
    for name in ("close", "high", "low", "volume", "carried"):
        pd.testing.assert_frame_equal(getattr(left, name), getattr(right, name), check_exact=True)
    pd.testing.assert_series_equal(left.suspect, right.suspect)
    assert [str(i) for i in left.issues] == [str(i) for i in right.issues]
    assert left.price_basis == right.price_basis


def test_the_grid_is_the_same_whatever_span_it_starts_with():
    """Exact, too narrow (an unsorted file), too wide, disjoint or no span at all: the same frames and the
    same warnings in the same order as aligning every row at once."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    tickers = 6
    days = len(WEEKDAYS)
    spans = st.one_of(st.none(), st.tuples(st.integers(0, days - 1), st.integers(0, days - 1)))

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, tickers - 1), st.integers(0, days - 1)), min_size=1, max_size=120),
           spans, st.integers(0, 10_000))
    def check(cells, span, seed):
        codes, picked = np.array(cells).T
        chunks = chunks_of(codes, picked, tickers, seed)
        names = [f"prices/T{i}.csv" for i in range(tickers)]
        whole = align(ParsedPrices([f"T{i}" for i in range(tickers)], copied(chunks), []), names)
        hint = None if span is None else (np.datetime64(WEEKDAYS[min(span)].date()),
                                          np.datetime64(WEEKDAYS[max(span)].date()))
        grid = SessionGrid(tickers, names, hint)
        for chunk in copied(chunks):
            grid.add(chunk)
        same_aligned(grid.aligned([f"T{i}" for i in range(tickers)]), whole)

    check()


def test_a_file_whose_ends_misstate_its_span_loads_like_any_other(tmp_path):
    """An unsorted file (its first and last rows inside the span), a last line that does not read and one
    file that cannot be used: the streamed load equals the one that parses every file first."""
    bars = frames()
    bars["M01"] = bars["M01"].iloc[::-1]  # newest first
    bars["M02"] = bars["M02"].iloc[np.r_[5:len(bars["M02"]), 0:5]]  # the first rows moved to the end
    root = write(tmp_path / "data", bars, extra_rows={"M03": "not a date,1,2,3,4,5,6\n"})
    (root / "prices" / "BAD.csv").write_text("When,Price\n2020-01-02,5\n")
    streamed = load_folder(root)
    parsed = csv_prices.parse_paths([(p, f"prices/{p.name}") for p in folder_module.price_files(root)],
                                    YIELD_TICKERS, [])
    whole = folder_module.assemble(root, parsed)
    for name in ("close", "high", "low", "volume", "carried"):
        pd.testing.assert_frame_equal(getattr(streamed, name), getattr(whole, name), check_exact=True)
    assert [str(i) for i in streamed.issues] == [str(i) for i in whole.issues]
    assert "BAD" not in streamed.close.columns
    assert streamed.close["M01"].equals(load_folder(write(tmp_path / "clean", frames())).close["M01"])


def test_a_file_s_ends_give_the_grid_its_span(tmp_path):
    root = write(tmp_path / "data", {"A": frames()["M01"].iloc[3:40], "B": frames()["M02"].iloc[10:90]})
    items = [(p, p.name) for p in folder_module.price_files(root)]
    first, last = frames()["M01"].index[3], frames()["M02"].index[89]
    assert ChunkStream(items).span == (np.datetime64(first.date()), np.datetime64(last.date()))


def test_chunks_are_scattered_while_later_ones_still_parse(tmp_path, monkeypatch):
    """The point of the stream: the first chunk reaches the grid before the last file is read."""
    monkeypatch.setattr(csv_prices, "CHUNK_FILES", 2)
    root = write(tmp_path / "data", frames())
    files = len(list((root / "prices").glob("*.csv")))
    read_when_scattered: list[int] = []
    reads: list[str] = []
    original_read, original_add = csv_prices.read_raw_file, SessionGrid.add

    def counted(path, display, issues):
        reads.append(path.name)
        return original_read(path, display, issues)

    def add(self, chunk):
        read_when_scattered.append(len(reads))
        original_add(self, chunk)

    monkeypatch.setattr(csv_prices, "read_raw_file", counted)
    monkeypatch.setattr(SessionGrid, "add", add)
    load_folder(root)
    assert read_when_scattered[0] < files
    assert len(read_when_scattered) == -(-files // 2)


def test_streamed_results_come_in_order_with_few_pieces_ahead():
    started: list[int] = []
    lock = threading.Lock()

    def work(piece: int) -> int:
        with lock:
            started.append(piece)
        time.sleep(0.001 * (piece % 3))  # later pieces may finish first
        return piece * 10

    stream = parallel.streamed(work, list(range(40)), threads=2)
    got = []
    for result in stream:
        got.append(result)
        with lock:
            assert len(started) <= len(got) + 2 * 2  # at most 2 x threads ahead of the caller
        if len(got) == 10:
            break
    stream.close()  # the rest is cancelled: not every piece ran
    assert got == [piece * 10 for piece in range(10)]
    assert len(started) < 40
    assert list(parallel.streamed(work, list(range(7)), threads=2)) == [piece * 10 for piece in range(7)]


@pytest.mark.parametrize("write_behind", [False, True])
def test_the_rows_cache_holds_only_the_chunks_its_manifest_names(tmp_path, write_behind):
    from signals.sources.folder_cache import FolderCache

    root = write(tmp_path / "data", frames())
    cache = FolderCache(tmp_path / "cache", root, write_behind=write_behind)
    changed_once(root, tmp_path / "cache")  # the rows are kept from here on
    first = load_folder(root, cache=cache)
    cache.flush()
    changed = root / "prices" / "M01.csv"
    changed.write_text(bad_high(changed.read_text(), "2020-06-01"))
    again = load_folder(root, cache=cache)
    cache.flush()
    stored = cache.load_rows()
    assert stored is not None
    named = {path.name for path in cache.dir.glob("rows-*.npz")}
    assert len(named) == len(stored.chunks) and len({name.split("-")[1] for name in named}) == 1
    assert again.close.drop(columns="M01").equals(first.close.drop(columns="M01"))
    assert Path(changed).name in stored.read


def reference_cleaning(close: np.ndarray, volume: np.ndarray, signed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rules read one cell at a time, as the module docstring states them: a zero volume on a move is
    missing; a close 10x off the bar before it is removed unless within 2x of the bar before that."""
    close, volume = close.copy(), volume.copy()
    cleaned = close.copy()
    for column in range(close.shape[1]):
        bars: list[float] = []  # the column's defined closes so far, as they came
        for row in range(close.shape[0]):
            value = close[row, column]
            if np.isnan(value):
                continue
            if bars and volume[row, column] == 0 and value != bars[-1]:
                volume[row, column] = np.nan
            if bars and not signed[column]:
                with np.errstate(divide="ignore", invalid="ignore"):
                    jump = np.float64(value) / bars[-1]
                    back = np.float64(value) / bars[-2] if len(bars) > 1 else np.nan
                if (jump >= 10 or jump <= 0.1) and not (0.5 < back < 2.0):
                    cleaned[row, column] = np.nan
            bars.append(value)
    return cleaned, volume


def test_the_cleaning_rules_equal_a_cell_by_cell_reading():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from signals.sources.align import _missing_volume_on_moves, _previous_value, _remove_bad_prints

    price = st.one_of(st.just(np.nan), st.sampled_from([1.0, 1.5, 9.0, 10.0, 11.0, 100.0, 0.1, 0.05, 0.0]))

    @settings(max_examples=400, deadline=None)
    @given(st.integers(1, 12), st.integers(1, 5), st.data())
    def check(rows, columns, data):
        close = np.array(data.draw(st.lists(price, min_size=rows * columns, max_size=rows * columns))).reshape(
            rows, columns)
        volume = np.array(data.draw(st.lists(st.sampled_from([0.0, 5.0, np.nan]), min_size=rows * columns,
                                             max_size=rows * columns))).reshape(rows, columns)
        signed = np.array(data.draw(st.lists(st.booleans(), min_size=columns, max_size=columns)))
        expected_close, expected_volume = reference_cleaning(close, volume, signed)
        sessions = pd.bdate_range("2024-01-01", periods=rows)
        names = [f"T{i}" for i in range(columns)]
        high, low, issues = close * 1.1, close * 0.9, []
        previous = _previous_value(close)
        _missing_volume_on_moves(volume, close, previous, names, sessions, issues)
        _remove_bad_prints(close, high, low, previous, signed, names, sessions, issues)
        assert np.array_equal(close, expected_close, equal_nan=True)
        assert np.array_equal(volume, expected_volume, equal_nan=True)
        assert np.array_equal(np.isnan(high), np.isnan(expected_close))

    check()
