"""Rates as a reader sees them: the 2-year's move, the curve against its band, the Fed's target."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.presentation.topics.answer_parts import active_lines, head, number, past
from bot.presentation.topics.chart_parts import (ALERT, MAIN, NEUTRAL, SECOND, SIZE_INCHES, TEXT, THIRD, active_names,
                                                 enough, last, legend, panel_title, threshold, window)
from bot.presentation.topics.view import ChartSpec, MetricRow, Reading, TopicView
from signals.settings import DetectorSettings
from signals.topics import TOPIC_BY_NAME

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from signals.metrics import Metrics

ROWS = tuple(MetricRow(label, (column,), template) for label, column, template in (
    ("2-year yield", "yield_2y", "{:.2f}%"),
    ("2-year, 20-session change", "yield_2y_change_20d_bp", "{:+.0f} bp"),
    ("3-month yield", "yield_3m", "{:.2f}%"),
    ("10-year yield", "yield_10y", "{:.2f}%"),
    ("10y - 3m spread", "spread_10y_3m_bp", "{:+.0f} bp"),
    ("Fed target (upper)", "fed_target_upper", "{:.2f}%"),
))


def answer(snapshot: dict[str, Any], settings: DetectorSettings, choice: str | None = None) -> str:
    r = snapshot.get("rates") or {}
    rules = settings.rates
    move, spread = r.get("yield_2y_change_20d_bp"), r.get("spread_10y_3m_bp")
    if spread is None:
        state = "n/a"
    elif spread < rules.curve_inverted_below_bp:
        state = "inverted"
    elif spread > rules.curve_positive_above_bp:
        state = "positive"
    else:
        state = "flat, inside the band"
    fed = "n/a"
    if r.get("fed_target_lower") is not None and r.get("fed_target_upper") is not None:
        fed = f"{r['fed_target_lower']:.2f}\u2013{r['fed_target_upper']:.2f}%"
    lines = [
        head("rates", snapshot),
        f"\u2022 2-year {number(r.get('yield_2y'), '{:.2f}%')}, {number(move, '{:+.0f} bp')} in 20 sessions "
        f"(alert at \u00b1{rules.yield_2y_move_bp:g} bp)"
        f"{past(move is not None and abs(move) >= rules.yield_2y_move_bp)}",
        f"\u2022 Curve, 10-year minus 3-month: {number(spread, '{:+.0f} bp')}, {state} (inverted below "
        f"{number(rules.curve_inverted_below_bp, '{:+g}')} bp, positive above "
        f"{number(rules.curve_positive_above_bp, '{:+g}')} bp)",
        f"\u2022 3-month {number(r.get('yield_3m'), '{:.2f}%')}, 10-year {number(r.get('yield_10y'), '{:.2f}%')}",
        f"\u2022 Fed target {fed} (any change alerts the session after the announcement)",
    ]
    return "\n".join(lines + active_lines(snapshot, "rates"))


def draw(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> Reading | None:
    frame = window(metrics.group("rates"))
    if not enough(frame["spread_10y_3m_bp"]) and not enough(frame["yield_2y"]):
        return None
    rules = settings.rates
    figure.set_size_inches(SIZE_INCHES[0], SIZE_INCHES[1] * 1.3)
    yields, curve, move = figure.subplots(3, 1, sharex=True, height_ratios=[1.2, 1, 1])
    for column, label, color, width in (("yield_2y", "2-year", MAIN, 2), ("yield_3m", "3-month", SECOND, 1.5),
                                        ("yield_10y", "10-year", THIRD, 1.5),
                                        ("fed_target_upper", "Fed target (upper)", NEUTRAL, 1.5)):
        yields.plot(frame.index, frame[column], color=color, linewidth=width, label=label,
                    drawstyle="steps-post" if column.startswith("fed") else "default")
    yields.set_ylabel("yield (%)", fontsize=TEXT)
    legend(yields)
    curve.plot(frame.index, frame["spread_10y_3m_bp"], color=MAIN, linewidth=2)
    panel_title(curve, "10-year minus 3-month (bp)")
    threshold(curve, rules.curve_inverted_below_bp, f"inverted below {rules.curve_inverted_below_bp:+g}",
              below=True)
    threshold(curve, rules.curve_positive_above_bp, f"positive above {rules.curve_positive_above_bp:+g}", NEUTRAL)
    curve.set_ylabel("bp", fontsize=TEXT)
    move.plot(frame.index, frame["yield_2y_change_20d_bp"], color=SECOND, linewidth=2)
    panel_title(move, "2-year yield, change over 20 sessions (bp)")
    threshold(move, -rules.yield_2y_move_bp, f"easing {-rules.yield_2y_move_bp:+g}", THIRD, below=True)
    threshold(move, rules.yield_2y_move_bp, f"tightening {rules.yield_2y_move_bp:+g}", ALERT)
    move.set_ylabel("bp", fontsize=TEXT)
    spread = last(frame["spread_10y_3m_bp"])
    two = last(frame["yield_2y"])
    parts = []
    if two is not None:
        parts.append(f"2-year {two:.2f}%")
    if spread is not None:
        state = "inverted" if spread < rules.curve_inverted_below_bp else \
            "positive" if spread > rules.curve_positive_above_bp else "flat"
        parts.append(f"curve {spread:+.0f} bp ({state})".replace("-", "\u2212"))
    return Reading(", ".join(parts), active_names(metrics, settings, "rates"))


VIEW = TopicView(TOPIC_BY_NAME["rates"], answer, charts=(ChartSpec("rates", "Rates and the curve", draw),), rows=ROWS)
