"""The charts the bot sends, drawn for a phone: PNG bytes from the metric frames.

Telegram shows a photo about 390 points wide on a phone, so every chart is a portrait figure with
large type; legends sit above their panel, never over the data; each threshold line carries its
value; the title states the current reading and which signals are active. With too little history
the chart is a clear "not enough history" card, not an empty frame.

Only matplotlib's object-oriented API is used (a `Figure` with the Agg canvas): no pyplot, so no
global figure registry is shared between the worker threads that draw charts.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.presentation.chart_keys import chart_for_key
from signals.universe_specs import UNIVERSES
from signals.detectors import KEY_TOPICS, KEYS, active_signals
from signals.metrics import Metrics
from signals.metrics.breadth import UNIVERSE_LABELS
from signals.metrics.cycle import cycle_snapshot, phases
from signals.settings import DetectorSettings

LOOKBACK_SESSIONS = 252
MIN_SESSIONS = 40  # fewer sessions with data than this: the "not enough history" card
SIZE_INCHES = (6.0, 7.6)  # portrait: about 960 x 1216 px at DPI, shown ~390 pt wide on a phone
DPI = 160
TEXT, SMALL, TITLE = 14, 12.5, 16
ALERT, NEUTRAL, MAIN, SECOND, THIRD = "#c0392b", "#7f8c8d", "#1f4e79", "#e67e22", "#27ae60"


@dataclass(frozen=True)
class Reading:
    """What the title says: the headline number(s), and the state of the topic's signals."""

    headline: str
    active: list[str]


Draw = Callable[[Figure, Metrics, DetectorSettings], Reading | None]


def _window(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[-LOOKBACK_SESSIONS:]


def _legend(axes: Axes, columns: int = 2) -> None:
    """Above the panel, outside the data."""
    axes.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=columns, frameon=False, fontsize=SMALL,
                handlelength=1.6, borderaxespad=0.2, columnspacing=1.0)


def _threshold(axes: Axes, level: float, label: str, color: str = ALERT, below: bool = False) -> None:
    """A dashed threshold line with its value written beside it, where it covers no data if it can.

    Call it after the data is drawn: the y range grows to keep the line and its label inside, and the
    label goes to the first free spot of: the right end (below or above the line), then the left end.
    A label at the left never covers the newest sessions, where a reader looks first.
    """
    low, high = axes.get_ylim()
    pad = 0.14 * (high - low)
    axes.set_ylim(min(low, level - pad), max(high, level + pad))
    axes.axhline(level, color=color, linestyle=(0, (3, 2)), linewidth=1.4, zorder=1)
    text = label.replace("-", "\u2212")
    x, side, under = _label_spot(axes, level, text, below)
    axes.annotate(text, xy=(x, level), xycoords=("axes fraction", "data"),
                  xytext=(-4 if side == "right" else 4, -3 if under else 3), textcoords="offset points", ha=side,
                  va="top" if under else "bottom", fontsize=SMALL, color=color, zorder=5,
                  bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})


def _label_spot(axes: Axes, level: float, text: str, below: bool) -> tuple[float, str, bool]:
    """(x in axes fraction, "right"|"left", under the line?) of the first spot whose box covers no data point."""
    from matplotlib.textpath import TextPath

    figure_width, figure_height = axes.figure.get_size_inches() * 72
    box = axes.get_position()
    width = (TextPath((0, 0), text, size=SMALL).get_extents().width + 12) / (box.width * figure_width)
    height = (SMALL * 1.45) / (box.height * figure_height)  # of the axes
    points = [line.get_xydata() for line in axes.get_lines() if len(line.get_xdata()) > 2]  # data, not axhlines
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
    hits = [covered(1.0 - width, 1.0, under) if side == "right" else covered(0.0, width, under)
            for _, side, under in spots]
    for spot, hit in zip(spots, hits):
        if hit == 0:
            return spot
    return min(spots[2:], key=lambda spot: hits[spots.index(spot)])  # the left end: the newest data stays clear


def _last(series: pd.Series) -> float | None:
    values = series.dropna()
    return None if values.empty else float(values.iat[-1])


def _pct(value: float | None, digits: int = 1, signed: bool = True) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    value = round(value, digits) + 0.0  # no "-0.0%"
    if signed and value == 0:
        return f"{0:.{digits}f}%"  # no "+0.0%" for -0.04% either
    return (f"{value:+.{digits}f}%" if signed else f"{value:.{digits}f}%").replace("-", "\u2212")


def _enough(*series: pd.Series) -> bool:
    return all(int(s.notna().sum()) >= MIN_SESSIONS for s in series)


