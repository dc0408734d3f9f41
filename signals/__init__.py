"""rotation-bot's analysis engine: market data, metrics, detectors and replay.

Knows nothing of Telegram, subscriptions or scheduling; usable from a notebook::

    from signals import load_folder, load_sample, compute_metrics, evaluate, replay
    data = load_folder("../shared/data/market")  # or load_sample(): two years packaged with the code
    metrics = compute_metrics(data)
    result = replay(data, start="2023-01-01")
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use, so that importing `signals.errors` (the command line does, to print one-line
# errors) does not pay for pandas before anything happens.
_EXPORTS = {
    "ConfigError": "signals.errors",
    "DataError": "signals.errors",
    "DataIssue": "signals.market_data",
    "DetectorSettings": "signals.settings",
    "Evaluation": "signals.evaluate",
    "MarketData": "signals.market_data",
    "Metrics": "signals.metrics",
    "ReplayResult": "signals.replay",
    "Signal": "signals.signal",
    "compute_metrics": "signals.metrics",
    "evaluate": "signals.evaluate",
    "load_detector_settings": "signals.settings",
    "load_folder": "signals.sources.folder",
    "load_sample": "signals.sources.sample",
    "replay": "signals.replay",
    "replay_day_by_day": "signals.replay",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'signals' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = [
    "ConfigError",
    "DataError",
    "DataIssue",
    "DetectorSettings",
    "Evaluation",
    "MarketData",
    "Metrics",
    "ReplayResult",
    "Signal",
    "compute_metrics",
    "evaluate",
    "load_detector_settings",
    "load_folder",
    "load_sample",
    "replay",
    "replay_day_by_day",
]
