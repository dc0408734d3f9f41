"""Where a tick's market data comes from: the offline folder, or the live sources behind the cache.

`update` brings the data up to the expected session (a no-op for a folder, where "now" is its last
session); `load` builds the MarketData; `status_lines` is what /status says about the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from signals.engine import MetricsEngine
from signals.market_data import MarketData
from signals.settings import DetectorSettings
from signals.sources.folder import folder_key, load_folder
from signals.sources.folder_cache import FolderCache

if TYPE_CHECKING:  # the live sources (httpx, the price cache) are imported by a live feed only
    from bot.runtime.config import AppConfig
    from signals.sources.live import LiveSource, Progress


@dataclass(frozen=True)
class FeedUpdate:
    outcome: str  # "complete", "partial" (some requests failed) or "stale" (the expected session is missing)
    notes: tuple[str, ...] = ()
    failed: dict[str, str] = field(default_factory=dict)


class DataFeed(Protocol):
    live: bool

    def update(self, expected_session: str | None, progress: Progress | None = None) -> FeedUpdate: ...

    def load(self) -> MarketData: ...

    def status_lines(self, detail: bool = False) -> list[str]: ...

    def record_history(self) -> MarketData | None:
        """Index history longer than `load`'s, for the index-level keys' records; None: `load`'s is the longest."""
        ...

    def cancel(self) -> None: ...

    def close(self) -> None: ...


class FolderFeed:
    live = False

    def __init__(self, folder: Path, cache_dir: Path | None = None) -> None:
        self.folder = folder
        # the parsed copy is written behind: a first run computes its answer meanwhile; `close` waits
        self.cache = FolderCache(cache_dir, folder, write_behind=True) if cache_dir is not None else None
        self._loaded: tuple[dict[str, Any], MarketData] | None = None
        self._saved_rows: dict[str, int] = {}

    def update(self, expected_session: str | None, progress: Progress | None = None) -> FeedUpdate:
        return FeedUpdate("complete")

    def load(self) -> MarketData:
        """The folder's data, kept in memory: read again (changed files only) when a file changed."""
        key = folder_key(self.folder)
        if self._loaded is None or self._loaded[0] != key:
            self._loaded = (key, load_folder(self.folder, key=key, cache=self.cache))
        return self._loaded[1]

    def engine(self, settings: DetectorSettings) -> MetricsEngine:
        """An engine for this folder's data (as last loaded) that starts from the work saved for the
        unchanged folder."""
        engine = MetricsEngine(settings)
        data = self._loaded[1] if self._loaded is not None else self.load()
        if self.cache is not None and self._loaded is not None:
            state = self.cache.load_result(self._loaded[0], "engine")
            if isinstance(state, dict):
                engine.restore(data, state)
        self._saved_rows = engine.sessions_known()
        return engine

    def remember(self, engine: MetricsEngine) -> None:
        """Save the engine's work for the next command on the same folder (when it learned something)."""
        known = engine.sessions_known()
        if self.cache is not None and self._loaded is not None and known != self._saved_rows:
            self.cache.save_result(self._loaded[0], engine.state(), "engine")
            self._saved_rows = known

    def status_lines(self, detail: bool = False) -> list[str]:
        where = f" {self.folder}" if detail else ""  # a server path is for the administrators
        return [f"Source: offline folder{where} (its last session is 'now')"]

    def record_history(self) -> MarketData | None:
        return None  # the folder is the history: its records are the longest there are

    def cancel(self) -> None:
        """Nothing to stop: a folder is read in one go."""

    def close(self) -> None:
        if self.cache is not None:
            self.cache.flush()


