"""Credit as a reader sees it: high-yield bonds against Treasuries, their 20-session change and trend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.presentation.topics.answer_parts import MINUS, active_lines, head, number, past
from bot.presentation.topics.chart_parts import (MAIN, NEUTRAL, SECOND, TEXT, active_names, enough, last, legend,
                                                 pct, threshold, window)
from bot.presentation.topics.view import ChartSpec, MetricRow, Reading, TopicView
from signals.settings import DetectorSettings
from signals.topics import TOPIC_BY_NAME

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from signals.metrics import Metrics

ROWS = tuple(MetricRow(label, (column,), template) for label, column, template in (
    ("HYG/IEF", "hyg_ief_ratio", "{:.4f}"),
    ("HYG/IEF 20-session change", "hyg_ief_change_20d_pct", "{:+.2f}%"),
    ("HYG/IEF vs 200-day average", "hyg_ief_pct_vs_200d_avg", "{:+.2f}%"),
))


def answer(snapshot: dict[str, Any], settings: DetectorSettings, choice: str | None = None) -> str:
    c = snapshot.get("credit") or {}
    rules = settings.credit
    change = c.get("hyg_ief_change_20d_pct")
    lines = [
        head("credit", snapshot),
        f"\u2022 HYG/IEF {number(change, '{:+.2f}%')} in {rules.hy_sessions} sessions (stress at {MINUS}"
        f"{rules.hy_drop_pct:g}%, over above {MINUS}{rules.hy_end_drop_pct:g}%)"
        f"{past(change is not None and change <= -rules.hy_drop_pct)}",
        f"\u2022 HYG/IEF {number(c.get('hyg_ief_pct_vs_200d_avg'), '{:+.2f}%')} vs its 200-day",
        "<i>High-yield bonds against 7-10 year Treasuries: falling means dearer credit for small companies.</i>",
    ]
    return "\n".join(lines + active_lines(snapshot, "credit"))


def draw(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> Reading | None:
    frame = window(metrics.group("credit"))
    if not enough(frame["hyg_ief_ratio"]):
        return None
    rules = settings.credit
    top, bottom = figure.subplots(2, 1, sharex=True)
    base = frame["hyg_ief_ratio"].dropna().iat[0]
    top.plot(frame.index, frame["hyg_ief_ratio"] / base * 100, color=MAIN, linewidth=2, label="HYG / IEF")
    top.plot(frame.index, frame["hyg_ief_200d_avg"] / base * 100, color=NEUTRAL, linestyle=":", linewidth=1.8,
             label="200-session average")
    top.set_ylabel("HYG / IEF (start = 100)", fontsize=TEXT)
    legend(top)
    bottom.plot(frame.index, frame["hyg_ief_change_20d_pct"], color=SECOND, linewidth=2,
                label="20-session change")
    threshold(bottom, -rules.hy_drop_pct, f"stress alert {pct(-rules.hy_drop_pct, 0)}")
    bottom.axhline(0, color=NEUTRAL, linewidth=0.8)
    bottom.set_ylabel("% change", fontsize=TEXT)
    legend(bottom, 1)
    headline = (f"HYG/IEF {pct(last(frame['hyg_ief_change_20d_pct']))} over 20 sessions "
                f"(alert {pct(-rules.hy_drop_pct, 0)})")
    return Reading(headline, active_names(metrics, settings, "credit"))


VIEW = TopicView(TOPIC_BY_NAME["credit"], answer,
                 charts=(ChartSpec("credit", "Credit: high yield vs Treasuries", draw),), rows=ROWS)
