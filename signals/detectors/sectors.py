"""Sector rotation: cyclicals taking the lead from technology, regional banks from the S&P 500."""

from __future__ import annotations

from typing import Any

import math
from dataclasses import dataclass

import numpy as np

from signals.detectors.base import (
    ExplainEnd,
    Condition,
    Describe,
    Detector,
    KeySpec,
    Part,
    at,
    daily_move,
    known,
    level_band,
    part,
    signed,
)
from signals.detectors.edges import condition
from signals.metrics import Metrics
from signals.metrics.group import Computed
from signals.metrics.rolling import pct_from, prior_high, sma
from signals.settings import DetectorSettings
from signals.tickers import CYCLICAL_SECTORS, REGIONAL_BANKS, SP500_ETF, TECH_SECTOR


@dataclass(frozen=True)
class _Breakout:
    start: np.ndarray
    hold: np.ndarray
    parts: tuple[Part, ...]
    level: np.ndarray
    average: np.ndarray


def _relative_breakout(group: Computed[None], prefix: str, settings: DetectorSettings) -> _Breakout:
    """Ratio above its prior N-session high while above its M-session average, each cleared by the
    start margin and held within the hold margin (in the ratio's own average daily moves)."""
    rules = settings.sectors
    ratio = group.column(f"{prefix}_ratio")
    level = prior_high(ratio, rules.ratio_high_sessions)
    average = sma(ratio, rules.average_sessions)
    move = daily_move(ratio, settings.signals.level_move_sessions)
    have = known(ratio, level, average, move)
    high_clears, high_holds = level_band(pct_from(ratio, level), move, settings)
    average_clears, average_holds = level_band(pct_from(ratio, average), move, settings)
    parts = (part(f"sectors.{prefix}_pct_vs_prior_60d_high", high_holds, have),
             part(f"sectors.{prefix}_pct_vs_200d_avg", average_holds, have))
    return _Breakout(condition(high_clears & average_clears, have), condition(high_holds & average_holds, have),
                     parts, level, average)


def sectors_conditions(metrics: Metrics, settings: DetectorSettings) -> list[Condition]:
    group = metrics.computed["sectors"]
    rules = settings.sectors
    cyclicals = _relative_breakout(group, "cyclicals_xlk", settings)
    banks = _relative_breakout(group, "kre_spy", settings)

    def numbers(prefix: str, level: np.ndarray, average: np.ndarray, position: int) -> dict[str, Any]:
        values = at(group, position, f"{prefix}_ratio", *(f"{t.lower()}_vs_spy_20d_pct" for t in
                                                          (*CYCLICAL_SECTORS, TECH_SECTOR, REGIONAL_BANKS)))
        ratio = values[f"{prefix}_ratio"]
        values["pct_vs_prior_high"] = _gap(ratio, float(level[position]))
        values["pct_vs_average"] = _gap(ratio, float(average[position]))
        return values

    def describer(prefix: str, found: _Breakout, lead: str, over: str, why: str) -> Describe:
        def describe(direction: str, position: int) -> tuple[str, dict[str, Any]]:
            values = numbers(prefix, found.level, found.average, position)
            where = (f"{signed(values['pct_vs_prior_high'], 2)}% vs its prior {rules.ratio_high_sessions}-session "
                     f"high, {signed(values['pct_vs_average'])}% vs its {rules.average_sessions}-session average")
            if direction == "start":
                return f"{lead} ({where}). {why}", values
            return f"{over} ({where})", values
        return describe

    def explainer(prefix: str, over: str) -> ExplainEnd:
        def explain(because: tuple[str, ...], values: dict[str, Any]) -> str:
            gap = values["pct_vs_average"]
            if f"sectors.{prefix}_pct_vs_200d_avg" in because:
                return (f"{over}: the ratio fell back under its {rules.average_sessions}-session average "
                        f"({signed(gap)}%): the lead is gone")
            slipped = (f"{over} for now: the ratio slipped back from its prior {rules.ratio_high_sessions}-session "
                       f"high ({signed(values['pct_vs_prior_high'], 2)}%)")
            if gap is not None and round(gap, 1) > 0:  # as shown: "+0.0%" is not above
                return f"{slipped} but is still {signed(gap)}% vs its {rules.average_sessions}-session average"
            return (f"{slipped} and is {signed(gap)}% vs its {rules.average_sessions}-session average, within the "
                    f"{settings.signals.level_hold_margin_moves:g} daily moves below it that the lead may dip")
        return explain

    describe_cyclicals = describer(
        "cyclicals_xlk", cyclicals,
        "Cyclicals lead technology: industrials, financials and discretionary (XLI, XLF, XLY) against XLK at a "
        "new high", "Cyclicals no longer leading technology",
        "Money moving from mega-cap tech into the economy small caps live in")
    describe_banks = describer(
        "kre_spy", banks, "Regional banks lead: KRE/SPY at a new high",
        "Regional banks no longer leading", "The small-cap lenders trusted again: credit for small companies loosening")

    return [
        Condition("sectors", "sectors:cyclicals_lead", "state", cyclicals.start, describe_cyclicals,
                  (*CYCLICAL_SECTORS, TECH_SECTOR), hold=cyclicals.hold, parts=cyclicals.parts,
                  explain_end=explainer("cyclicals_xlk", "Cyclicals no longer leading technology")),
        Condition("sectors", "sectors:regional_banks", "state", banks.start, describe_banks,
                  (REGIONAL_BANKS, SP500_ETF), hold=banks.hold, parts=banks.parts,
                  explain_end=explainer("kre_spy", "Regional banks no longer leading")),
    ]


def _gap(value: float | None, reference: float) -> float | None:
    if value is None or math.isnan(reference) or reference == 0:
        return None
    return (value / reference - 1) * 100


DETECTOR = Detector(
    topic="sectors",
    keys=(
        KeySpec("sectors:cyclicals_lead", "cyclicals lead tech",
                "equal-weight XLI, XLF, XLY over XLK above its prior {sectors.ratio_high_sessions}-session high "
                "while above its {sectors.average_sessions}-session average, each by "
                "{signals.level_start_margin_moves:g} of its average daily move; ends "
                "{signals.level_hold_margin_moves:g} daily moves below either"),
        KeySpec("sectors:regional_banks", "regional banks lead",
                "KRE/SPY above its prior {sectors.ratio_high_sessions}-session high while above its "
                "{sectors.average_sessions}-session average, each by {signals.level_start_margin_moves:g} of its "
                "average daily move; ends {signals.level_hold_margin_moves:g} daily moves below either"),
    ),
    conditions=sectors_conditions,
)