def _active(metrics: Metrics, settings: DetectorSettings, chart: str) -> list[str]:
    """The signals active now that this chart shows (`chart_for_key`), by their plain names."""
    return [KEYS[key].name for key in active_signals(metrics, settings)
            if chart_for_key(KEY_TOPICS[key], key) == chart]


def _breadth_of(universe: str) -> Draw:
    def draw(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> Reading | None:
        frame = metrics.universes.get(universe)
        if frame is None:
            return None
        frame = _window(frame)
        index_gap, median_gap = frame["index_pct_from_52w_high"], frame["median_pct_from_52w_high"]
        if not _enough(median_gap, frame["pct_above_200dma"]):
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
            sp500 = _window(metrics.breadth)["index_pct_from_52w_high"]
            top.plot(frame.index, sp500, color=MAIN, linewidth=2, label="S&P 500 index")
            top.plot(frame.index, index_gap, color=NEUTRAL, linewidth=1.3, label=f"{index_name} index")
        top.plot(frame.index, median_gap, color=SECOND, linewidth=2, label="median member")
        _threshold(top, near, f"S&P 500 near high: {_pct(near, 0)}", MAIN, below=True)
        _threshold(top, median_alert, f"alert: median {_pct(median_alert, 0)}", below=True)
        top.set_ylabel("% below 52-week high", fontsize=TEXT)
        _legend(top)
        bottom.plot(frame.index, frame["pct_above_200dma"], color=THIRD, linewidth=2, label="above 200-day")
        bottom.plot(frame.index, frame["pct_above_50dma"], color=NEUTRAL, linewidth=1.3, label="above 50-day")
        _threshold(bottom, rules.washout_below_pct, f"washout: below {rules.washout_below_pct:g}%")
        bottom.set_ylim(0, 100)
        bottom.set_ylabel("% of members", fontsize=TEXT)
        _legend(bottom)
        # the analyst's toolkit: the High-Low Index (new highs' share, 10-session average) and the short-term
        # share above the 20-day, both 0-100 with 50 as the line between more highs and more lows
        if "high_low_index" in frame:
            toolkit.plot(frame.index, frame["high_low_index"], color=MAIN, linewidth=2, label="High-Low Index")
            toolkit.plot(frame.index, frame["pct_above_20dma"], color=NEUTRAL, linewidth=1.2, label="above 20-day")
            toolkit.axhline(50, color=NEUTRAL, linewidth=0.8)
        toolkit.set_ylim(0, 100)
        toolkit.set_ylabel("0-100", fontsize=TEXT)
        _legend(toolkit)
        headline = (f"Median member {_pct(_last(median_gap))} from its high (alert {_pct(median_alert, 0)}), "
                    f"{_pct(_last(frame['pct_above_200dma']), 0, signed=False)} above their 200-day")
        return Reading(headline, _active(metrics, settings, "breadth" if universe == "sp500" else universe))
    return draw


def _breakout(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> Reading | None:
    frame = _window(metrics.breakout)
    if not _enough(frame["iwm_close"], frame["iwm_spy_ratio"]):
        return None
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(frame.index, frame["iwm_close"], color=MAIN, linewidth=2, label="IWM close")
    top.plot(frame.index, frame["iwm_prior_252d_high"], color=ALERT, linestyle="--", linewidth=1.4,
             label="breakout level: prior 52-week high")
    top.set_ylabel("IWM ($)", fontsize=TEXT)
    _legend(top, 1)
    base = frame["iwm_spy_ratio"].dropna().iat[0]
    bottom.plot(frame.index, frame["iwm_spy_ratio"] / base * 100, color=MAIN, linewidth=2, label="IWM / SPY")
    bottom.plot(frame.index, frame["iwm_spy_prior_60d_high"] / base * 100, color=ALERT, linestyle="--",
                linewidth=1.4, label="prior 60-session high")
    bottom.plot(frame.index, frame["iwm_spy_200d_avg"] / base * 100, color=NEUTRAL, linestyle=":", linewidth=1.8,
                label="200-session average")
    bottom.set_ylabel("IWM / SPY (start = 100)", fontsize=TEXT)
    _legend(bottom)
    headline = (f"IWM {_last(frame['iwm_close']):.2f}, {_pct(_last(frame['iwm_pct_vs_prior_252d_high']))} vs its "
                f"prior 52-week high; IWM/SPY {_pct(_last(frame['iwm_spy_pct_vs_200d_avg']))} vs its 200-day")
    return Reading(headline, _active(metrics, settings, "breakout"))


def _rates(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> Reading | None:
    frame = _window(metrics.rates)
    if not _enough(frame["spread_10y_3m_bp"]) and not _enough(frame["yield_2y"]):
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
    _legend(yields)
    curve.plot(frame.index, frame["spread_10y_3m_bp"], color=MAIN, linewidth=2)
    _panel_title(curve, "10-year minus 3-month (bp)")
    _threshold(curve, rules.curve_inverted_below_bp, f"inverted below {rules.curve_inverted_below_bp:+g}",
               below=True)
    _threshold(curve, rules.curve_positive_above_bp, f"positive above {rules.curve_positive_above_bp:+g}", NEUTRAL)
    curve.set_ylabel("bp", fontsize=TEXT)
    move.plot(frame.index, frame["yield_2y_change_20d_bp"], color=SECOND, linewidth=2)
    _panel_title(move, "2-year yield, change over 20 sessions (bp)")
    _threshold(move, -rules.yield_2y_move_bp, f"easing {-rules.yield_2y_move_bp:+g}", THIRD, below=True)
    _threshold(move, rules.yield_2y_move_bp, f"tightening {rules.yield_2y_move_bp:+g}", ALERT)
    move.set_ylabel("bp", fontsize=TEXT)
    spread = _last(frame["spread_10y_3m_bp"])
    two = _last(frame["yield_2y"])
    parts = []
    if two is not None:
        parts.append(f"2-year {two:.2f}%")
    if spread is not None:
        state = "inverted" if spread < rules.curve_inverted_below_bp else \
            "positive" if spread > rules.curve_positive_above_bp else "flat"
        parts.append(f"curve {spread:+.0f} bp ({state})".replace("-", "\u2212"))
    return Reading(", ".join(parts), _active(metrics, settings, "rates"))


def _panel_title(axes: Axes, text: str) -> None:
    """A one-series panel says what it shows above it, where a legend would go."""
    axes.set_title(text, loc="left", fontsize=SMALL, pad=4)


def _relative(axes: Axes, frame: pd.DataFrame, prefix: str, label: str) -> None:
    ratio = frame[f"{prefix}_ratio"]
    base = ratio.dropna().iat[0]
    axes.plot(frame.index, ratio / base * 100, color=MAIN, linewidth=2, label=label)
    axes.plot(frame.index, frame[f"{prefix}_prior_60d_high"] / base * 100, color=ALERT, linestyle="--",
              linewidth=1.4, label="prior 60-session high")
    axes.plot(frame.index, frame[f"{prefix}_200d_avg"] / base * 100, color=NEUTRAL, linestyle=":", linewidth=1.8,
              label="200-session average")
    axes.set_ylabel(f"{label} (start = 100)", fontsize=TEXT)
    _legend(axes)


def _sectors(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> Reading | None:
    frame = _window(metrics.sectors)
    if not _enough(frame["cyclicals_xlk_ratio"]) and not _enough(frame["kre_spy_ratio"]):
        return None
    top, bottom = figure.subplots(2, 1, sharex=True)
    if frame["cyclicals_xlk_ratio"].notna().any():
        _relative(top, frame, "cyclicals_xlk", "cyclicals / XLK")
    if frame["kre_spy_ratio"].notna().any():
        _relative(bottom, frame, "kre_spy", "KRE / SPY")
    headline = (f"Cyclicals/XLK {_pct(_last(frame['cyclicals_xlk_pct_vs_prior_60d_high']))} vs its 60-day high, "
                f"KRE/SPY {_pct(_last(frame['kre_spy_pct_vs_prior_60d_high']))}")
    return Reading(headline, _active(metrics, settings, "sectors"))


def _credit(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> Reading | None:
    frame = _window(metrics.credit)
    if not _enough(frame["hyg_ief_ratio"]):
        return None
    rules = settings.credit
    top, bottom = figure.subplots(2, 1, sharex=True)
    base = frame["hyg_ief_ratio"].dropna().iat[0]
    top.plot(frame.index, frame["hyg_ief_ratio"] / base * 100, color=MAIN, linewidth=2, label="HYG / IEF")
    top.plot(frame.index, frame["hyg_ief_200d_avg"] / base * 100, color=NEUTRAL, linestyle=":", linewidth=1.8,
             label="200-session average")
    top.set_ylabel("HYG / IEF (start = 100)", fontsize=TEXT)
    _legend(top)
    bottom.plot(frame.index, frame["hyg_ief_change_20d_pct"], color=SECOND, linewidth=2,
                label="20-session change")
    _threshold(bottom, -rules.hy_drop_pct, f"stress alert {_pct(-rules.hy_drop_pct, 0)}")
    bottom.axhline(0, color=NEUTRAL, linewidth=0.8)
    bottom.set_ylabel("% change", fontsize=TEXT)
    _legend(bottom, 1)
    headline = (f"HYG/IEF {_pct(_last(frame['hyg_ief_change_20d_pct']))} over 20 sessions "
                f"(alert {_pct(-rules.hy_drop_pct, 0)})")
    return Reading(headline, _active(metrics, settings, "credit"))


def _cycle(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> Reading | None:
    """The whole history, not a year: a cycle's phases last months to years. Phases shaded by leader."""
    frame = metrics.cycle
    ratio = frame["ratio"]
    if not _enough(ratio):
        return None
    axes = figure.subplots(1, 1)
    base = ratio.dropna().iat[0]
    pair = metrics.cycle_pair.name or "small / large"
    axes.plot(frame.index, ratio / base * 100, color=MAIN, linewidth=1.6, label=pair)
    sessions = frame.index
    shaded: set[str] = set()
    found = phases(frame)
    for number, phase in enumerate(found):
        start = pd.Timestamp(phase["since"])
        end = pd.Timestamp(found[number + 1]["since"]) if number + 1 < len(found) else sessions[-1]
        small = phase["leader"] == "small"
        label = ("small caps lead" if small else "large caps lead")
        axes.axvspan(start, end, color=THIRD if small else NEUTRAL, alpha=0.18 if small else 0.12, linewidth=0,
                     label=None if label in shaded else label)
        shaded.add(label)
    axes.set_ylabel(f"{pair} (start = 100)", fontsize=TEXT)
    _legend(axes, 2)
    now = cycle_snapshot(frame, metrics.cycle_pair, len(frame) - 1)
    if now["leader"] is None:
        headline = f"Leader not known yet ({settings.cycle.band_pct:g}% band)"
    else:
        who = "Small caps" if now["leader"] == "small" else "Large caps"
        headline = (f"{who} lead since {now['since']} ({now['sessions']} sessions, "
                    f"{_pct(now['ratio_change_pct'])}); band {settings.cycle.band_pct:g}%")
    return Reading(headline, _active(metrics, settings, "cycle"))


# One chart per topic (a test checks); breadth's, one per universe.
CHARTS: dict[str, tuple[str, Draw]] = {
    **{u.chart: (f"{u.label} breadth", _breadth_of(u.name)) for u in UNIVERSES},
    "breakout": ("Small-cap breakout", _breakout),
    "rates": ("Rates and the curve", _rates),
    "sectors": ("Sector rotation", _sectors),
    "credit": ("Credit: high yield vs Treasuries", _credit),
    "cycle": ("The small-cap cycle", _cycle),
}


def render_chart(name: str, metrics: Metrics, settings: DetectorSettings) -> bytes:
    """PNG bytes of chart `name` (a key of CHARTS) over the last year of `metrics`."""
    figure = draw_chart(name, metrics, settings)
    if figure is None:
        title = CHARTS[name][0]
        as_of = metrics.sessions[-1].strftime("%Y-%m-%d") if len(metrics.sessions) else "no data"
        return _not_enough(name, title, as_of, metrics)
    return _png(figure)


def draw_chart(name: str, metrics: Metrics, settings: DetectorSettings) -> Figure | None:
    """The finished figure of chart `name`; None when the history is too short to draw it."""
    title, draw = CHARTS[name]
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(figure)
    as_of = metrics.sessions[-1].strftime("%Y-%m-%d") if len(metrics.sessions) else "no data"
    reading = draw(figure, metrics, settings) if len(metrics.sessions) else None
    if reading is None:
        return None
    for axes in figure.axes:
        axes.grid(alpha=0.3)
        axes.tick_params(labelsize=SMALL)
        axes.margins(x=0.01)
    _date_axis(figure.axes[-1])
    signals = ", ".join(reading.active) if reading.active else "none"
    height = figure.get_size_inches()[1]
    figure.suptitle(f"{title} \u00b7 {as_of}", fontsize=TITLE, fontweight="bold", x=0.02, ha="left",
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
        def format_ticks(self, values):  # noqa: ANN001, ANN202
            dates = [mdates.num2date(value) for value in values]
            return [f"{d:%b}\n{d:%Y}" if i == 0 or d.month == 1 else f"{d:%b}" for i, d in enumerate(dates)]

        def __call__(self, x, pos=None):  # noqa: ANN001, ANN204
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
    sessions = len(metrics.sessions)
    figure.text(0.5, 0.66, f"{title} \u00b7 {as_of}", ha="center", fontsize=TITLE, fontweight="bold")
    text = (f"Not enough history for this chart yet. Its measures (52-week highs, 200-day averages) need up "
            f"to a year of prices before their first value, then {MIN_SESSIONS} sessions to draw; the data "
            f"holds {sessions} sessions" + (" (or no Russell 2000 list)." if name == "russell2000" else "."))
    figure.text(0.5, 0.40, _wrap(text, 48), ha="center", va="center", fontsize=TEXT, color="#333333")
    return _png(figure)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


