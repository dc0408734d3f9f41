"""Credit stress: high-yield bonds falling against Treasuries, the financing small companies need."""

from __future__ import annotations

from typing import Any

import numpy as np

from signals.detectors.base import Condition, Detector, KeySpec, Part, at, number, plain, signed
from signals.detectors.edges import condition
from signals.metrics import Metrics
from signals.metrics.rolling import change_pct
from signals.settings import DetectorSettings
from signals.tickers import HIGH_YIELD, TREASURIES_7_10Y


def credit_conditions(metrics: Metrics, settings: DetectorSettings) -> list[Condition]:
    group = metrics.computed["credit"]
    rules = settings.credit
    change = change_pct(group.column("hyg_ief_ratio"), rules.hy_sessions)
    have = ~np.isnan(change)
    stress = condition(change <= -rules.hy_drop_pct, have)
    still = condition(change <= -rules.hy_end_drop_pct, have)

    def describe(direction: str, position: int) -> tuple[str, dict[str, Any]]:
        values = at(group, position, "hyg_ief_ratio", "hyg_ief_pct_vs_200d_avg")
        values["hyg_ief_change_pct"] = number(change[position])
        values["sessions"] = rules.hy_sessions
        numbers = f"HYG/IEF {signed(values['hyg_ief_change_pct'])}% over {rules.hy_sessions} sessions"
        if direction == "start":
            return (f"High-yield stress: {numbers} (alert at {signed(-rules.hy_drop_pct)}%). Junk bonds falling "
                    f"against Treasuries: credit is getting dearer for the small companies that need it most",
                    values)
        return (f"High-yield stress over: {numbers} (the drop is under {plain(rules.hy_end_drop_pct)}% again)",
                values)

    return [Condition("credit", "credit:hy_stress", "state", stress, describe, (HIGH_YIELD, TREASURIES_7_10Y),
                      hold=still, parts=(Part("credit.hyg_ief_change_20d_pct", still),))]


DETECTOR = Detector(
    topic="credit",
    keys=(KeySpec("credit:hy_stress", "high-yield stress",
                  "HYG/IEF down {credit.hy_drop_pct:g}% or more over {credit.hy_sessions} "
                  "sessions; ends when the drop is under {credit.hy_end_drop_pct:g}%"),),
    conditions=credit_conditions,
)
