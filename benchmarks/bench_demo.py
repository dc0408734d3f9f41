"""Demo benchmark: `rotation-bot demo` as a newcomer runs it, in a fresh process each time.

Measures the time to its first line of output and to its end (targets: under 2 s and under 20 s),
against `python -c "import pandas"` in the same run (the floor of any command that analyses data).
Medians of `--repeat` runs.

    python -m benchmarks.bench_demo [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def demo_run(charts: Path) -> tuple[float, float, str]:
    """(seconds to the first line, seconds to the end, the last line) of one demo process."""
    command = shutil.which("rotation-bot") or sys.executable
    argv = [command, "demo", "--charts", str(charts)] if command != sys.executable else \
        [sys.executable, "-m", "bot.runtime.cli", "demo", "--charts", str(charts)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ROTATION_DATA"))}
    began = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env=environment, cwd=charts)
    assert process.stdout is not None
    first = process.stdout.readline()
    first_at = time.perf_counter() - began
    rest = process.stdout.read()
    process.wait()
    total = time.perf_counter() - began
    if process.returncode != 0 or not first:
        raise SystemExit(f"the demo failed (exit {process.returncode})")
    lines = [line for line in rest.splitlines() if "sessions ticked" in line]
    return first_at, total, lines[-1] if lines else ""


def import_pandas() -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import pandas"], check=True)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    firsts, totals, floors, summary = [], [], [], ""
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeat):
            first, total, summary = demo_run(Path(folder))
            firsts.append(first)
            totals.append(total)
            floors.append(import_pandas())
    print(f"{'measure':<34}{'ours':>9}{'baseline':>10}   target")
    print(f"{'demo: first line of output':<34}{statistics.median(firsts):>8.2f}s{statistics.median(floors):>9.2f}s"
          f"   < 2 s (baseline: python -c 'import pandas')")
    print(f"{'demo: whole run':<34}{statistics.median(totals):>8.2f}s{'':>10}   < 20 s")
    print(f"last run: {summary.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
