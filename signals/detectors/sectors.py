"""Sector rotation: cyclicals taking the lead from technology, regional banks from the S&P 500."""

from __future__ import annotations

import math

import pandas as pd

from signals.detectors.base import Condition, Describe, Detector, KeySpec, at, signed
from signals.detectors.edges import condition
from signals.metrics import Metrics
from signals.metrics.rolling import prior_high, sma
from signals.settings import DetectorSettings
from signals.tickers import CYCLICAL_SECTORS, REGIONAL_BANKS, SP500_ETF, TECH_SECTOR


def _relative_breakout(frame: pd.DataFrame, prefix: str, settings: DetectorSettings):
    """Ratio above its prior N-session high while above its M-session average: (condition, level, average)."""
    rules = settings.sectors
    ratio = frame[f"{prefix}_ratio"]
    level = prior_high(ratio, rules.ratio_high_sessions)
    average = sma(ratio, rules.average_sessions)
    known = ratio.notna() & level.notna() & average.notna()
    return condition((ratio > level) & (ratio > average), known), level, average


def sectors_conditions(metrics: Metrics, settings: DetectorSettings) -> list[Condition]:
    frame = metrics.sectors
    rules = settings.sectors
    cyclicals, cyc_level, cyc_average = _relative_breakout(frame, "cyclicals_xlk", settings)
    banks, bank_level, bank_average = _relative_breakout(frame, "kre_spy", settings)

    def numbers(prefix: str, level: pd.Series, average: pd.Series, position: int) -> dict:
        values = at(frame, position, f"{prefix}_ratio", *(f"{t.lower()}_vs_spy_20d_pct" for t in
                                                          (*CYCLICAL_SECTORS, TECH_SECTOR, REGIONAL_BANKS)))
        ratio = values[f"{prefix}_ratio"]
        values["pct_vs_prior_high"] = _gap(ratio, float(level.iat[position]))
        values["pct_vs_average"] = _gap(ratio, float(average.iat[position]))
        return values

    def describer(prefix: str, level: pd.Series, average: pd.Series, lead: str, over: str, why: str) -> Describe:
        def describe(direction: str, position: int) -> tuple[str, dict]:
            values = numbers(prefix, level, average, position)
            where = (f"{signed(values['pct_vs_prior_high'], 2)}% vs its prior {rules.ratio_high_sessions}-session "
                     f"high, {signed(values['pct_vs_average'])}% vs its {rules.average_sessions}-session average")
            if direction == "start":
                return f"{lead} ({where}). {why}", values
            return f"{over} ({where})", values
        return describe

    describe_cyclicals = describer(
        "cyclicals_xlk", cyc_level, cyc_average,
        "Cyclicals lead technology: industrials, financials and discretionary (XLI, XLF, XLY) against XLK at a "
        "new high", "Cyclicals no longer leading technology",
        "Money moving from mega-cap tech into the economy small caps live in")
    describe_banks = describer(
        "kre_spy", bank_level, bank_average, "Regional banks lead: KRE/SPY at a new high",
        "Regional banks no longer leading", "The small-cap lenders trusted again: credit for small companies loosening")

    return [
        Condition("sectors", "sectors:cyclicals_lead", "state", cyclicals, describe_cyclicals,
                  (*CYCLICAL_SECTORS, TECH_SECTOR)),
        Condition("sectors", "sectors:regional_banks", "state", banks, describe_banks, (REGIONAL_BANKS, SP500_ETF)),
    ]


def _gap(value: float | None, reference: float) -> float | None:
    if value is None or math.isnan(reference) or reference == 0:
        return None
    return round((value / reference - 1) * 100, 4)


DETECTOR = Detector(
    topic="sectors",
    keys=(
        KeySpec("sectors:cyclicals_lead", "cyclicals lead tech",
                "equal-weight XLI, XLF, XLY over XLK above its prior {sectors.ratio_high_sessions}-session high "
                "while above its {sectors.average_sessions}-session average"),
        KeySpec("sectors:regional_banks", "regional banks lead",
                "KRE/SPY above its prior {sectors.ratio_high_sessions}-session high while above its "
                "{sectors.average_sessions}-session average"),
    ),
    conditions=sectors_conditions,
)
