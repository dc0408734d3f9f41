"""Scale benchmark: the 2,244-ticker development folder and a synthetic 5,000 tickers x 25 years.

    python -m benchmarks.bench_scale [--data DIR] [--no-synthetic] [--repeat N]

Each figure comes with a baseline measured in the same run on the same machine:
- CLI `metrics --json`, whole process: the first run (empty cache) against one `pd.read_csv` per file
  (the floor any CSV reader pays), the second (parsed copy cached) against `import pandas`, both with
  Python's default of writing bytecode (`users_python`);
- loading the folder: peak memory of a fresh process, and bytes held per (session x ticker) cell;
- a tick's engine work (both universes, all metrics, detectors, records) with the live engine, against
  the floor of the last session's S&P 500 breadth alone (its member aggregates over the year of rows
  it reads, all 253 computed, as the issue measured it), and what computing all history again costs;
- `rotation-bot --help`, against `import pandas`;
- synthetic 5,000 x 25 years (generated in a temporary folder, never committed): load, metrics,
  replay and peak memory, with growth against the real folder per cell.
Every process is fresh (a subprocess), so peak memory is that step's own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(os.environ.get("ROTATION_MARKET_DATA", Path(__file__).resolve().parents[2] / "shared/data/market"))
PROBE = r"""
import json, resource, sys, time
began = time.perf_counter()
{body}
result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
"""


def probe(body: str, env: dict | None = None) -> dict:
    """Run `body` in a fresh interpreter; it fills `result`; peak RSS is added."""
    code = PROBE.format(body=body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def wall(command: list[str], env: dict) -> float:
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return time.perf_counter() - began


def users_python() -> dict[str, str]:
    """The environment with Python's default of writing bytecode, as a user's has: pandas runs from the
    bytecode its install compiled, and so does an installed rotation-bot; a checkout without
    PYTHONDONTWRITEBYTECODE writes its own at the first run. With it set (as some sandboxes do), every
    run of an editable install compiles the project's modules again (about 0.06 s here)."""
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def cli_figures(data: Path, repeat: int) -> dict:
    """Each figure the median of `repeat` runs, the baselines' runs taken between ours: this machine's speed
    drifts by a tenth over minutes, and a baseline measured once, minutes apart, moved the ratio as much."""
    cli = [sys.executable, "-m", "bot.runtime.cli"]
    naive_read_csv = f"""
import pandas as pd
from pathlib import Path
for path in sorted(Path({str(data)!r}, "prices").glob("*.csv")):
    pd.read_csv(path)
result = {{"s": time.perf_counter() - began}}
"""
    firsts, seconds, naives = [], [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            env = {**users_python(), "ROTATION_CACHE_DIR": cache}
            firsts.append(wall([*cli, "metrics", "--json", "--data", str(data)], env))
            naives.append(probe(naive_read_csv)["s"])
            seconds.append(wall([*cli, "metrics", "--json", "--data", str(data)], env))
    env = users_python()
    helps, pandas_import = [], []
    for _ in range(repeat):
        helps.append(wall([*cli, "--help"], env))
        pandas_import.append(probe("import pandas\nresult = {'s': time.perf_counter() - began}")["s"])
    return {"first": statistics.median(firsts), "second": statistics.median(seconds),
            "naive_read_csv": statistics.median(naives), "help": statistics.median(helps),
            "import_pandas": statistics.median(pandas_import)}


def load_figures(data: Path) -> dict:
    return probe(f"""
from signals.sources.folder import load_folder
data = load_folder({str(data)!r})
result = {{"s": time.perf_counter() - began, "sessions": data.close.shape[0], "tickers": data.close.shape[1]}}
""")


def engine_figures(data: Path, repeat: int, processes: int = 3) -> dict:
    """The tick, all history again and the floor, each the median over `processes` fresh processes of the
    median of `repeat` samples: a tick is milliseconds, and one process's figures move by a tenth."""
    runs = [_engine_probe(data, repeat) for _ in range(processes)]
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


def _engine_probe(data: Path, repeat: int) -> dict:
    return probe(f"""
import statistics
from signals.engine import MetricsEngine
from signals.evaluate import evaluate
from signals.metrics.breadth import member_aggregates
from signals.replay import track_records
from signals.sources.folder import load_folder
data = load_folder({str(data)!r})
sessions = data.sessions
engine = MetricsEngine()

def tick(session):  # what a tick's engine work is: metrics, signals, each key's record, the active keys
    evaluation = evaluate(data, as_of=session, engine=engine)
    track_records(data.as_of(session), evaluation.analysis)
    return evaluation.analysis.active

tick(sessions[-{repeat} - 2])  # the bot's first tick: all history
ticks, full, floor = [], [], []
for session in sessions[-{repeat} - 1:]:
    t = time.perf_counter(); tick(session); ticks.append(time.perf_counter() - t)
for session in sessions[-{repeat}:]:
    t = time.perf_counter(); evaluate(data, as_of=session); full.append(time.perf_counter() - t)
members = list(data.universe_members("sp500"))
for _ in range({repeat}):
    t = time.perf_counter(); member_aggregates(data.close[members].iloc[-253:]); floor.append(time.perf_counter() - t)
result = {{"tick": statistics.median(ticks), "full": statistics.median(full), "floor": statistics.median(floor)}}
""")


def synthetic_folder(root: Path, tickers: int, start: str, end: str) -> Path:
    """Random-walk OHLCV files on NYSE sessions, S&P 500 and Russell 2000-sized lists (written, not kept)."""
    import numpy as np
    import pandas as pd

    from signals.calendar import sessions_between

    days = sessions_between(pd.Timestamp(start), pd.Timestamp(end))
    dates = days.strftime("%Y-%m-%d")
    prices = root / "prices"
    prices.mkdir(parents=True)
    rng = np.random.default_rng(25)
    names = [f"T{i:04d}" for i in range(tickers)]
    for ticker in [*names, "^GSPC", "SPY", "RSP", "IWM", "^RUT"]:
        listed = 0 if ticker.startswith(("^", "SPY", "RSP", "IWM")) else int(rng.integers(0, len(days) // 2))
        close = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, len(days) - listed)))
        frame = pd.DataFrame({"Date": dates[listed:], "Close": close, "Adj Close": close,
                              "Volume": rng.integers(1_000, 1_000_000, len(close))})
        frame.to_csv(prices / f"{ticker}.csv", index=False, float_format="%.4f")
    big = names[:500]
    (root / "constituents.csv").write_text("ticker,name,sector\n" + "".join(f"{t},,Tech\n" for t in big))
    (root / "universes").mkdir()
    (root / "universes" / "russell2000.csv").write_text(
        "ticker,name,sector,weight\n" + "".join(f"{t},,Financials,0.01\n" for t in names[500:]))
    return root


