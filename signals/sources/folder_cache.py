"""A parsed copy of an offline folder, so a command does not parse 2,244 CSV files at every start.

Keyed by each file's size and modification time:
- nothing changed: the loaded `MarketData` is read back whole (one pickle, a fraction of a second);
- some files changed, appeared or went: only those are parsed again; every other file's rows come
  from the chunk caches written at the last parse, and the calendar rules run over the whole again.
  The rows are kept from a folder's first change on: a folder loaded once and never changed (a test
  bed) keeps one parsed copy, its result, and its first load does not write the rows as well.

The cache is a convenience: any problem reading it (a partial write, a version change, a
corrupt file) is a miss, never an error, and writes go to a temporary file renamed into place.
"""

from __future__ import annotations

import hashlib
import functools
import json
import logging
import mmap
import os
import pickle
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

from signals.market_data import DataIssue
from signals.sources.csv_prices import ParsedChunk

log = logging.getLogger(__name__)

VERSION = 7  # 2: causal bad prints, the price basis; 3: warnings that count right; 4: sessions from 1985;
# 5: results with their arrays out of band; 6: the engine's aggregates as arrays; 7: rows written as parsed


@dataclass(frozen=True)
class Stamp:
    """What says a file is unchanged: its size and modification time (ns)."""

    size: int
    mtime_ns: int


@dataclass(frozen=True)
class StoredRows:
    """The rows of every file as last parsed, and what says which file they are."""

    stamps: dict[str, Stamp]
    coded: list[str]  # the file name of the rows with each code
    read: set[str]  # the files that could be read: the columns
    chunks: list[ParsedChunk]
    issues: dict[str, list[DataIssue]]  # per file name


def stamps(paths: list[Path]) -> dict[str, Stamp]:
    out = {}
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue
        out[path.name] = Stamp(info.st_size, info.st_mtime_ns)
    return out


