"""The small-cap breakout as a reader sees it: IWM and IWM/SPY against their ranges, and confirmation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.presentation.topics.answer_parts import active_lines, head, number, past
from bot.presentation.topics.chart_parts import (ALERT, MAIN, NEUTRAL, TEXT, active_names, end_value, enough, last,
                                                 legend, pct, window)
from bot.presentation.topics.view import ChartSpec, MetricRow, Reading, TopicView
from signals.settings import DetectorSettings
from signals.topics import TOPIC_BY_NAME

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from signals.metrics import Metrics

ROWS = tuple(MetricRow(label, (column,), template) for label, column, template in (
    ("IWM close", "iwm_close", "{:.2f}"),
    ("IWM vs prior 20d high", "iwm_pct_vs_prior_20d_high", "{:+.2f}%"),
    ("IWM vs prior 252d high", "iwm_pct_vs_prior_252d_high", "{:+.2f}%"),
    ("^RUT vs prior 252d high", "rut_pct_vs_prior_252d_high", "{:+.2f}%"),
    ("IWM/SPY ratio", "iwm_spy_ratio", "{:.4f}"),
    ("IWM/SPY vs prior 60d high", "iwm_spy_pct_vs_prior_60d_high", "{:+.2f}%"),
    ("IWM/SPY vs 200-day average", "iwm_spy_pct_vs_200d_avg", "{:+.2f}%"),
    ("IWM ADX(14)", "iwm_adx_14", "{:.1f}"),
    ("IWM volume / 50-day average", "iwm_volume_ratio_50d", "{:.2f}x"),
))


def cells(snapshot: dict[str, Any]) -> list[tuple[str, str]]:
    """The rows, named after what was read: on index-only history the indices stand in for the ETFs."""
    values = snapshot.get("breakout") or {}
    stand_ins = snapshot.get("stand_ins") or {}
    lines = []
    for row in ROWS:
        label = row.label
        for etf, index in stand_ins.items():
            label = label.replace(etf, index)
        lines.append((label, row.cell(values)))
    return lines


def answer(snapshot: dict[str, Any], settings: DetectorSettings, choice: str | None = None) -> str:
    k = snapshot.get("breakout") or {}
    rules = settings.breakout
    iwm_gap = k.get("iwm_pct_vs_prior_252d_high")
    ratio_high, ratio_avg = k.get("iwm_spy_pct_vs_prior_60d_high"), k.get("iwm_spy_pct_vs_200d_avg")
    adx, volume = k.get("iwm_adx_14"), k.get("iwm_volume_ratio_50d")
    lines = [
        head("breakout", snapshot),
        f"\u2022 IWM {number(k.get('iwm_close'), '{:.2f}')}, {number(iwm_gap, '{:+.2f}%')} vs its prior 52-week "
        f"closing high (alert above it){past(iwm_gap is not None and iwm_gap > 0)}",
        f"\u2022 IWM/SPY {number(ratio_high, '{:+.2f}%')} vs its prior {rules.ratio_high_sessions}-day high and "
        f"{number(ratio_avg, '{:+.2f}%')} vs its 200-day (alert: above both)"
        f"{past(ratio_high is not None and ratio_avg is not None and ratio_high > 0 and ratio_avg > 0)}",
        f"\u2022 A new small-cap leg: IWM/SPY back above its 200-day after {rules.leg_below_sessions}+ "
        f"sessions below ({'above it now' if ratio_avg is not None and ratio_avg > 0 else 'below it now'})",
        f"\u2022 ^RUT {number(k.get('rut_pct_vs_prior_252d_high'), '{:+.2f}%')} vs its prior 52-week high",
        f"\u2022 Confirmation: ADX {number(adx, '{:.1f}')} (trend at {rules.adx_min:g}), volume "
        f"{number(volume, '{:.2f}x')} its 50-day average (at {rules.volume_ratio_min:g}x)",
    ]
    return "\n".join(lines + active_lines(snapshot, "breakout"))


def draw(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> Reading | None:
    frame = window(metrics.group("breakout"))
    if not enough(frame["iwm_close"], frame["iwm_spy_ratio"]):
        return None
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(frame.index, frame["iwm_close"], color=MAIN, linewidth=2, label="IWM close")
    top.plot(frame.index, frame["iwm_prior_252d_high"], color=ALERT, linestyle="--", linewidth=1.4,
             label="breakout level: prior 52-week high")
    end_value(top, frame["iwm_prior_252d_high"], f"breakout above {last(frame['iwm_prior_252d_high']):.2f}")
    top.set_ylabel("IWM ($)", fontsize=TEXT)
    legend(top, 1)
    base = frame["iwm_spy_ratio"].dropna().iat[0]
    bottom.plot(frame.index, frame["iwm_spy_ratio"] / base * 100, color=MAIN, linewidth=2, label="IWM / SPY")
    bottom.plot(frame.index, frame["iwm_spy_prior_60d_high"] / base * 100, color=ALERT, linestyle="--",
                linewidth=1.4, label="prior 60-session high")
    bottom.plot(frame.index, frame["iwm_spy_200d_avg"] / base * 100, color=NEUTRAL, linestyle=":", linewidth=1.8,
                label="200-session average")
    high, average = frame["iwm_spy_prior_60d_high"] / base * 100, frame["iwm_spy_200d_avg"] / base * 100
    end_value(bottom, high, f"60-session high now {last(high):.1f}")
    end_value(bottom, average, f"average now {last(average):.1f}", NEUTRAL)
    bottom.set_ylabel("IWM / SPY (start = 100)", fontsize=TEXT)
    legend(bottom)
    headline = (f"IWM {last(frame['iwm_close']):.2f}, {pct(last(frame['iwm_pct_vs_prior_252d_high']))} vs its "
                f"prior 52-week high; IWM/SPY {pct(last(frame['iwm_spy_pct_vs_200d_avg']))} vs its 200-day")
    return Reading(headline, active_names(metrics, settings, "breakout"))


VIEW = TopicView(TOPIC_BY_NAME["breakout"], answer, charts=(ChartSpec("breakout", "Small-cap breakout", draw),),
                 rows=ROWS, cells=cells)
