"""Index-only history (decades before the ETFs): a valid folder whose index-level keys read ^RUT/^GSPC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signals.metrics import compute_metrics
from signals.replay import replay
from signals.sources.folder import load_folder
from tests.builders import csv_text, nyse_sessions, random_walk, write_folder



def index_folder(root: Path) -> Path:
    days = nyse_sessions(400, start="1995-01-03")
    close = random_walk(days, ["^RUT", "^GSPC"], seed=4)
    prices = {t: csv_text(close[[t]].rename(columns={t: "Close"})) for t in close}
    rates = "date,DGS2,T10Y3M\n" + "".join(f"{d:%Y-%m-%d},{'' if i < 200 else 5.1},{1.5 - i / 200:.3f}\n"
                                           for i, d in enumerate(days))
    return write_folder(root, prices, constituents=None, rates=rates)


def test_an_index_only_folder_loads_and_degrades_with_one_breadth_warning(tmp_path):
    data = load_folder(index_folder(tmp_path / "long"))
    metrics = compute_metrics(data)
    notes = list(metrics.notes)
    assert sum(note.startswith("index-only history") for note in notes) == 1
    assert not any(note.startswith(("breadth:", "sectors:", "credit:")) for note in notes)
    assert any("constituents.csv: not found" in str(issue) for issue in data.issues)
    rut = data.close["^RUT"].to_numpy()
    np.testing.assert_array_equal(metrics.group("breakout")["iwm_close"].to_numpy(), rut)  # ^RUT stands in for IWM
    np.testing.assert_allclose(metrics.group("breakout")["iwm_spy_ratio"].to_numpy(),
                               rut / data.close["^GSPC"].to_numpy())
    spread = metrics.group("rates")["spread_10y_3m_bp"].to_numpy()
    assert np.isfinite(spread[1:]).all()  # FRED's T10Y3M gives the curve (DGS10/DGS3MO are absent)
    assert np.isnan(metrics.group("rates")["yield_2y"].to_numpy()[:200]).all()  # the 2-year only where FRED has it
    snapshot = metrics.snapshot()
    assert snapshot["cycle"]["pair"] == "^RUT/^GSPC" and snapshot["stand_ins"] == {"IWM": "^RUT", "SPY": "^GSPC"}


@pytest.fixture(scope="module")
def long_history(long_path):
    return load_folder(long_path)


def test_the_1987_2006_index_history_replays_with_index_level_keys(long_history):
    assert long_history.sessions[0].strftime("%Y-%m-%d") == "1987-09-10"  # the calendar reaches back to 1985
    result = replay(long_history, "1988-09-12")
    keys = {signal.key for signal in result.signals}
    assert {"breakout:iwm_52w_high", "breakout:iwm_spy_ratio", "cycle:small_caps_lead",
            "rates:curve_inverted"} <= keys
    assert not any(key.startswith(("breadth:", "sectors:", "credit:")) for key in keys)
    breakout = next(s for s in result.signals if s.key == "breakout:iwm_52w_high")
    assert breakout.title.startswith("^RUT breakout")
    assert result.stats["pair"] == "^RUT/^GSPC" and result.stats["base"]["n_60d"] > 4000
    cycle = compute_metrics(long_history).snapshot()["cycle"]
    small = [phase for phase in cycle["phases"] if phase["leader"] == "small" and phase["ended"]]
    assert len(small) >= 10  # enough phases to set beside the rule of thumb's 18-24 months
