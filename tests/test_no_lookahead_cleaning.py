"""No look-ahead in cleaning: a folder truncated at a day gives, as of that day, exactly what the full
folder gives as of it: every numeric leaf of `metrics --json` (all sections, both universes) and every
signal up to the day. The cuts sit on a bad print, the session after it, and later.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.runtime.cli import main
from signals.detectors import detect
from signals.evaluate import evaluate
from signals.metrics import compute_metrics
from signals.settings import load_detector_settings
from tests.builders import csv_text, nyse_sessions, random_walk, write_folder

SESSIONS = nyse_sessions(320, start="2023-01-03")
MEMBERS = [f"M{i}" for i in range(1, 9)]
MARKET = ["^GSPC", "SPY", "RSP", "IWM", "^RUT", "XLI", "XLF", "XLY", "XLK", "KRE", "HYG", "IEF"]
PRINT_AT, HOLD_AT = 280, 300  # a bad print taken back next session; a 10x move that holds


def leaves(node, path: str = "") -> dict[str, float]:
    """Every numeric leaf of a JSON document by its dotted path."""
    out: dict[str, float] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(leaves(value, f"{path}.{key}" if path else str(key)))
    elif isinstance(node, list):
        for number, value in enumerate(node):
            out.update(leaves(value, f"{path}[{number}]"))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        out[path] = float(node)
    return out


def assert_same_numbers(early: dict, full: dict, label: str) -> None:
    a, b = leaves(early), leaves(full)
    assert a.keys() == b.keys(), f"{label}: {sorted(a.keys() ^ b.keys())[:5]}"
    differ = [k for k in a if not (math.isclose(a[k], b[k], rel_tol=1e-12, abs_tol=1e-9)
                                   or (math.isnan(a[k]) and math.isnan(b[k])))]
    assert not differ, f"{label}: {[(k, a[k], b[k]) for k in differ[:5]]}"


def folder_with_bad_prints(root: Path, end: int | None = None) -> Path:
    close = random_walk(SESSIONS, MEMBERS + MARKET, seed=13)
    close.iloc[PRINT_AT, 1] *= 12  # M2: a bad print...
    close.iloc[HOLD_AT:, 2] /= 12  # M3: an unadjusted reverse split, say: the new level holds
    frame = close.iloc[:end] if end is not None else close
    prices = {t: csv_text(frame[[t]].rename(columns={t: "Close"})) for t in frame.columns}
    rates = "date,DGS2,DGS3MO,DGS10,DFEDTARU,DFEDTARL\n" + "".join(
        f"{day:%Y-%m-%d},4.5,5.3,4.2,5.5,5.25\n" for day in frame.index)
    return write_folder(root, prices, "ticker,name,sector\n" + "".join(f"{m},,\n" for m in MEMBERS[:5]), rates,
                        universes={"russell2000": "ticker,name,sector,weight\n"
                                   + "".join(f"{m},,,0.25\n" for m in MEMBERS[4:])})


def metrics_json(folder: Path, cut: str, capsys) -> dict:
    assert main(["metrics", "--data", str(folder), "--as-of", cut, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    payload.pop("warnings", None)
    return payload


@pytest.mark.parametrize("position", [PRINT_AT, PRINT_AT + 1, HOLD_AT, HOLD_AT + 1, HOLD_AT + 5])
def test_a_truncated_folder_gives_the_same_numbers_as_of_its_last_day(tmp_path, capsys, position):
    cut = SESSIONS[position].strftime("%Y-%m-%d")
    full = folder_with_bad_prints(tmp_path / "full")
    cut_folder = folder_with_bad_prints(tmp_path / "cut", end=position + 1)
    assert_same_numbers(metrics_json(cut_folder, cut, capsys), metrics_json(full, cut, capsys), cut)


def test_the_bad_print_is_removed_on_its_own_day_and_the_held_move_accepted_on_its_second(tmp_path):
    from signals.sources.folder import load_folder

    data = load_folder(folder_with_bad_prints(tmp_path / "full"))
    m2, m3 = data.close["M2"], data.close["M3"]
    assert data.carried["M2"].iat[PRINT_AT] and m2.iat[PRINT_AT] == m2.iat[PRINT_AT - 1]
    assert data.carried["M3"].iat[HOLD_AT] and not data.carried["M3"].iat[HOLD_AT + 1]
    assert m3.iat[HOLD_AT + 1] < m3.iat[HOLD_AT - 1] / 5  # the new level, from its second session


@pytest.mark.market_data
def test_real_folder_truncated_at_a_bad_print_and_after_gives_the_same_numbers_and_signals(market_path):
    """KGEI printed 0.16 between 1.60 and 1.54 on 2022-05-19 (the data README's example)."""
    from signals.sources.csv_prices import ParsedChunk, ParsedPrices, parse_paths
    from signals.sources.folder import assemble
    from signals.tickers import YIELD_TICKERS

    paths = sorted((market_path / "prices").glob("*.csv"))

    def parse() -> ParsedPrices:  # aligning consumes the parsed chunks: each load parses anew
        return parse_paths([(p, f"prices/{p.name}") for p in paths], YIELD_TICKERS, [])

    full = assemble(market_path, parse())
    settings = load_detector_settings()
    everything = detect(compute_metrics(full), settings)
    for cut in ("2022-05-19", "2022-05-20", "2023-03-10"):
        last = np.datetime64(pd.Timestamp(cut), "ns")
        parsed = parse()
        truncated = ParsedPrices(parsed.tickers, [
            ParsedChunk(chunk.codes[chunk.dates <= last], chunk.dates[chunk.dates <= last],
                        {k: v[chunk.dates <= last] for k, v in chunk.values.items()},
                        None if chunk.lines is None else chunk.lines[chunk.dates <= last])
            for chunk in parsed.chunks], list(parsed.issues))
        early = assemble(market_path, truncated)
        early = replace(early, rates=early.rates.loc[:cut])
        a = evaluate(early, settings, as_of=cut).snapshot
        b = evaluate(full, settings, as_of=cut).snapshot
        assert_same_numbers(json.loads(json.dumps(a, default=str)), json.loads(json.dumps(b, default=str)), cut)
        assert detect(compute_metrics(early), settings) == [s for s in everything if s.date <= cut]
