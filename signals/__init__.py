"""rotation-bot's analysis engine: market data, metrics, detectors and replay.

Knows nothing of Telegram, subscriptions or scheduling; usable from a notebook::

    from signals import load_folder, compute_metrics, evaluate, replay
    data = load_folder("../shared/data/market")
    metrics = compute_metrics(data)
    result = replay(data, start="2023-01-01")
"""

from signals.errors import ConfigError, DataError
from signals.evaluate import Evaluation, evaluate
from signals.market_data import DataIssue, MarketData
from signals.metrics import Metrics, compute_metrics
from signals.replay import ReplayResult, replay, replay_day_by_day
from signals.settings import DetectorSettings, load_detector_settings
from signals.signal import Signal
from signals.sources.folder import load_folder

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
    "replay",
    "replay_day_by_day",
]
