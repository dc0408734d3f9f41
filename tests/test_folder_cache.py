"""The parsed copy of a folder: an unchanged folder is not parsed again, a changed one only in part."""

from __future__ import annotations

import os
import re

import pandas as pd

from signals.sources import csv_prices
from signals.sources.folder import load_folder
from tests.test_feed_quirks import frames, write


def counting_reads(monkeypatch) -> list[str]:
    read: list[str] = []
    original = csv_prices.read_raw_file

    def counted(path, display, issues):
        read.append(path.name)
        return original(path, display, issues)

    monkeypatch.setattr(csv_prices, "read_raw_file", counted)
    return read


def bad_high(text: str, day: str) -> str:
    """The file with a word for `day`'s High (Date,Open,High,...): a cell the engine reads."""
    return re.sub(rf"(?m)^({day},[^,]*,)[^,]*", r"\1x", text, count=1)


def same(left, right) -> None:
    for name in ("close", "high", "low", "volume", "carried"):
        pd.testing.assert_frame_equal(getattr(left, name), getattr(right, name), check_exact=True)
    assert sorted(map(str, left.issues)) == sorted(map(str, right.issues))
    assert left.universes == right.universes and left.members == right.members


def test_an_unchanged_folder_is_read_from_the_cache(tmp_path, monkeypatch):
    bars = frames()
    bars["M03"] = bars["M03"].drop(bars["M03"].index[50])  # an issue, to see issues cached too
    folder = write(tmp_path / "data", bars)
    first = load_folder(folder, cache_dir=tmp_path / "cache")
    read = counting_reads(monkeypatch)
    again = load_folder(folder, cache_dir=tmp_path / "cache")
    assert read == []
    same(again, first)
    same(again, load_folder(folder))


def changed_once(folder, cache_dir) -> None:
    """Load, then load after a change: the rows are kept from a folder's first change on."""
    load_folder(folder, cache_dir=cache_dir)
    path = folder / "prices" / "SPY.csv"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    load_folder(folder, cache_dir=cache_dir)


def test_the_rows_are_kept_from_a_folder_s_first_change_on(tmp_path, monkeypatch):
    """A first load writes one parsed copy (its result); a load after a change parses every file and keeps
    their rows too; from then on a change parses only the files that changed."""
    folder = write(tmp_path / "data", frames())
    load_folder(folder, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("rows*"))
    path = folder / "prices" / "SPY.csv"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    read = counting_reads(monkeypatch)
    same(load_folder(folder, cache_dir=tmp_path / "cache"), load_folder(folder))
    assert len(read) == 2 * len(list((folder / "prices").glob("*.csv")))  # every file, then the reference
    assert list((tmp_path / "cache").rglob("rows.json"))
    read.clear()
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    load_folder(folder, cache_dir=tmp_path / "cache")
    assert read == ["SPY.csv"]


def test_a_changed_added_or_removed_file_is_the_only_one_parsed(tmp_path, monkeypatch):
    folder = write(tmp_path / "data", frames())
    changed_once(folder, tmp_path / "cache")
    changed = folder / "prices" / "M01.csv"
    changed.write_text(bad_high(changed.read_text(), "2020-06-01"))
    (folder / "prices" / "NEW.csv").write_text("Date,Close\n2021-04-08,5\n2021-04-09,6\n")
    (folder / "prices" / "M02.csv").unlink()
    read = counting_reads(monkeypatch)
    data = load_folder(folder, cache_dir=tmp_path / "cache")
    assert sorted(read) == ["M01.csv", "NEW.csv"]
    same(data, load_folder(folder))
    assert "M02" not in data.close.columns and data.close["NEW"].dropna().tolist() == [5.0, 6.0]
    assert any(str(i).startswith("prices/M01.csv") and "not a number" in str(i) for i in data.issues)


def test_a_damaged_cache_is_a_miss_not_an_error(tmp_path):
    folder = write(tmp_path / "data", frames())
    load_folder(folder, cache_dir=tmp_path / "cache")
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            path.write_bytes(b"garbage")
    same(load_folder(folder, cache_dir=tmp_path / "cache"), load_folder(folder))


def test_an_unwritable_cache_leaves_the_data_alone(tmp_path):
    folder = write(tmp_path / "data", frames())
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    same(load_folder(folder, cache_dir=blocked), load_folder(folder))


