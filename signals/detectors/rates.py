"""Rate change: the front end moving enough to change the small-cap case, the Fed, the curve."""

from __future__ import annotations

from typing import Any

import numpy as np

from signals.detectors.base import Condition, Describe, Detector, KeySpec, Part, at, part, plain, signed
from signals.detectors.edges import condition
from signals.metrics import Metrics
from signals.settings import DetectorSettings


def rates_conditions(metrics: Metrics, settings: DetectorSettings) -> list[Condition]:
    group = metrics.computed["rates"]
    move = group.column("yield_2y_change_20d_bp")
    threshold = settings.rates.yield_2y_move_bp
    holds = settings.rates.yield_2y_hold_bp
    move_known = ~np.isnan(move)

    def describe_move(label: str, why: str) -> Describe:
        def describe(direction: str, position: int) -> tuple[str, dict[str, Any]]:
            values = at(group, position, "yield_2y", "yield_2y_change_20d_bp", "yield_3m", "yield_10y")
            numbers = (f"2-year yield {signed(values['yield_2y_change_20d_bp'], 0)} bp in 20 sessions "
                       f"(now {plain(values['yield_2y'], 2)}%)")
            if direction == "start":
                return f"Rates {label}: {numbers}. {why}", values
            return f"Rates {label} over: {numbers}", values
        return describe

    target_change = group.column("fed_target_change_bp")

    def describe_fed(direction: str, position: int) -> tuple[str, dict[str, Any]]:
        values = at(group, position, "fed_target_change_bp", "fed_target_lower", "fed_target_upper", "yield_2y")
        change = values["fed_target_change_bp"] or 0.0
        verb = "cut" if change < 0 else "raised"
        effect = ("cheaper floating-rate debt, which small companies carry most of" if change < 0
                  else "dearer floating-rate debt, which small companies carry most of")
        title = (f"Fed {verb} its target by {plain(abs(change), 0)} bp to "
                 f"{plain(values['fed_target_lower'], 2)}\u2013{plain(values['fed_target_upper'], 2)}%: {effect}")
        return title, values

    spread = group.column("spread_10y_3m_bp")
    rules = settings.rates
    inverted = condition(spread < rules.curve_inverted_below_bp, ~np.isnan(spread))
    not_positive = condition(spread <= rules.curve_positive_above_bp, ~np.isnan(spread))

    def describe_curve(direction: str, position: int) -> tuple[str, dict[str, Any]]:
        values = at(group, position, "spread_10y_3m_bp", "yield_10y", "yield_3m")
        spread_bp = signed(values["spread_10y_3m_bp"], 0)
        if direction == "start":
            return (f"Yield curve inverted: 10-year minus 3-month at {spread_bp} bp (below "
                    f"{signed(rules.curve_inverted_below_bp, 0)} bp). Markets expect cuts, or a slowdown that "
                    f"small companies feel first", values)
        return (f"Yield curve positive again: 10-year minus 3-month at {spread_bp} bp (above "
                f"{signed(rules.curve_positive_above_bp, 0)} bp)", values)

    return [
        Condition("rates", "rates:2y_easing", "state", condition(move <= -threshold, move_known),
                  describe_move("easing", "Falling short rates ease the floating-rate debt small companies carry"),
                  hold=condition(move <= -holds, move_known),
                  parts=(part("rates.yield_2y_change_20d_bp", move <= -holds, move_known),)),
        Condition("rates", "rates:2y_tightening", "state", condition(move >= threshold, move_known),
                  describe_move("tightening", "Rising short rates weigh on small companies' floating-rate debt"),
                  hold=condition(move >= holds, move_known),
                  parts=(part("rates.yield_2y_change_20d_bp", move >= holds, move_known),)),
        Condition("rates", "rates:fed_cut", "event", condition(target_change < 0, ~np.isnan(target_change)),
                  describe_fed, limited=False),
        Condition("rates", "rates:fed_hike", "event", condition(target_change > 0, ~np.isnan(target_change)),
                  describe_fed, limited=False),
        Condition("rates", "rates:curve_inverted", "state", inverted, describe_curve, hold=not_positive,
                  parts=(Part("rates.spread_10y_3m_bp", not_positive),)),
    ]


DETECTOR = Detector(
    topic="rates",
    keys=(
        KeySpec("rates:2y_easing", "2-year yield easing",
                "the 2-year yield falls {rates.yield_2y_move_bp:g} bp or more over 20 sessions; ends when the "
                "fall is under {rates.yield_2y_hold_bp:g} bp (a band)"),
        KeySpec("rates:2y_tightening", "2-year yield tightening",
                "the 2-year yield rises {rates.yield_2y_move_bp:g} bp or more over 20 sessions; ends when the "
                "rise is under {rates.yield_2y_hold_bp:g} bp (a band)"),
        KeySpec("rates:fed_cut", "Fed cut",
                "the Fed lowers its target (news: alerted the session after the announcement, "
                "exempt from the start limit)"),
        KeySpec("rates:fed_hike", "Fed hike",
                "the Fed raises its target (news: alerted the session after the announcement, "
                "exempt from the start limit)"),
        KeySpec("rates:curve_inverted", "curve inverted",
                "10y - 3m below {rates.curve_inverted_below_bp:+g} bp; ends above "
                "{rates.curve_positive_above_bp:+g} bp (a band)"),
    ),
    conditions=rates_conditions,
)
