"""What every chart is drawn with: sizes and colours for a phone, threshold lines that carry their value,
legends above their panel, the reading in the title.

Telegram shows a photo about 390 points wide on a phone, so every chart is a portrait figure with
large type; legends sit above their panel, never over the data; each threshold line carries its
value. Nothing here imports matplotlib: the topic modules that draw with these parts are read by the
command line and the bot's tables before any chart is drawn (bot/presentation/charts.py draws).
"""

from __future__ import annotations

import math

import numpy as np
from typing import TYPE_CHECKING

from bot.presentation.chart_keys import chart_for_key
from signals.detectors import KEY_TOPICS, KEYS, active_signals

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from signals.metrics import Metrics
    from signals.settings import DetectorSettings

LOOKBACK_SESSIONS = 252
MIN_SESSIONS = 40  # fewer sessions with data than this: the "not enough history" card
SIZE_INCHES = (6.0, 7.6)  # portrait: about 960 x 1216 px at DPI, shown ~390 pt wide on a phone
DPI = 160
TEXT, SMALL, TITLE = 14, 12.5, 16
ALERT, NEUTRAL, MAIN, SECOND, THIRD = "#c0392b", "#7f8c8d", "#1f4e79", "#e67e22", "#27ae60"


def window(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[-LOOKBACK_SESSIONS:]


def legend(axes: Axes, columns: int = 2) -> None:
    """Above the panel, outside the data."""
    axes.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=columns, frameon=False, fontsize=SMALL,
                handlelength=1.6, borderaxespad=0.2, columnspacing=1.0)


def threshold(axes: Axes, level: float, label: str, color: str = ALERT, below: bool = False) -> None:
    """A dashed threshold line with its value written beside it, where it covers no data if it can.

    Call it after the data is drawn: the y range grows to keep the line and its label inside, and the
    label goes to the first free spot of: the right end (below or above the line), the left end, then
    along the line left to right short of the newest fifth. With no free spot it covers the fewest
    points away from the right end: it never covers the newest sessions, where a reader looks first.
    """
    low, high = axes.get_ylim()
    pad = 0.14 * (high - low)
    axes.set_ylim(min(low, level - pad), max(high, level + pad))
    axes.axhline(level, color=color, linestyle=(0, (3, 2)), linewidth=1.4, zorder=1)
    _annotate_level(axes, level, label, color, below)


def _annotate_level(axes: Axes, level: float, label: str, color: str, below: bool) -> None:
    text = label.replace("-", "\u2212")
    x, side, under = _label_spot(axes, level, text, below)
    axes.annotate(text, xy=(x, level), xycoords=("axes fraction", "data"),
                  xytext=(-4 if side == "right" else 4, -3 if under else 3), textcoords="offset points", ha=side,
                  va="top" if under else "bottom", fontsize=SMALL, color=color, zorder=5,
                  bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})


def end_value(axes: Axes, series: pd.Series, text: str, color: str = ALERT) -> None:
    """A level drawn as a line that moves (a prior high, an average) labelled with its latest value, at its
    height, where the label covers no data (as `threshold` places its labels); after the data is drawn."""
    values = series.dropna()
    if values.empty:
        return
    level = float(values.iat[-1])
    low, high = axes.get_ylim()
    pad = 0.14 * (high - low)
    axes.set_ylim(min(low, level - pad), max(high, level + pad))
    _annotate_level(axes, level, text, color, below=False)


def _label_spot(axes: Axes, level: float, text: str, below: bool) -> tuple[float, str, bool]:
    """(x in axes fraction, "right"|"left", under the line?) of the first spot whose box covers no data point."""
    from matplotlib.textpath import TextPath

    figure = axes.get_figure(root=True)
    assert figure is not None, "render_chart draws every axes on a figure"
    figure_width, figure_height = figure.get_size_inches() * 72
    box = axes.get_position()
    width = (TextPath((0, 0), text, size=SMALL).get_extents().width + 12) / (box.width * figure_width)
    height = (SMALL * 1.45) / (box.height * figure_height)  # of the axes
    points = [np.asarray(line.get_xydata(), dtype="float64") for line in axes.get_lines()
              if len(np.asarray(line.get_xdata())) > 2]  # data, not axhlines
    if not points:
        return 1.0, "right", below
    xs = [p[:, 0] for p in points]
    first, last = min(float(x.min()) for x in xs), max(float(x.max()) for x in xs)
    span = (last - first) * 1.02 or 1.0  # render_chart's x margins of 1%
    start = first - 0.01 * (last - first)
    low, high = axes.get_ylim()
    tall = height * (high - low)

    def covered(x_from: float, x_to: float, under: bool) -> int:
        y_from, y_to = (level - tall, level) if under else (level, level + tall)
        x_low, x_high = start + x_from * span, start + x_to * span
        return sum(int(((p[:, 0] >= x_low) & (p[:, 0] <= x_high) & (p[:, 1] >= y_from) & (p[:, 1] <= y_to)).sum())
                   for p in points)

    spots = [(1.0, "right", below), (1.0, "right", not below), (0.0, "left", below), (0.0, "left", not below)]
    # then every other place along the line, left to right, that keeps the newest fifth of the chart clear
    steps = int(max(0.0, 0.8 - width) / 0.02)
    spots += [(0.02 * i, "left", under) for i in range(1, steps + 1) for under in (below, not below)]
    hits = [covered(1.0 - width, 1.0, under) if side == "right" else covered(x, x + width, under)
            for x, side, under in spots]
    for spot, hit in zip(spots, hits):
        if hit == 0:
            return spot
    return min(spots[2:], key=lambda spot: hits[spots.index(spot)])  # never the right end: the newest data stays clear


def last(series: pd.Series) -> float | None:
    values = series.dropna()
    return None if values.empty else float(values.iat[-1])


def pct(value: float | None, digits: int = 1, signed: bool = True) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    value = round(value, digits) + 0.0  # no "-0.0%"
    if signed and value == 0:
        return f"{0:.{digits}f}%"  # no "+0.0%" for -0.04% either
    return (f"{value:+.{digits}f}%" if signed else f"{value:.{digits}f}%").replace("-", "\u2212")


def enough(*series: pd.Series) -> bool:
    return all(int(s.notna().sum()) >= MIN_SESSIONS for s in series)


def active_names(metrics: Metrics, settings: DetectorSettings, chart: str) -> list[str]:
    """The signals active now that this chart shows (`chart_for_key`), by their plain names."""
    return [KEYS[key].name for key in active_signals(metrics, settings)
            if chart_for_key(KEY_TOPICS[key], key) == chart]


def panel_title(axes: Axes, text: str) -> None:
    """A one-series panel says what it shows above it, where a legend would go."""
    axes.set_title(text, loc="left", fontsize=SMALL, pad=4)
