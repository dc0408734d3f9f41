"""The charts the bot sends, drawn for a phone: PNG bytes from the metric frames.

Each chart's panels come from its topic's module (bot/presentation/topics/, `ChartSpec.draw`); this
module gives them their common frame: the title with the date, the reading and the active signals
above the panels, the date axis, and a clear "not enough history" card instead of an empty frame.

Only matplotlib's object-oriented API is used (a `Figure` with the Agg canvas): no pyplot, so no
global figure registry is shared between the worker threads that draw charts.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.presentation.topics import CHARTS
from bot.presentation.topics.chart_parts import DPI, MIN_SESSIONS, SIZE_INCHES, SMALL, TEXT, TITLE
from signals.metrics import Metrics
from signals.settings import DetectorSettings
from signals.universe_specs import UNIVERSES


def render_chart(name: str, metrics: Metrics, settings: DetectorSettings) -> bytes:
    """PNG bytes of chart `name` (a key of CHARTS) over the last year of `metrics`."""
    figure = draw_chart(name, metrics, settings)
    if figure is None:
        title = CHARTS[name].title
        as_of = metrics.sessions[-1].strftime("%Y-%m-%d") if len(metrics.sessions) else "no data"
        return _not_enough(name, title, as_of, metrics)
    return _png(figure)


def draw_chart(name: str, metrics: Metrics, settings: DetectorSettings) -> Figure | None:
    """The finished figure of chart `name`; None when the history is too short to draw it."""
    spec = CHARTS[name]
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(figure)
    as_of = metrics.sessions[-1].strftime("%Y-%m-%d") if len(metrics.sessions) else "no data"
    reading = spec.draw(figure, metrics, settings) if len(metrics.sessions) else None
    if reading is None:
        return None
    for axes in figure.axes:
        axes.grid(alpha=0.3)
        axes.tick_params(labelsize=SMALL)
        axes.margins(x=0.01)
    _date_axis(figure.axes[-1])
    signals = ", ".join(reading.active) if reading.active else "none"
    height = figure.get_size_inches()[1]
    figure.suptitle(f"{spec.title} \u00b7 {as_of}", fontsize=TITLE, fontweight="bold", x=0.02, ha="left",
                    y=1 - 0.06 / height, va="top")
    figure.text(0.02, 1 - 0.42 / height, _wrap(reading.headline, 56) + f"\nActive: {signals}", fontsize=SMALL,
                va="top", ha="left", color="#333333")
    figure.subplots_adjust(left=0.15, right=0.97, top=1 - 1.75 / height, bottom=0.45 / height, hspace=0.5)
    return figure


def _date_axis(axes: Axes) -> None:
    """Month ticks, the first tick and each January carrying the year, so every year on the axis is
    named; over more than two years (the cycle's whole history), year ticks."""
    import matplotlib.dates as mdates
    from matplotlib.ticker import Formatter

    class MonthsWithYears(Formatter):
        def format_ticks(self, values: Sequence[float]) -> list[str]:
            dates = [mdates.num2date(value) for value in values]
            return [f"{d:%b}\n{d:%Y}" if i == 0 or d.month == 1 else f"{d:%b}" for i, d in enumerate(dates)]

        def __call__(self, x: float, pos: int | None = None) -> str:
            return f"{mdates.num2date(x):%b %Y}"

    first, last = (mdates.num2date(x) for x in axes.get_xlim())
    years = last.year - first.year
    if years > 2:  # a long history (the cycle): one tick per year or few, each a year
        axes.xaxis.set_major_locator(mdates.YearLocator(base=max(1, math.ceil(years / 8))))
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
        return
    axes.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
    axes.xaxis.set_major_formatter(MonthsWithYears())


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _not_enough(name: str, title: str, as_of: str, metrics: Metrics) -> bytes:
    """A card that says why there is no chart, instead of an empty frame with a broken axis."""
    figure = Figure(figsize=(SIZE_INCHES[0], 3.2), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.text(0.5, 0.66, f"{title} \u00b7 {as_of}", ha="center", fontsize=TITLE, fontweight="bold")
    text = _why_not_drawn(name, metrics)
    figure.text(0.5, 0.40, _wrap(text, 48), ha="center", va="center", fontsize=TEXT, color="#333333")
    return _png(figure)


def _why_not_drawn(name: str, metrics: Metrics) -> str:
    """The reason in the reader's terms: a breadth chart whose universe has no members with prices
    lacks its list, not history (a folder without constituents.csv holds years of sessions)."""
    universe = next((u for u in UNIVERSES if u.chart == name), None)
    if universe is not None:
        breadth = metrics.breadths.get(universe.name)
        members = breadth.frame["members"] if breadth is not None and "members" in breadth.names else None
        if members is None or not (members.fillna(0) > 0).any():
            listed = "constituents.csv" if universe.name == "sp500" else f"universes/{universe.name}.csv"
            return (f"No {universe.label} members with prices: the data has no {universe.label} list "
                    f"({listed} in a data folder), so there is no breadth to draw. The index charts "
                    f"(/chart breakout, rates, cycle) do not need it.")
    return (f"Not enough history for this chart yet. Its measures (52-week highs, 200-day averages) need up "
            f"to a year of prices before their first value, then {MIN_SESSIONS} sessions to draw; the data "
            f"holds {len(metrics.sessions):,} sessions.")


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


