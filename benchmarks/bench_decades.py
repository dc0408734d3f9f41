"""Decades benchmark and record: the index-level keys over 1987-2006 and 2017-2024.

`../shared/data/long/` holds ^RUT, ^GSPC, ^TNX, ^VIX and FRED rates for 1987-09 .. 2006-12; the
development set holds the same indices for 2017-01 .. 2024-03. This joins their index files and
rates into one index-only folder (in a temporary directory, never in the repository), replays it
(target: <= 2 s for the replay itself), and prints, as README's tables show them, each key's record
(starts, excess over the base rate at 20 and 60 sessions, t, verdict) and the small-cap cycle's
phases against the seed's 18-24 months. 2007-2016 is a gap in the data: no key fires there and no
forward return spans it.

    python -m benchmarks.bench_decades [--long DIR] [--market DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
INDICES = ("^RUT", "^GSPC", "^TNX", "^VIX")
COLUMNS = ["Open", "High", "Low", "Close", "Volume"]


def joined_folder(long: Path, market: Path, out: Path) -> Path:
    (out / "prices").mkdir(parents=True, exist_ok=True)
    for ticker in INDICES:
        parts = [pd.read_csv(folder / "prices" / f"{ticker}.csv", dtype=str) for folder in (long, market)
                 if (folder / "prices" / f"{ticker}.csv").is_file()]
        frame = pd.concat([part.reindex(columns=["Date", *COLUMNS]) for part in parts])
        frame.to_csv(out / "prices" / f"{ticker}.csv", index=False)
    rates = [pd.read_csv(folder / "rates.csv", dtype=str) for folder in (long, market)
             if (folder / "rates.csv").is_file()]
    merged = pd.concat(rates).drop_duplicates("date", keep="last").sort_values("date")
    merged.to_csv(out / "rates.csv", index=False)
    return out


def record_table(stats: dict) -> str:
    """README's per-key table: graded starts, excess and t at both horizons, placebo p, Holm-adjusted p,
    the eras' excess and the verdict."""
    from bot.presentation.render import era_signs

    rows = ["| key | starts (graded 20d/60d) | excess 20d | t 20d | excess 60d | t 60d | p 20d | p 60d | "
            "p adjusted | eras (first dates) | verdict |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for key, entry in stats["by_key"].items():
        cells = [f"{entry[name]:+.2f}".replace("-", "\u2212") if entry.get(name) is not None else "n/a"
                 for name in ("excess_20d", "t_20d", "excess_60d", "t_60d")]
        ps = [f"{entry[name]:.3f}" if entry.get(name) is not None else "\u2013"
              for name in ("p_20d", "p_60d", "p_adjusted")]
        firsts = ", ".join(era["first"] for era in entry.get("eras", []))
        rows.append(f"| `{key}` | {entry['starts']} ({entry['n_20d']}/{entry['n_60d']}) | {' | '.join(cells)} | "
                    f"{' | '.join(ps)} | {era_signs(entry)} at {entry.get('verdict_horizon')}d ({firsts}) | "
                    f"{entry['verdict']} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long", type=Path, default=ROOT.parent / "shared" / "data" / "long")
    parser.add_argument("--market", type=Path, default=ROOT.parent / "shared" / "data" / "market")
    args = parser.parse_args(argv)
    if not (args.long / "prices").is_dir() or not (args.market / "prices").is_dir():
        print(f"needs {args.long} and {args.market}", file=sys.stderr)
        return 1
    from bot.presentation.render import grade_table
    from signals.metrics import compute_metrics
    from signals.replay import replay
    from signals.sources.folder import load_folder

    with tempfile.TemporaryDirectory() as folder:
        data = load_folder(joined_folder(args.long, args.market, Path(folder)))
        replay(data, "1988-09-12")  # warm: the calendar and imports
        timings = []
        for _ in range(3):
            began = time.perf_counter()
            result = replay(data, "1988-09-12")
            timings.append(time.perf_counter() - began)
        snapshot = compute_metrics(data).snapshot()
    print(f"joined index history: {data.sessions[0]:%Y-%m-%d} .. {data.sessions[-1]:%Y-%m-%d}, "
          f"{len(data.sessions):,} sessions; replay from 1988-09-12: {statistics.median(timings):.2f} s "
          f"(median of 3; target <= 2 s), {len(result.signals)} signals")
    print()
    print("\n".join(grade_table(result.stats)))
    print()
    print(record_table(result.stats))
    phases = [p for p in snapshot["cycle"]["phases"] if p["ended"]]
    print()
    for leader in ("small", "large"):
        months = sorted(p["sessions"] / 21 for p in phases if p["leader"] == leader)
        if months:
            print(f"{leader}-cap phases: {len(months)}, median {statistics.median(months):.1f} months, "
                  f"shortest {months[0]:.1f}, longest {months[-1]:.1f}; "
                  f"{sum(18 <= m <= 24 for m in months)} within the seed's 18-24 months, "
                  f"{sum(m > 24 for m in months)} longer")
    for phase in phases:
        print(f"  {phase['leader']:<5} {phase['since']}  {phase['sessions'] / 21:5.1f} months  "
              f"{phase['ratio_change_pct']:+6.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
