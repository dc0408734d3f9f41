"""Breadth as a reader sees it: `/breadth` (both universes, or one in full), one chart per universe, the
per-universe table of `metrics`."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from bot.presentation.topics.answer_parts import MINUS, active_lines, head, number, past
from bot.presentation.topics.chart_parts import (MAIN, NEUTRAL, SECOND, SIZE_INCHES, TEXT, THIRD, active_names,
                                                 enough, last, legend, pct, threshold, window)
from bot.presentation.topics.view import ChartSpec, Draw, MetricRow, Reading, TopicView
from signals.metrics.breadth import UNIVERSE_LABELS
from signals.settings import DetectorSettings
from signals.topics import TOPIC_BY_NAME
from signals.universe_specs import UNIVERSES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from signals.metrics import Metrics

# Rows every universe has: `metrics` shows them side by side, one column per universe.
UNIVERSE_ROWS: tuple[MetricRow, ...] = tuple(MetricRow(label, (column,), template) for label, column, template in (
    ("members with data", "members", "{:.0f}"),
    ("% above 50-day average", "pct_above_50dma", "{:.1f}%"),
    ("% above 200-day average", "pct_above_200dma", "{:.1f}%"),
    ("median member from 52w high", "median_pct_from_52w_high", "{:+.1f}%"),
    ("index from 52w high", "index_pct_from_52w_high", "{:+.1f}%"),
    ("new 52w highs", "new_highs", "{:.0f}"),
    ("new 52w lows", "new_lows", "{:.0f}"),
    ("advances", "advances", "{:.0f}"),
    ("declines", "declines", "{:.0f}"),
    ("McClellan oscillator", "mcclellan_oscillator", "{:+.1f}"),
    ("Zweig thrust EMA", "zweig_thrust_ema", "{:.3f}"),
    ("% above 20-day average", "pct_above_20dma", "{:.1f}%"),
    ("net new highs", "net_new_highs", "{:+.0f}"),
    ("High-Low Index", "high_low_index", "{:.1f}"),
    ("McClellan summation", "mcclellan_summation", "{:+,.0f}"),
))
MEMBER_COUNTS = frozenset({"new_highs", "new_lows", "advances", "declines", "net_new_highs", "members"})

# The S&P 500's own rows beyond its universe's: equal weight against cap weight.
ROWS = (
    MetricRow("RSP/SPY vs 50-day average", ("rsp_spy_vs_50dma_pct",), "{:+.2f}%"),
    MetricRow("RSP/SPY 50-session change", ("rsp_spy_change_50d_pct",), "{:+.2f}%"),
)


def _universe_lines(name: str, values: dict[str, Any], settings: DetectorSettings, full: bool) -> list[str]:
    rules = settings.breadth
    median_alert = rules.median_below_high_pct if name == "sp500" else rules.smallcap_median_below_high_pct
    index = values.get("index_pct_from_52w_high")
    median = values.get("median_pct_from_52w_high")
    above = values.get("pct_above_200dma")
    thrust = values.get("zweig_thrust_ema")
    lines = [
        f"\u2022 Index {number(index, '{:+.1f}%')} from its 52-week high (near it: within "
        f"{rules.index_within_pct_of_high:g}%)",
        f"\u2022 Median member {number(median, '{:+.1f}%')} from its high (alert at {MINUS}{median_alert:g}%)"
        f"{past(median is not None and median <= -median_alert)}",
        f"\u2022 {number(above, '{:.1f}%')} above their 200-day (washout below {rules.washout_below_pct:g}%)"
        f"{past(above is not None and above < rules.washout_below_pct)}",
        f"\u2022 10-day share advancing {number(thrust, '{:.2f}')} (thrust: below {rules.thrust_low:g} to above "
        f"{rules.thrust_high:g} in {rules.thrust_sessions} sessions)",
    ]
    if full:
        lines += [f"\u2022 {number(values.get('pct_above_50dma'), '{:.1f}%')} above their 50-day, "
                  f"{number(values.get('pct_above_20dma'), '{:.1f}%')} above their 20-day",
                  f"\u2022 New 52-week highs / lows: {number(values.get('new_highs'), '{}')} / "
                  f"{number(values.get('new_lows'), '{}')} (net {number(values.get('net_new_highs'), '{:+d}')}); "
                  f"High-Low Index {number(values.get('high_low_index'), '{:.0f}')}",
                  f"\u2022 McClellan oscillator {number(values.get('mcclellan_oscillator'), '{:+.1f}')}, "
                  f"summation {number(values.get('mcclellan_summation'), '{:+,.0f}')}",
                  f"\u2022 Members with data: {number(values.get('members'), '{}')}"]
        sectors = [(key.removeprefix("sector_").removesuffix("_pct_above_50dma"), value)
                   for key, value in values.items() if key.startswith("sector_") and key.endswith("_pct_above_50dma")]
        if sectors:
            lines.append("<i>Above their 50-day, by sector (small caps' heaviest first):</i>")
            lines += [f"  {escape(sector.replace('_', ' ').title())} {number(value, '{:.0f}%')}"
                      for sector, value in sectors]
    return lines


def answer(snapshot: dict[str, Any], settings: DetectorSettings, universe: str | None = None) -> str:
    """Both universes (the default), or one in full."""
    universes = snapshot.get("universes") or {"sp500": snapshot.get("breadth") or {}}
    names = [universe] if universe else list(universes)
    lines = [head("breadth", snapshot)]
    rules = settings.breadth
    for name in names:
        lines.append(f"<b>{escape(UNIVERSE_LABELS.get(name, name))}</b>")
        lines += _universe_lines(name, universes.get(name) or {}, settings, full=universe is not None)
        if name == "sp500":
            change = (snapshot.get("breadth") or {}).get("rsp_spy_change_50d_pct")
            lines.append(f"\u2022 Equal weight: RSP/SPY {number(change, '{:+.1f}%')} in {rules.equal_weight_sessions} "
                         f"sessions (alert at {MINUS}{rules.equal_weight_drop_pct:g}%)"
                         f"{past(change is not None and change <= -rules.equal_weight_drop_pct)}")
    lines += active_lines(snapshot, "breadth")
    if universe is None:
        lines.append("<i>/breadth sp500 or /breadth russell2000 for one in full</i>")
    return "\n".join(lines)


def _chart_of(universe: str) -> Draw:
    def draw(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> Reading | None:
        breadth = metrics.breadths.get(universe)
        if breadth is None:
            return None
        frame = window(breadth.frame)
        index_gap, median_gap = frame["index_pct_from_52w_high"], frame["median_pct_from_52w_high"]
        if not enough(median_gap, frame["pct_above_200dma"]):
            return None
        rules = settings.breadth
        median_alert = -(rules.median_below_high_pct if universe == "sp500" else rules.smallcap_median_below_high_pct)
        figure.set_size_inches(SIZE_INCHES[0], SIZE_INCHES[1] * 1.3)
        top, bottom, toolkit = figure.subplots(3, 1, sharex=True, height_ratios=[1.2, 1, 1])
        index_name = UNIVERSE_LABELS.get(universe, universe)
        near = -rules.index_within_pct_of_high
        if universe == "sp500":
            top.plot(frame.index, index_gap, color=MAIN, linewidth=2, label="S&P 500 index")
        else:  # the small-cap key reads the S&P 500's distance from its high, so that is what its threshold is on
            sp500 = window(metrics.group("breadth"))["index_pct_from_52w_high"]
            top.plot(frame.index, sp500, color=MAIN, linewidth=2, label="S&P 500 index")
            top.plot(frame.index, index_gap, color=NEUTRAL, linewidth=1.3, label=f"{index_name} index")
        top.plot(frame.index, median_gap, color=SECOND, linewidth=2, label="median member")
        threshold(top, near, f"S&P 500 near high: {pct(near, 0)}", MAIN, below=True)
        threshold(top, median_alert, f"alert: median {pct(median_alert, 0)}", below=True)
        top.set_ylabel("% below 52-week high", fontsize=TEXT)
        legend(top)
        bottom.plot(frame.index, frame["pct_above_200dma"], color=THIRD, linewidth=2, label="above 200-day")
        bottom.plot(frame.index, frame["pct_above_50dma"], color=NEUTRAL, linewidth=1.3, label="above 50-day")
        threshold(bottom, rules.washout_below_pct, f"washout: below {rules.washout_below_pct:g}%")
        bottom.set_ylim(0, 100)
        bottom.set_ylabel("% of members", fontsize=TEXT)
        legend(bottom)
        # the analyst's toolkit: the High-Low Index (new highs' share, 10-session average) and the short-term
        # share above the 20-day, both 0-100 with 50 as the line between more highs and more lows
        if "high_low_index" in frame:
            toolkit.plot(frame.index, frame["high_low_index"], color=MAIN, linewidth=2, label="High-Low Index")
            toolkit.plot(frame.index, frame["pct_above_20dma"], color=NEUTRAL, linewidth=1.2, label="above 20-day")
        toolkit.set_ylim(0, 100)
        if "high_low_index" in frame:
            threshold(toolkit, 50, "50: midline", NEUTRAL)
        toolkit.set_ylabel("0-100", fontsize=TEXT)
        legend(toolkit)
        headline = (f"Median member {pct(last(median_gap))} from its high (alert {pct(median_alert, 0)}), "
                    f"{pct(last(frame['pct_above_200dma']), 0, signed=False)} above their 200-day")
        return Reading(headline, active_names(metrics, settings, "breadth" if universe == "sp500" else universe))
    return draw


VIEW = TopicView(
    TOPIC_BY_NAME["breadth"], answer,
    charts=tuple(ChartSpec(u.chart, f"{u.label} breadth", _chart_of(u.name)) for u in UNIVERSES),
    rows=ROWS,
    choices={u.name: (u.chart,) for u in UNIVERSES},
)
