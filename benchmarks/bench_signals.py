"""Signals engine benchmark on the full development set: load, metrics, replay.

    python -m benchmarks.bench_signals [--data DIR] [--repeat N] [--full-day-by-day]

Every ratio compares against a baseline measured in the same run on the same machine:
- load: our grouped C-parser loader vs one `pd.read_csv` per file joined with `pd.concat`;
- metrics: our one-call wide rolling vs pandas' column-by-column rolling on the same frames;
- replay: the vectorized replay vs the live path run once per session (day by day), whose output
  must be identical. By default day-by-day runs over 2023 (250 sessions) and is scaled to the full
  span by its measured cost per session; --full-day-by-day runs every session (several minutes).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd

from signals.metrics import compute_metrics, rolling
from signals.replay import replay, replay_day_by_day
from signals.settings import load_detector_settings
from signals.sources.folder import load_folder

DEFAULT_DATA = Path(os.environ.get("ROTATION_MARKET_DATA", Path(__file__).resolve().parents[2] / "shared/data/market"))
START, END = "2018-01-01", "2024-03-08"


def timed(function: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median wall time of `repeat` runs (after one warm-up), and the last result."""
    result = function()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def naive_load(folder: Path) -> pd.DataFrame:
    """Baseline: what most code does, one read_csv per file and a concat."""
    frames = {}
    for path in sorted((folder / "prices").glob("*.csv")):
        frame = pd.read_csv(path, index_col="Date", parse_dates=True)
        frames[path.stem] = frame["Adj Close"] if "Adj Close" in frame else frame["Close"]
    return pd.concat(frames, axis=1).sort_index()


def column_by_column(values, window, how):
    """pandas' own rolling, one column at a time (the baseline of our one-call rolling of wide frames)."""
    if isinstance(values, np.ndarray):
        return getattr(pd.Series(values).rolling(window, min_periods=window), how)().to_numpy()
    return getattr(values.rolling(window, min_periods=window), how)()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--full-day-by-day", action="store_true")
    args = parser.parse_args(argv)
    if not (args.data / "prices").is_dir():
        print(f"benchmark needs the development data set; not found at {args.data}", file=sys.stderr)
        return 1
    settings = load_detector_settings()

    load_s, data = timed(lambda: load_folder(args.data), args.repeat)
    naive_load_s, _ = timed(lambda: naive_load(args.data), max(1, args.repeat // 2))
    metrics_s, metrics = timed(lambda: compute_metrics(data, settings), args.repeat)
    with mock.patch.object(rolling, "_rolling", column_by_column):
        naive_metrics_s, naive_metrics = timed(lambda: compute_metrics(data, settings), max(1, args.repeat // 2))
    for group in ("breadth", "breakout", "rates"):
        pd.testing.assert_frame_equal(metrics.group(group), naive_metrics.group(group), rtol=1e-9)
    replay_s, fast = timed(lambda: replay(data, START, END, settings), args.repeat)
    peak = peak_rss_mib()

    span = "all sessions" if args.full_day_by_day else "2023"
    check_start, check_end = (START, END) if args.full_day_by_day else ("2023-01-01", "2023-12-31")
    began = time.perf_counter()
    slow = replay_day_by_day(data, check_start, check_end, settings)
    day_by_day_s = time.perf_counter() - began
    window_fast = replay(data, check_start, check_end, settings)
    identical = [s.to_dict() for s in slow.signals] == [s.to_dict() for s in window_fast.signals]
    per_session = day_by_day_s / slow.sessions
    full_day_by_day_s = per_session * fast.sessions

    print(f"data: {args.data} -> {data.close.shape[0]} sessions x {data.close.shape[1]} tickers, "
          f"{len(data.members)} constituents with prices")
    print(f"{'step':<34}{'seconds':>10}{'baseline':>10}{'speed-up':>10}")
    print(f"{'load folder':<34}{load_s:>10.3f}{naive_load_s:>10.3f}{naive_load_s / load_s:>9.1f}x")
    print(f"{'all metrics':<34}{metrics_s:>10.3f}{naive_metrics_s:>10.3f}{naive_metrics_s / metrics_s:>9.1f}x")
    print(f"{'replay ' + START + '..' + END:<34}{replay_s:>10.3f}{full_day_by_day_s:>10.1f}"
          f"{full_day_by_day_s / replay_s:>9.0f}x   (baseline: day by day, {fast.sessions} sessions)")
    print(f"{'load + metrics + replay':<34}{load_s + metrics_s + replay_s:>10.3f}   (target < 3 s)")
    print(f"day by day over {span}: {slow.sessions} sessions in {day_by_day_s:.1f} s "
          f"({per_session * 1000:.0f} ms/session); identical to vectorized: {identical} "
          f"({len(slow.signals)} signals)")
    print(f"peak memory (max RSS) after load, metrics and replay: {peak:.0f} MiB (target < 1024)")
    print(f"signals 2018-01-01..2024-03-08: {len(fast.signals)}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
