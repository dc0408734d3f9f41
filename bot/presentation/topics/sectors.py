"""Sector rotation as a reader sees it: cyclicals against tech, regional banks against the S&P 500."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.presentation.topics.answer_parts import active_lines, head, number, past
from bot.presentation.topics.chart_parts import (ALERT, MAIN, NEUTRAL, TEXT, active_names, enough, last, legend, pct,
                                                 window)
from bot.presentation.topics.view import ChartSpec, MetricRow, Reading, TopicView
from signals.settings import DetectorSettings
from signals.topics import TOPIC_BY_NAME

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from signals.metrics import Metrics

ROWS = tuple(MetricRow(label, (column,), template) for label, column, template in (
    ("XLI+XLF+XLY/XLK vs prior 60d high", "cyclicals_xlk_pct_vs_prior_60d_high", "{:+.2f}%"),
    ("XLI+XLF+XLY/XLK vs 200-day average", "cyclicals_xlk_pct_vs_200d_avg", "{:+.2f}%"),
    ("KRE/SPY vs prior 60d high", "kre_spy_pct_vs_prior_60d_high", "{:+.2f}%"),
    ("KRE/SPY vs 200-day average", "kre_spy_pct_vs_200d_avg", "{:+.2f}%"),
    ("XLK vs SPY, 20 sessions", "xlk_vs_spy_20d_pct", "{:+.1f} pts"),
))


def answer(snapshot: dict[str, Any], settings: DetectorSettings, choice: str | None = None) -> str:
    k = snapshot.get("sectors") or {}
    sessions = settings.sectors.ratio_high_sessions

    def lead(prefix: str, label: str) -> str:
        high, average = k.get(f"{prefix}_pct_vs_prior_60d_high"), k.get(f"{prefix}_pct_vs_200d_avg")
        both = high is not None and average is not None and high > 0 and average > 0
        return (f"\u2022 {label} {number(high, '{:+.2f}%')} vs its prior {sessions}-day high, "
                f"{number(average, '{:+.2f}%')} vs its 200-day (alert: above both){past(both)}")

    leads = ", ".join(f"{name} {number(k.get(f'{ticker}_vs_spy_20d_pct'), '{:+.1f}')}" for ticker, name in
                      (("xli", "XLI"), ("xlf", "XLF"), ("xly", "XLY"), ("xlk", "XLK"), ("kre", "KRE")))
    lines = [head("sectors", snapshot), lead("cyclicals_xlk", "Cyclicals (XLI, XLF, XLY) over XLK"),
             lead("kre_spy", "Regional banks KRE over SPY"),
             f"\u2022 Last 20 sessions against SPY, points: {leads}"]
    return "\n".join(lines + active_lines(snapshot, "sectors"))


def _relative(axes: Axes, frame: pd.DataFrame, prefix: str, label: str) -> None:
    ratio = frame[f"{prefix}_ratio"]
    base = ratio.dropna().iat[0]
    axes.plot(frame.index, ratio / base * 100, color=MAIN, linewidth=2, label=label)
    axes.plot(frame.index, frame[f"{prefix}_prior_60d_high"] / base * 100, color=ALERT, linestyle="--",
              linewidth=1.4, label="prior 60-session high")
    axes.plot(frame.index, frame[f"{prefix}_200d_avg"] / base * 100, color=NEUTRAL, linestyle=":", linewidth=1.8,
              label="200-session average")
    axes.set_ylabel(f"{label} (start = 100)", fontsize=TEXT)
    legend(axes)


def draw(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> Reading | None:
    frame = window(metrics.group("sectors"))
    if not enough(frame["cyclicals_xlk_ratio"]) and not enough(frame["kre_spy_ratio"]):
        return None
    top, bottom = figure.subplots(2, 1, sharex=True)
    if frame["cyclicals_xlk_ratio"].notna().any():
        _relative(top, frame, "cyclicals_xlk", "cyclicals / XLK")
    if frame["kre_spy_ratio"].notna().any():
        _relative(bottom, frame, "kre_spy", "KRE / SPY")
    headline = (f"Cyclicals/XLK {pct(last(frame['cyclicals_xlk_pct_vs_prior_60d_high']))} vs its 60-day high, "
                f"KRE/SPY {pct(last(frame['kre_spy_pct_vs_prior_60d_high']))}")
    return Reading(headline, active_names(metrics, settings, "sectors"))


VIEW = TopicView(TOPIC_BY_NAME["sectors"], answer, charts=(ChartSpec("sectors", "Sector rotation", draw),), rows=ROWS)
