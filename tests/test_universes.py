"""Breadth per universe: the Russell 2000 beside the S&P 500, in the engine, the JSON and the table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bot.runtime.cli import main
from signals.metrics import compute_metrics
from tests.builders import csv_text, nyse_sessions, random_walk, write_folder
from tests.test_breadth_metrics import naive_breadth

UNIVERSE_KEYS = ("pct_above_200dma", "pct_above_50dma", "median_pct_from_52w_high", "index_pct_from_52w_high",
                 "new_highs", "new_lows", "members")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    index = nyse_sessions(300)
    big, small = [f"B{i}" for i in range(6)], [f"S{i}" for i in range(9)]
    tickers = big + small + ["^GSPC", "SPY", "RSP", "IWM", "^RUT"]
    close = random_walk(index, tickers, seed=12)
    close.loc[close.index[:120], "S8"] = np.nan  # listed mid-history, as many small caps are
    prices = {t: csv_text(close[[t]].dropna().rename(columns={t: "Close"})) for t in tickers}
    return write_folder(tmp_path_factory.mktemp("data"), prices,
                        "ticker,name,sector\n" + "".join(f"{t},,Tech\n" for t in big),
                        universes={"russell2000": "ticker,name,sector,weight\n"
                                   + "".join(f"{t},,Financials,0.1\n" for t in small + ["GONE"])}), close


def test_each_universe_is_computed_over_its_own_members(folder):
    from signals.sources.folder import load_folder

    root, close = folder
    data = load_folder(root)
    assert data.universes["russell2000"] == tuple(f"S{i}" for i in range(9))
    assert any(str(i).startswith("universes/russell2000.csv: 1 of 10 constituents have no price data")
               for i in data.issues)
    metrics = compute_metrics(data)
    small = metrics.universes["russell2000"]
    for day in (130, 260, 299):
        expected = naive_breadth(close, list(data.universes["russell2000"]), day)
        for key, value in expected.items():
            assert small[key].iat[day] == pytest.approx(value, nan_ok=True), (key, day)
    assert small["members"].iat[100] == 8 and small["members"].iat[200] == 9
    # the Russell 2000's own index, not the S&P 500's
    rut = close["^RUT"]
    assert small["index_pct_from_52w_high"].iat[-1] == pytest.approx((rut.iat[-1] / rut.iloc[-252:].max() - 1) * 100)
    assert metrics.universes["sp500"] is metrics.group("breadth")


def test_metrics_json_carries_both_universes(capsys, folder):
    root, _ = folder
    assert main(["metrics", "--data", str(root), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload["universes"]) == {"sp500", "russell2000"}
    for name in ("sp500", "russell2000"):
        for key in UNIVERSE_KEYS:
            assert key in payload["universes"][name], (name, key)
    assert payload["universes"]["sp500"]["pct_above_200dma"] == payload["breadth"]["pct_above_200dma"]
    assert payload["universes"]["russell2000"]["members"] == 9


def test_the_table_shows_the_universes_side_by_side(capsys, folder):
    root, _ = folder
    assert main(["metrics", "--data", str(root)]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("Breadth"))
    assert "S&P 500" in header and "Russell 2000" in header
    members = next(line for line in out.splitlines() if "members with data" in line)
    assert members.split()[-2:] == ["6", "9"]


@pytest.mark.market_data
@pytest.mark.parametrize(
    "day, above200, median_gap, with_average",
    [
        ("2020-03-23", 4.2, -51.3, 1323),
        ("2021-03-15", 92.4, -3.8, 1384),
        ("2022-09-30", 17.3, -38.5, 1644),
        ("2023-07-31", 62.4, -17.9, 1678),
        ("2023-10-27", 22.5, -32.0, 1685),
        ("2024-03-08", 62.6, -15.6, 1696),
    ],
)
def test_reproduces_the_russell_2000_reference_table(real_market, day, above200, median_gap, with_average):
    small = compute_metrics(real_market.as_of(day)).snapshot()["universes"]["russell2000"]
    assert small["pct_above_200dma"] == pytest.approx(above200, abs=0.1)
    assert small["median_pct_from_52w_high"] == pytest.approx(median_gap, abs=0.1)
    assert small["members_with_200dma"] == with_average


def test_every_universe_of_the_registry_has_its_list_source_snapshot_chart_and_breadth_argument():
    from bot.presentation.topics import CHARTS
    from bot.telegram.commands import COMMANDS
    from signals.metrics.breadth import UNIVERSE_INDEX, UNIVERSE_LABELS
    from signals.sources.universe import LIST_SOURCES as SOURCES, snapshot
    from signals.universe_specs import UNIVERSES

    breadth = next(c for c in COMMANDS if c.name == "breadth")
    for universe in UNIVERSES:
        assert SOURCES[universe.name].label == UNIVERSE_LABELS[universe.name] == universe.label
        assert UNIVERSE_INDEX[universe.name] == (universe.index, universe.etf)
        assert len(snapshot(universe.name).members) >= universe.min_members
        assert universe.chart in CHARTS and universe.name in breadth.usage
    assert set(SOURCES) == set(UNIVERSE_INDEX) == {u.name for u in UNIVERSES}