def test_touching_a_file_without_changing_it_reparses_just_that_file(tmp_path, monkeypatch):
    folder = write(tmp_path / "data", frames())
    changed_once(folder, tmp_path / "cache")
    path = folder / "prices" / "SPY.csv"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000))
    read = counting_reads(monkeypatch)
    load_folder(folder, cache_dir=tmp_path / "cache")
    assert read == ["SPY.csv"]


def test_a_second_command_reuses_the_first_ones_metrics_work(tmp_path, monkeypatch, capsys):
    """`metrics` twice on an unchanged folder: the second computes no (session x member) aggregates."""
    from bot.runtime.cli import main
    from signals import engine as engine_module

    folder = write(tmp_path / "data", frames())
    monkeypatch.setenv("ROTATION_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["metrics", "--json", "--data", str(folder)]) == 0
    first = capsys.readouterr().out
    computed: list[int] = []
    original = engine_module.aggregate_rows_resumed
    monkeypatch.setattr(engine_module, "aggregate_rows_resumed",
                        lambda values, first=0, sectors=None, running=None:
                        computed.append(1) or original(values, first, sectors, running))
    read = counting_reads(monkeypatch)
    assert main(["metrics", "--json", "--data", str(folder)]) == 0
    assert capsys.readouterr().out == first
    assert computed == [] and read == []
    assert main(["metrics", "--json", "--data", str(folder), "--as-of", "2021-01-04"]) == 0  # earlier: a slice
    assert computed == [] and '"as_of": "2021-01-04"' in capsys.readouterr().out


def test_a_cut_short_cache_is_a_miss_not_an_error(tmp_path):
    """The arrays follow the pickled object in the file: a write cut off mid-array is a miss."""
    folder = write(tmp_path / "data", frames())
    load_folder(folder, cache_dir=tmp_path / "cache")
    (result,) = (tmp_path / "cache").rglob("result.pickle")
    result.write_bytes(result.read_bytes()[: result.stat().st_size // 2])
    same(load_folder(folder, cache_dir=tmp_path / "cache"), load_folder(folder))


def test_a_copy_written_behind_is_the_data_as_loaded_while_the_data_is_in_use(tmp_path, monkeypatch):
    """A feed writes the parsed copy on a thread of its own while the command computes its answer; the
    answer's use of the data (which caches lookups inside it) neither breaks the write nor changes it."""
    from bot.runtime.feeds import FolderFeed
    from signals.evaluate import evaluate
    from signals.settings import load_detector_settings

    folder = write(tmp_path / "data", frames())
    feed = FolderFeed(folder, tmp_path / "cache")
    data = feed.load()
    evaluate(data, engine=feed.engine(load_detector_settings()))  # uses the data while its copy is written
    feed.close()  # waits for the writes
    reference = load_folder(folder)
    read = counting_reads(monkeypatch)
    again = FolderFeed(folder, tmp_path / "cache")
    same(again.load(), reference)
    assert read == []  # read back whole from the copy
    again.close()


def test_arrays_read_from_the_copy_are_the_readers_own(tmp_path):
    """Mapped from the file copy on write: a reader may change its arrays; the copy stays as written."""
    import numpy as np

    from signals.sources.folder_cache import FolderCache

    cache = FolderCache(tmp_path / "cache", tmp_path)
    key = {"prices": {}}
    cache.save_result(key, {"close": np.arange(1000.0), "flags": np.array([True, False])})
    first = cache.load_result(key)
    assert first["close"].flags.writeable and first["close"].flags.aligned
    first["close"][0] = -5.0
    again = cache.load_result(key)
    assert again["close"][0] == 0.0 and again["close"][-1] == 999.0 and again["flags"].tolist() == [True, False]


def test_a_disk_that_fills_mid_write_leaves_no_half_written_copy(tmp_path, caplog):
    import errno

    from signals.sources.folder_cache import FolderCache

    cache = FolderCache(tmp_path / "cache", tmp_path, write_behind=True)

    def fills_up(handle):
        handle.write(b"x" * 4096)
        raise OSError(errno.ENOSPC, "No space left on device")

    cache._atomic("result.pickle", fills_up)
    cache.flush()
    assert list((tmp_path / "cache").rglob("*.tmp")) == [] and not list((tmp_path / "cache").rglob("result.pickle"))
    assert "could not write the folder cache" in caplog.text and "No space left" in caplog.text
