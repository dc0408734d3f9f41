"""The metrics behind the charts and the dashboard's history: the last tick's, or computed again once
after a restart; each chart drawn when first asked after a session, then stored.

Built before the services and the deliverer (whose alert photos are these charts), so nothing is
wired after construction.
"""

from __future__ import annotations

import asyncio

from bot.runtime.feeds import DataFeed
from bot.storage import Store
from signals.engine import MetricsEngine
from signals.metrics import Metrics
from signals.settings import DetectorSettings


class Readings:
    def __init__(self, store: Store, feed: DataFeed, settings: DetectorSettings, engine: MetricsEngine) -> None:
        self._store = store
        self._feed = feed
        self._settings = settings
        self._engine = engine
        self._latest: Metrics | None = None
        self._lock = asyncio.Lock()  # a burst of asks draws (or computes) once

    def remember(self, metrics: Metrics) -> None:
        """The last tick's metrics: charts of its session need no second computation."""
        self._latest = metrics

    async def chart(self, name: str) -> tuple[str, bytes] | None:
        """The chart of the latest evaluated session: drawn once per session, when first asked.

        Drawing takes about a third of a second, so ticks do not draw charts nobody asks for; the
        PNG is stored, so later asks (and restarts) send the bytes. None before any evaluation.
        """
        snapshot = await asyncio.to_thread(self._store.latest_snapshot)
        if snapshot is None:
            return None
        as_of = snapshot["as_of"]
        stored = await asyncio.to_thread(self._store.chart, name)
        if stored is not None and stored[0] == as_of:
            return stored
        async with self._lock:
            stored = await asyncio.to_thread(self._store.chart, name)
            if stored is not None and stored[0] == as_of:
                return stored
            png = await asyncio.to_thread(self._draw, name, as_of)
            await asyncio.to_thread(self._store.save_chart, name, as_of, png)
            return as_of, png

    async def latest_metrics(self) -> Metrics | None:
        """The metrics of the latest stored session (the dashboard's history): the last tick's, or
        computed again after a restart, once, off the loop."""
        snapshot = await asyncio.to_thread(self._store.latest_snapshot)
        if snapshot is None:
            return None
        async with self._lock:
            return await asyncio.to_thread(self._of_session, snapshot["as_of"])

    def _of_session(self, as_of: str) -> Metrics:
        metrics = self._latest
        if metrics is None or metrics.sessions[-1].strftime("%Y-%m-%d") != as_of:
            metrics = self._engine.compute(self._feed.load().as_of(as_of))  # after a restart
            self._latest = metrics
        return metrics

    def _draw(self, name: str, as_of: str) -> bytes:
        from bot.presentation.charts import render_chart  # matplotlib is loaded only when a chart is drawn

        return render_chart(name, self._of_session(as_of), self._settings)
