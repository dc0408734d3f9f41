"""Rate change: the front end moving enough to change the small-cap case, the Fed, the curve."""

from __future__ import annotations

from signals.detectors.base import Condition, at, plain, signed
from signals.detectors.edges import condition
from signals.metrics import Metrics
from signals.settings import DetectorSettings


def rates_conditions(metrics: Metrics, settings: DetectorSettings) -> list[Condition]:
    frame = metrics.rates
    move = frame["yield_2y_change_20d_bp"]
    threshold = settings.rates.yield_2y_move_bp
    known = move.notna()

    def describe_move(label: str):
        def describe(direction: str, position: int) -> tuple[str, dict]:
            values = at(frame, position, "yield_2y", "yield_2y_change_20d_bp", "yield_3m", "yield_10y")
            numbers = (f"2-year yield {signed(values['yield_2y_change_20d_bp'], 0)} bp in 20 sessions "
                       f"(now {plain(values['yield_2y'], 2)}%)")
            title = f"Rates {label}: {numbers}" if direction == "start" else f"Rates {label} over: {numbers}"
            return title, values
        return describe

    target_change = frame["fed_target_change_bp"]

    def describe_fed(direction: str, position: int) -> tuple[str, dict]:
        values = at(frame, position, "fed_target_change_bp", "fed_target_lower", "fed_target_upper", "yield_2y")
        change = values["fed_target_change_bp"] or 0.0
        verb = "cut" if change < 0 else "raised"
        title = (f"Fed {verb} its target by {plain(abs(change), 0)} bp to "
                 f"{plain(values['fed_target_lower'], 2)}\u2013{plain(values['fed_target_upper'], 2)}%")
        return title, values

    spread = frame["spread_10y_3m_bp"]

    def describe_curve(direction: str, position: int) -> tuple[str, dict]:
        values = at(frame, position, "spread_10y_3m_bp", "yield_10y", "yield_3m")
        if direction == "start":
            title = f"Yield curve inverted: 10-year minus 3-month at {signed(values['spread_10y_3m_bp'], 0)} bp"
        else:
            title = f"Yield curve turned positive: 10-year minus 3-month at {signed(values['spread_10y_3m_bp'], 0)} bp"
        return title, values

    return [
        Condition("rates", "rates:2y_easing", "state", condition(move <= -threshold, known),
                  describe_move("easing")),
        Condition("rates", "rates:2y_tightening", "state", condition(move >= threshold, known),
                  describe_move("tightening")),
        Condition("rates", "rates:fed_cut", "event", condition(target_change < 0, target_change.notna()),
                  describe_fed),
        Condition("rates", "rates:fed_hike", "event", condition(target_change > 0, target_change.notna()),
                  describe_fed),
        Condition("rates", "rates:curve_inverted", "state", condition(spread < 0, spread.notna()),
                  describe_curve),
    ]