class ReplayFeed:
    """History already in memory, with a "now" the caller moves: `load` shows the bars up to it only.

    `rotation-bot demo` ticks the packaged sample session by session through it; the slice keeps
    the data's origin, so the engine computes only each new session, as a live bot's would.
    """

    live = False

    def __init__(self, data: MarketData, now: pd.Timestamp) -> None:
        self.data = data
        self.now = now

    def update(self, expected_session: str | None, progress: Progress | None = None) -> FeedUpdate:
        return FeedUpdate("complete")

    def load(self) -> MarketData:
        return self.data.as_of(self.now)

    def status_lines(self, detail: bool = False) -> list[str]:
        return [f"Source: {self.data.source or 'history in memory'}, replayed session by session "
                f"(now: {self.now:%Y-%m-%d})"]

    def record_history(self) -> MarketData | None:
        return None

    def cancel(self) -> None:
        """Nothing to stop: the data is in memory."""

    def close(self) -> None:
        pass


class LiveFeed:
    live = True

    def __init__(self, source: LiveSource) -> None:
        self.source = source
        self._loaded: MarketData | None = None
        self._new_bars = False
        self._history: MarketData | None = None
        self._history_stale = True

    @classmethod
    def at(cls, database: str | Path) -> LiveFeed:
        from signals.sources.live import LiveSource
        from signals.sources.price_cache import PriceCache

        return cls(LiveSource(PriceCache(database)))

    def update(self, expected_session: str | None, progress: Progress | None = None) -> FeedUpdate:
        report = self.source.refresh(expected_session=expected_session, progress=progress)
        if report.rows or report.refetched:
            self._history_stale = True
        if report.refetched or report.lists_changed:
            self._loaded = None  # history revised or membership changed: the next load reads the cache again
        elif report.rows:
            self._new_bars = True  # the next load appends them
        notes = list(report.notes)
        if report.failed:
            shown = ", ".join(sorted(report.failed)[:8])
            notes.append(f"{len(report.failed)} tickers failed ({shown}); they are retried next refresh")
        if report.stale:
            notes.append(f"Yahoo has no bar for {expected_session} yet (data ends {report.last_session})")
        return FeedUpdate(report.outcome, tuple(notes), dict(report.failed))

    def load(self) -> MarketData:
        """The cache's data, kept in memory; a refresh's new sessions are appended, not re-read."""
        if self._loaded is not None and self._new_bars:
            self._loaded = self.source.extend(self._loaded)
        if self._loaded is None:
            self._loaded = self.source.load()
        self._new_bars = False
        return self._loaded

    def record_history(self) -> MarketData | None:
        """The cache's index history from 1987 (`LiveSource.index_history`), read again after a refresh wrote bars."""
        if self._history_stale:
            self._history, self._history_stale = self.source.index_history(), False
        return self._history

    def cancel(self) -> None:
        """A refresh in progress stops at its next batch (Ctrl-C, SIGTERM)."""
        self.source.cancel()

    def close(self) -> None:
        self.source.cache.close()

    def status_lines(self, detail: bool = False) -> list[str]:
        from signals.sources.universe import LIST_SOURCES

        cache = self.source.cache
        lines = ["Source: Yahoo Finance + FRED, cached in SQLite"]
        last = cache.last_refresh()
        if last:
            lines.append(f"Last refresh: {last['outcome']}, data to {last['last_session'] or 'none'}")
        failing = cache.failing_tickers()
        if failing:
            shown = f": {', '.join(list(failing)[:10])}" if detail else ""
            lines.append(f"Failing tickers ({len(failing)}){shown}")
        for name in self.source.universe_fetchers:
            info = cache.universe_info(name)
            label = LIST_SOURCES[name].label if name in LIST_SOURCES else name
            if not info["fetched_at"]:
                lines.append(f"{label} list: not fetched yet")
                continue
            fetched = datetime.fromisoformat(info["fetched_at"])
            fetched = fetched if fetched.tzinfo else fetched.replace(tzinfo=timezone.utc)
            age = (datetime.now(timezone.utc) - fetched).days
            count = len(cache.universe(name))
            late = " (refresh failing)" if age > 7 else ""
            lines.append(f"{label} list: {count:,} members, {age} days old, from {info['source']}{late}")
        return lines


def data_feed(config: AppConfig) -> DataFeed:
    """The offline folder when ROTATION_DATA is set, else Yahoo + FRED behind the cache in the database."""
    if config.rotation_data is not None:
        return FolderFeed(config.rotation_data, config.cache_dir)
    return LiveFeed.at(config.database)