def synthetic_figures(root: Path) -> dict:
    return probe(f"""
from signals.metrics import compute_metrics
from signals.replay import replay
from signals.sources.folder import load_folder
data = load_folder({str(root)!r})
loaded = time.perf_counter()
metrics = compute_metrics(data)
computed = time.perf_counter()
result_replay = replay(data, start=str(data.sessions[260].date()))
replayed = time.perf_counter()
result = {{"load": loaded - began, "metrics": computed - loaded, "replay": replayed - computed,
          "sessions": data.close.shape[0], "tickers": data.close.shape[1], "signals": len(result_replay.signals)}}
""")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--synthetic-tickers", type=int, default=5000)
    args = parser.parse_args(argv)
    if not (args.data / "prices").is_dir():
        print(f"benchmark needs the development data set; not found at {args.data}", file=sys.stderr)
        return 1

    load = load_figures(args.data)
    cells = load["sessions"] * load["tickers"]
    print(f"development folder: {load['sessions']} sessions x {load['tickers']} tickers = {cells:,} cells")
    cli = cli_figures(args.data, args.repeat)
    print(f"{'measure':<46}{'ours':>10}{'baseline':>10}{'ratio':>8}")
    print(f"{'metrics --json, first run (process)':<46}{cli['first']:>9.2f}s{cli['naive_read_csv']:>9.2f}s"
          f"{cli['first'] / cli['naive_read_csv']:>7.2f}x   baseline: one read_csv per file; target <= 1x")
    print(f"{'metrics --json, second run (process)':<46}{cli['second']:>9.2f}s{cli['import_pandas']:>9.2f}s"
          f"{cli['second'] / cli['import_pandas']:>7.2f}x   baseline: python -c 'import pandas'; target <= 3x")
    print(f"{'rotation-bot --help (process)':<46}{cli['help']:>9.2f}s{cli['import_pandas']:>9.2f}s"
          f"{cli['help'] / cli['import_pandas']:>7.2f}x   baseline: python -c 'import pandas'")
    print(f"{'load folder (fresh process), peak memory':<46}{load['peak_mib']:>7.0f}MiB"
          f"{'':>10}{'':>8}   {load['peak_mib'] * 2**20 / cells:.0f} bytes/cell at peak; target <= 600 MiB")
    engine = engine_figures(args.data, max(15, args.repeat))  # a tick is milliseconds: samples for a steady median
    print(f"{'tick engine work, new session':<46}{engine['tick'] * 1000:>8.1f}ms{engine['floor'] * 1000:>8.1f}ms"
          f"{engine['tick'] / engine['floor']:>7.2f}x   baseline: the floor below; target <= 1.5x")
    print(f"{'  floor: last session S&P 500 aggregates':<46}{engine['floor'] * 1000:>8.1f}ms")
    print(f"{'  all history again (what the engine saves)':<46}{engine['full'] * 1000:>8.0f}ms"
          f"{'':>10}{engine['full'] / engine['tick']:>7.1f}x the tick")

    if args.no_synthetic:
        return 0
    with tempfile.TemporaryDirectory() as temporary:
        began = time.perf_counter()
        root = synthetic_folder(Path(temporary), args.synthetic_tickers, "2000-01-03", "2024-12-31")
        print(f"synthetic folder written in {time.perf_counter() - began:.0f} s")
        synthetic = synthetic_figures(root)
    big = synthetic["sessions"] * synthetic["tickers"]
    real = probe(f"""
from signals.metrics import compute_metrics
from signals.replay import replay
from signals.sources.folder import load_folder
data = load_folder({str(args.data)!r})
loaded = time.perf_counter()
compute_metrics(data)
computed = time.perf_counter()
replay(data, start=str(data.sessions[260].date()))
result = {{"load": loaded - began, "metrics": computed - loaded, "replay": time.perf_counter() - computed}}
""")
    growth = big / cells
    print(f"synthetic: {synthetic['sessions']} sessions x {synthetic['tickers']} tickers = {big:,} cells "
          f"({growth:.1f}x the real folder)")
    for step in ("load", "metrics", "replay"):
        print(f"  {step:<10}{synthetic[step]:>8.1f} s   real folder {real[step]:>6.2f} s   "
              f"growth {synthetic[step] / real[step]:>5.1f}x for {growth:.1f}x the cells")
    print(f"  peak memory, load + metrics + replay: {synthetic['peak_mib']:.0f} MiB (real folder "
          f"{real['peak_mib']:.0f} MiB: growth {synthetic['peak_mib'] / real['peak_mib']:.1f}x; target <= 3072 MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
