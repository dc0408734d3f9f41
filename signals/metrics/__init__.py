"""Metrics: whole-history (session x metric) frames computed from a `MarketData` in one pass.

Every operation is backward-looking; `MarketData.as_of` cuts the future off before any metric runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from signals.market_data import MarketData
from signals.metrics.breadth import compute_breadth, universe_breadth
from signals.metrics.breakout import compute_breakout
from signals.metrics.rates import compute_rates
from signals.settings import DetectorSettings, load_detector_settings
from signals.metrics.credit import compute_credit
from signals.metrics.cycle import Pair, compute_cycle, cycle_snapshot
from signals.metrics.sectors import compute_sectors
from signals.tickers import DETECTOR_INPUTS, RUSSELL_2000, SMALL_CAP_ETF, SP500_ETF, SP500_INDEX
from signals.topics import TOPIC_NAMES

GROUPS = TOPIC_NAMES  # one metric group per topic


@dataclass(frozen=True)
class Metrics:
    """The metric groups over the same sessions, plus what was degraded and why.

    `universes` holds each universe's breadth (`sp500` is `breadth` itself). `carried_inputs` says,
    per session, which watched index/ETF had no bar of its own (its close was carried forward);
    `suspect` why a session may not fire a detector. Detectors read both through `unusable`.
    """

    breadth: pd.DataFrame
    breakout: pd.DataFrame
    rates: pd.DataFrame
    sectors: pd.DataFrame
    credit: pd.DataFrame
    cycle: pd.DataFrame
    cycle_pair: Pair
    notes: tuple[str, ...] = ()
    universes: dict[str, pd.DataFrame] = field(default_factory=dict)
    carried_inputs: pd.DataFrame | None = None
    suspect: pd.Series | None = None
    stand_ins: dict[str, str] = field(default_factory=dict)  # ETF -> the index read in its place (index-only history)

    def unusable(self, inputs: tuple[str, ...]) -> np.ndarray:
        """Sessions on which a detector reading `inputs` must not decide: suspect, or an input carried."""
        blocked = np.zeros(len(self.sessions), dtype=bool)
        if self.suspect is not None:
            blocked |= self.suspect.to_numpy(dtype=object) != ""
        if self.carried_inputs is not None:
            for ticker in inputs:
                if ticker in self.carried_inputs.columns:
                    blocked |= self.carried_inputs[ticker].to_numpy(dtype=bool)
        return blocked

    @property
    def sessions(self) -> pd.DatetimeIndex:
        return self.breadth.index

    def group(self, name: str) -> pd.DataFrame:
        if name not in GROUPS:
            raise KeyError(name)
        return getattr(self, name)

    def snapshot(self, session: pd.Timestamp | None = None) -> dict[str, Any]:
        """One session's metrics as plain JSON-ready values (NaN becomes None)."""
        session = self.sessions[-1] if session is None else session
        result: dict[str, Any] = {"as_of": session.strftime("%Y-%m-%d")}
        for name in GROUPS:
            frame = self.group(name)
            position = frame.index.get_loc(session)
            if name == "cycle":  # a phase, not a row of numbers: leader, dates, its history
                result[name] = cycle_snapshot(frame, self.cycle_pair, position)
                continue
            result[name] = {column: _plain(frame[column].iat[position]) for column in frame.columns}
        if self.stand_ins:
            result["stand_ins"] = dict(self.stand_ins)
        result["universes"] = {}
        for name, frame in self.universes.items():
            position = frame.index.get_loc(session)
            result["universes"][name] = {column: _plain(frame[column].iat[position]) for column in frame.columns}
        return result


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    if math.isnan(number) or math.isinf(number):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    return round(number, 6)


def compute_metrics(data: MarketData, settings: DetectorSettings | None = None,
                    aggregates: dict[str, pd.DataFrame] | None = None) -> Metrics:
    """Every metric over the whole history of `data`.

    `aggregates` (per universe, from `member_aggregates`) lets a live engine skip the only
    (session x member) work for the sessions it has already seen: see `signals/engine.py`.
    """
    settings = settings or load_detector_settings()
    notes: list[str] = []
    aggregates = aggregates or {}
    breadth = compute_breadth(data, notes, aggregates.get("sp500"))
    universes = {"sp500": breadth}
    for name in data.universe_names:
        if name != "sp500":
            universes[name] = universe_breadth(data, name, notes, aggregates.get(name))
    breakout = compute_breakout(data, notes)
    rates = compute_rates(data, notes, settings.rates.publication_lag_sessions)
    sectors = compute_sectors(data, notes)
    credit = compute_credit(data, notes)
    cycle, pair = compute_cycle(data, notes, settings.cycle.band_pct)
    notes = _index_only(data, notes)
    stand_ins = {SMALL_CAP_ETF: RUSSELL_2000, SP500_ETF: SP500_INDEX} \
        if not data.has(SMALL_CAP_ETF) and data.has(RUSSELL_2000) else {}
    return Metrics(breadth, breakout, rates, sectors, credit, cycle, pair, tuple(notes), universes,
                   _carried_inputs(data), data.suspect, stand_ins)


def _carried_inputs(data: MarketData) -> pd.DataFrame | None:
    """The detector inputs' carried flags; ^GSPC's are SPY's when SPY stands in for a missing index."""
    if data.carried is None:
        return None
    flags = {ticker: data.was_carried(ticker) for ticker in DETECTOR_INPUTS if ticker in data.close.columns}
    if not data.has(SP500_INDEX) and data.has(SP500_ETF):
        flags[SP500_INDEX] = data.was_carried(SP500_ETF)
    if not data.has(SMALL_CAP_ETF) and data.has(RUSSELL_2000):  # the indices stand in for the ETFs
        flags[SMALL_CAP_ETF] = data.was_carried(RUSSELL_2000)
        flags[SP500_ETF] = data.was_carried(SP500_INDEX)
    return pd.DataFrame(flags, index=data.close.index)


def _index_only(data: MarketData, notes: list[str]) -> list[str]:
    """History with indices only (no members, no ETFs: decades before the ETFs existed): one line says
    what that leaves out, instead of a note per missing ETF and metric."""
    if data.members or any(data.universes.values()) or data.has(SMALL_CAP_ETF) or data.has(SP500_ETF):
        return notes
    prefixes = ("breadth:", "sectors:", "credit:", "breakout: IWM", "breakout: SPY")
    kept = [note for note in notes if not note.startswith(prefixes)]
    return [f"index-only history: no members and no ETFs, so breadth, sector and credit metrics are unavailable; "
            f"{RUSSELL_2000} and {SP500_INDEX} stand in for IWM and SPY", *kept]
