"""The small-cap cycle: a small-cap leadership phase confirmed, and its end when large caps lead again."""

from __future__ import annotations

from typing import Any

import numpy as np

from signals.detectors.base import Condition, Detector, KeySpec, Part, number, plain, signed
from signals.detectors.edges import condition
from signals.metrics import Metrics
from signals.metrics.cycle import GROUP as CYCLE, SMALL, phases
from signals.settings import DetectorSettings

RULE_OF_THUMB_MONTHS = (18, 24)  # what is often said: "small-cap outperformance cycles typically last 18-24 months"
SESSIONS_PER_MONTH = 21


def cycle_conditions(metrics: Metrics, settings: DetectorSettings) -> list[Condition]:
    group = metrics.computed["cycle"]
    band = settings.cycle.band_pct
    leader = group.column("leader")
    small = condition(leader == SMALL, ~np.isnan(leader))
    ratio = group.column("ratio")
    pair = metrics.facts(CYCLE).name or "the small/large ratio"

    def describe(direction: str, position: int) -> tuple[str, dict[str, Any]]:
        turn = float(group.values("since_position")[position])
        if np.isnan(turn):  # no turn yet (an edge never falls here; a title is still asked for)
            return (f"Small-cap cycle: {pair} has not yet moved {band:g}% from a low or a high, so neither small "
                    f"nor large caps are known to lead", {"pair": pair, "band_pct": band})
        since = int(turn)
        values = {"pair": pair, "since": metrics.sessions[since].strftime("%Y-%m-%d"),
                  "ratio": number(ratio[position]), "turn_ratio": number(ratio[since]),
                  "move_pct": number((ratio[position] / ratio[since] - 1.0) * 100.0), "band_pct": band}
        so_far = [p for p in phases(group, position + 1) if p["leader"] == "small" and p["ended"]]
        lengths = [p["sessions"] for p in so_far]
        values["small_phases_completed"] = len(lengths)
        values["small_phase_median_sessions"] = float(np.median(lengths)) if lengths else None
        thumb = f"{RULE_OF_THUMB_MONTHS[0]}-{RULE_OF_THUMB_MONTHS[1]}"
        record = (f" Small-cap phases in this history: {len(lengths)}, median {_months(float(np.median(lengths)))} "
                  f"(the common rule of thumb says {thumb} months)" if lengths else "")
        if direction == "start":
            return (f"Small caps lead: {pair} is {signed(values['move_pct'])}% above its low of {values['since']}, "
                    f"past the {band:g}% band, so a small-cap phase of the cycle began there.{record}"), values
        ended = so_far[-1] if so_far else None
        lasted = (f"; the small-cap phase from {ended['since']} lasted {_months(ended['sessions'])} "
                  f"({signed(ended['ratio_change_pct'])}%)" if ended else "")
        return (f"Large caps lead again: {pair} is {signed(values['move_pct'])}% from its high of "
                f"{values['since']}, past the {band:g}% band{lasted}.{record}"), values

    return [Condition("cycle", "cycle:small_caps_lead", "state", small, describe, metrics.facts(CYCLE).inputs,
                      limited=False, end_after=1, parts=(Part("cycle.leader", small),))]



def _months(sessions: float) -> str:
    return f"{plain(sessions / SESSIONS_PER_MONTH)} months"


DETECTOR = Detector(
    topic="cycle",
    keys=(KeySpec("cycle:small_caps_lead", "small caps lead the cycle",
                  "IWM/SPY (^RUT/^GSPC before the ETFs) closes {cycle.band_pct:g}% above its lowest close since "
                  "the last turn: a small-cap phase from that low; ends when it closes {cycle.band_pct:g}% below "
                  "its highest close since (a large-cap phase)"),),
    conditions=cycle_conditions,
)
