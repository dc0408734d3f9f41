"""The charts the bot sends, drawn from the metric frames (PNG bytes; matplotlib's Agg backend, no screen).

Each chart shows the last year up to the as-of session and marks the threshold its detector uses,
so a reader sees at a glance how close the picture is to an alert.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # files only: never look for a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from signals.metrics import Metrics  # noqa: E402
from signals.settings import DetectorSettings  # noqa: E402

LOOKBACK_SESSIONS = 252


def _breadth(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> None:
    frame = metrics.breadth.iloc[-LOOKBACK_SESSIONS:]
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(frame.index, frame["index_pct_from_52w_high"], label="S&P 500 from its 52w high")
    top.plot(frame.index, frame["median_pct_from_52w_high"], label="median member from its 52w high")
    top.axhline(-settings.breadth.index_within_pct_of_high, color="grey", linestyle=":", linewidth=1)
    top.axhline(-settings.breadth.median_below_high_pct, color="firebrick", linestyle=":", linewidth=1)
    top.set_ylabel("% from 52-week high")
    top.legend(loc="lower left", fontsize=8)
    bottom.plot(frame.index, frame["pct_above_200dma"], label="% above 200-day", color="darkgreen")
    bottom.plot(frame.index, frame["pct_above_50dma"], label="% above 50-day", color="olive", alpha=0.7)
    bottom.set_ylim(0, 100)
    bottom.set_ylabel("% of members")
    bottom.legend(loc="lower left", fontsize=8)


def _breakout(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> None:
    frame = metrics.breakout.iloc[-LOOKBACK_SESSIONS:]
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(frame.index, frame["iwm_close"], label="IWM")
    top.plot(frame.index, frame["iwm_prior_252d_high"], label="prior 252-session high", linestyle="--")
    top.legend(loc="upper left", fontsize=8)
    bottom.plot(frame.index, frame["iwm_spy_ratio"], label="IWM/SPY")
    bottom.plot(frame.index, frame["iwm_spy_prior_60d_high"], label="prior 60-session high", linestyle="--")
    bottom.plot(frame.index, frame["iwm_spy_200d_avg"], label="200-session average", linestyle=":")
    bottom.legend(loc="upper left", fontsize=8)


def _rates(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> None:
    frame = metrics.rates.iloc[-LOOKBACK_SESSIONS:]
    top, bottom = figure.subplots(2, 1, sharex=True)
    for column, label in (("yield_2y", "2-year"), ("yield_3m", "3-month"), ("yield_10y", "10-year"),
                          ("fed_target_upper", "Fed target (upper)")):
        top.plot(frame.index, frame[column], label=label)
    top.set_ylabel("%")
    top.legend(loc="upper left", fontsize=8)
    bottom.plot(frame.index, frame["yield_2y_change_20d_bp"], label="2-year, 20-session change (bp)")
    bottom.plot(frame.index, frame["spread_10y_3m_bp"], label="10y - 3m (bp)")
    for level in (settings.rates.yield_2y_move_bp, -settings.rates.yield_2y_move_bp, 0.0):
        bottom.axhline(level, color="grey", linestyle=":", linewidth=1)
    bottom.legend(loc="upper left", fontsize=8)


def _relative(axes, frame, prefix: str, label: str) -> None:
    axes.plot(frame.index, frame[f"{prefix}_ratio"], label=label)
    axes.plot(frame.index, frame[f"{prefix}_prior_60d_high"], label="prior 60-session high", linestyle="--")
    axes.plot(frame.index, frame[f"{prefix}_200d_avg"], label="200-session average", linestyle=":")
    axes.legend(loc="upper left", fontsize=8)


def _sectors(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> None:
    frame = metrics.sectors.iloc[-LOOKBACK_SESSIONS:]
    top, bottom = figure.subplots(2, 1, sharex=True)
    _relative(top, frame, "cyclicals_xlk", "XLI+XLF+XLY / XLK")
    _relative(bottom, frame, "kre_spy", "KRE / SPY")


def _credit(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> None:
    frame = metrics.credit.iloc[-LOOKBACK_SESSIONS:]
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(frame.index, frame["hyg_ief_ratio"], label="HYG / IEF")
    top.plot(frame.index, frame["hyg_ief_200d_avg"], label="200-session average", linestyle=":")
    top.legend(loc="upper left", fontsize=8)
    bottom.plot(frame.index, frame["hyg_ief_change_20d_pct"], label="HYG / IEF, 20-session change (%)")
    bottom.axhline(-settings.credit.hy_drop_pct, color="firebrick", linestyle=":", linewidth=1)
    bottom.legend(loc="lower left", fontsize=8)


# One chart per topic (a test checks every topic has one).
CHARTS: dict[str, tuple[str, Callable[[Figure, Metrics, DetectorSettings], None]]] = {
    "breadth": ("Breadth: the index against its typical member", _breadth),
    "breakout": ("Small caps: IWM and IWM/SPY against their ranges", _breakout),
    "rates": ("Rates: yields, the Fed's target, the curve", _rates),
    "sectors": ("Sectors: cyclicals over tech, regional banks over the S&P 500", _sectors),
    "credit": ("Credit: high yield against Treasuries", _credit),
}


def render_chart(name: str, metrics: Metrics, settings: DetectorSettings) -> bytes:
    """PNG bytes of chart `name` (a key of CHARTS) over the last year of `metrics`."""
    title, draw = CHARTS[name]
    figure = plt.figure(figsize=(9, 6), dpi=100)
    try:
        draw(figure, metrics, settings)
        for axes in figure.axes:
            axes.grid(alpha=0.3)
        as_of = metrics.sessions[-1].strftime("%Y-%m-%d")
        figure.suptitle(f"{title} \u00b7 {as_of}")
        figure.autofmt_xdate()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()
    finally:
        plt.close(figure)