class FolderCache:
    """One folder's cache directory under `root` (one per folder path).

    With `write_behind`, writes go to one background thread, in order, while the caller goes on
    (a first run writes ~150 MB while it computes its answer; the writes let go of the GIL);
    `flush` waits for them. Without it, each write is done when its method returns.
    """

    def __init__(self, root: Path, folder: Path, write_behind: bool = False) -> None:
        digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
        self.dir = root / "folders" / digest
        self.folder = folder
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="folder-cache") if write_behind else None
        self._pending: list[Future[None]] = []
        self._token = secrets.token_hex(4)  # names this write's chunk files

    def flush(self) -> None:
        """Wait for the writes in flight (each logs its own failure: the cache is a convenience)."""
        pending, self._pending = self._pending, []
        for write in pending:
            write.result()

    # the whole result ----------------------------------------------------------------------------

    def load_result(self, key: dict[str, Any], name: str = "result") -> Any | None:
        """What was saved under `name` for exactly these files' stamps (the loaded data by default), or None.

        The arrays are mapped from the file, copy on write, not read: a command touches only the pages of
        what it reads (a warm `metrics` reads a few columns of 2,244), and may still write to its copy.
        """
        try:
            with (self.dir / f"{name}.pickle").open("rb") as handle:
                stored_key = pickle.load(handle)
                if stored_key != _plain_key(key):
                    return None
                body, sizes = pickle.load(handle)
                starts = _aligned_starts(handle.tell(), sizes)
                if starts and starts[-1] + sizes[-1] > os.fstat(handle.fileno()).st_size:
                    raise EOFError("the cached arrays are cut short")
                mapped = memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)) if sizes else None
            buffers = [mapped[start:start + size] for start, size in zip(starts, sizes)] if mapped else []
            return pickle.loads(body, buffers=buffers)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be read is a miss
            log.debug("folder cache unreadable (%s); parsing again", exc)
            return None

    def has_result(self, name: str = "result") -> bool:
        """Whether a result was saved under `name`, for whichever files."""
        return (self.dir / f"{name}.pickle").is_file()

    def save_result(self, key: dict[str, Any], result: Any, name: str = "result") -> None:
        """The object is pickled now, its arrays' bytes out of band (no copy): a write behind then only
        copies bytes, while the caller may go on using (and caching lookups in) the object itself."""
        arrays: list[pickle.PickleBuffer] = []
        body = pickle.dumps(result, protocol=5, buffer_callback=arrays.append)
        raw = [array.raw() for array in arrays]

        def write(handle: BinaryIO) -> None:
            sizes = [view.nbytes for view in raw]
            pickle.dump(_plain_key(key), handle, protocol=5)
            pickle.dump((body, sizes), handle, protocol=5)
            for start, view in zip(_aligned_starts(handle.tell(), sizes), raw):
                handle.write(b"\0" * (start - handle.tell()))
                handle.write(view)

        self._atomic(f"{name}.pickle", write)

    # per-file parsed rows --------------------------------------------------------------------------

    def load_rows(self) -> StoredRows | None:
        """The rows of every file as last parsed, or None."""
        try:
            manifest = json.loads((self.dir / "rows.json").read_text())
            if manifest.get("version") != VERSION:
                return None
            chunks = []
            for name in manifest["chunks"]:
                with np.load(self.dir / name) as archive:
                    values = {key[2:]: archive[key] for key in archive.files if key.startswith("v:")}
                    chunks.append(ParsedChunk(archive["codes"], archive["dates"], values, archive["lines"]))
            files = {name: Stamp(*stamp) for name, stamp in manifest["stamps"].items()}
            issues = {name: [DataIssue(*fields) for fields in listed] for name, listed in manifest["issues"].items()}
            return StoredRows(files, manifest["coded"], set(manifest["read"]), chunks, issues)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be read is a miss
            log.debug("folder row cache unreadable (%s); parsing everything", exc)
            return None

    def save_rows(self, files: dict[str, Stamp], coded: list[str], read: set[str], chunks: list[ParsedChunk],
                  issues: dict[str, list[DataIssue]]) -> None:
        """Every chunk of rows, then what they are (`save_manifest`)."""
        for number, chunk in enumerate(chunks):
            self.save_chunk(number, chunk)
        self.save_manifest(files, coded, read, len(chunks), issues)

    def save_chunk(self, number: int, chunk: ParsedChunk) -> None:
        """One chunk of rows, as it is parsed: a first load need not hold every chunk until the end."""
        arrays = {"codes": chunk.codes, "dates": chunk.dates,
                  "lines": chunk.lines if chunk.lines is not None else np.zeros(len(chunk.dates), np.int32)}
        arrays.update({f"v:{key}": value for key, value in chunk.values.items()})
        self._atomic(self._chunk_name(number), functools.partial(_save_arrays, arrays=arrays))

    def save_manifest(self, files: dict[str, Stamp], coded: list[str], read: set[str], chunks: int,
                      issues: dict[str, list[DataIssue]]) -> None:
        """What the chunks saved since the last manifest are: `coded[code]` is the file of the rows with that
        code, `read` the files that could be read (a file with no valid row is one, and still a column).
        Chunk files carry this write's own token, so a manifest never names another write's chunks; the
        chunks of earlier writes go once the manifest is in place."""
        names = [self._chunk_name(number) for number in range(chunks)]
        manifest = {"version": VERSION, "chunks": names, "coded": coded, "read": sorted(read),
                    "stamps": {name: [s.size, s.mtime_ns] for name, s in files.items()},
                    "issues": {name: [[i.file, i.row, i.message, i.severity] for i in listed]
                               for name, listed in issues.items()}}
        self._atomic("rows.json", lambda handle: handle.write(json.dumps(manifest).encode()))
        self._after_writes(functools.partial(self._remove_chunks_but, set(names)))
        self._token = secrets.token_hex(4)

    def _chunk_name(self, number: int) -> str:
        return f"rows-{self._token}-{number:04d}.npz"

    def _remove_chunks_but(self, kept: set[str]) -> None:
        try:
            for stale in self.dir.glob("rows-*.npz"):
                if stale.name not in kept:
                    stale.unlink(missing_ok=True)
        except OSError as exc:  # left for the next write to remove
            log.warning("could not remove old chunks of the folder cache in %s: %s", self.dir, exc)

    def _atomic(self, name: str, write: Callable[[BinaryIO], object]) -> None:
        if self._writer is not None:
            self._pending.append(self._writer.submit(self._write, name, write))
        else:
            self._write(name, write)

    def _after_writes(self, action: Callable[[], None]) -> None:
        """`action` once the writes asked for before it are done (in order, behind the caller when writing behind)."""
        if self._writer is not None:
            self._pending.append(self._writer.submit(action))
        else:
            action()

    def _write(self, name: str, write: Callable[[BinaryIO], object]) -> None:
        temporary = self.dir / f".{name}.{os.getpid()}.tmp"
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            with temporary.open("wb") as handle:
                write(handle)
            temporary.replace(self.dir / name)
        except OSError as exc:  # a read-only or full disk: the cache is skipped, the data is not
            log.warning("could not write the folder cache in %s: %s", self.dir, exc)
            try:
                temporary.unlink(missing_ok=True)  # a full disk keeps no half-written copy
            except OSError:
                pass  # the folder itself is unusable: nothing was left in it


ALIGNMENT = 64  # each cached array starts at a multiple of this: mapped arrays are aligned as numpy's own


def _aligned_starts(offset: int, sizes: list[int]) -> list[int]:
    """Where each array starts in the file, after `offset`: at the next multiple of ALIGNMENT."""
    starts = []
    for size in sizes:
        offset += -offset % ALIGNMENT
        starts.append(offset)
        offset += size
    return starts


def _plain_key(key: dict[str, Any]) -> dict[str, Any]:
    return {"version": VERSION, **key}


def _save_arrays(handle: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as its bool flag
