"""The answers to /breadth, /breakout, /rates, /sectors, /credit, /cycle: each number beside its trigger.

A subscriber asks "how close are we?", so every reading names the level its alert fires at, the
topic's active signals are listed with the session each started, and a button brings the chart.
Plain lines rather than wide tables: a phone shows about 35 monospace characters.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.presentation.buttons import CHART
from signals.universe_specs import UNIVERSES
from signals.detectors import KEYS
from signals.detectors.cycle import SEED_MONTHS, SESSIONS_PER_MONTH
from signals.metrics.breadth import UNIVERSE_LABELS
from signals.settings import DetectorSettings
from signals.topics import TOPIC_BY_NAME

MINUS = "\u2212"
WARN = " \u26a0\ufe0f"  # shown where a reading is past its trigger


def _n(value: Any, template: str) -> str:
    if value is None:
        return "n/a"
    return template.format(value).replace("-", MINUS)


def _past(flag: bool) -> str:
    return WARN if flag else ""


def active_lines(snapshot: dict[str, Any], prefix: str) -> list[str]:
    """The topic's active signals by plain name, with the session each started."""
    active = {key: since for key, since in (snapshot.get("active") or {}).items() if key.startswith(prefix)}
    if not active:
        return ["Active: none"]
    names = [f"{KEYS[key].name if key in KEYS else key} (since {since})" for key, since in active.items()]
    return [f"Active: {escape(', '.join(names))}"]


def chart_keyboard(*names: str) -> InlineKeyboardMarkup:
    labels = {u.chart: f"{u.label} chart" for u in UNIVERSES}
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"\U0001F4C8 {labels.get(name, 'Chart')}",
                                                       callback_data=CHART.data(name)) for name in names]])


def _head(topic: str, snapshot: dict[str, Any]) -> str:
    return f"<b>{escape(TOPIC_BY_NAME[topic].label)}</b> \u00b7 {escape(snapshot['as_of'])} close"


def _universe_lines(name: str, values: dict[str, Any], settings: DetectorSettings, full: bool) -> list[str]:
    rules = settings.breadth
    median_alert = rules.median_below_high_pct if name == "sp500" else rules.smallcap_median_below_high_pct
    index = values.get("index_pct_from_52w_high")
    median = values.get("median_pct_from_52w_high")
    above = values.get("pct_above_200dma")
    thrust = values.get("zweig_thrust_ema")
    lines = [
        f"\u2022 Index {_n(index, '{:+.1f}%')} from its 52-week high (near it: within "
        f"{rules.index_within_pct_of_high:g}%)",
        f"\u2022 Median member {_n(median, '{:+.1f}%')} from its high (alert at {MINUS}{median_alert:g}%)"
        f"{_past(median is not None and median <= -median_alert)}",
        f"\u2022 {_n(above, '{:.1f}%')} above their 200-day (washout below {rules.washout_below_pct:g}%)"
        f"{_past(above is not None and above < rules.washout_below_pct)}",
        f"\u2022 10-day share advancing {_n(thrust, '{:.2f}')} (thrust: below {rules.thrust_low:g} to above "
        f"{rules.thrust_high:g} in {rules.thrust_sessions} sessions)",
    ]
    if full:
        lines += [f"\u2022 {_n(values.get('pct_above_50dma'), '{:.1f}%')} above their 50-day, "
                  f"{_n(values.get('pct_above_20dma'), '{:.1f}%')} above their 20-day",
                  f"\u2022 New 52-week highs / lows: {_n(values.get('new_highs'), '{}')} / "
                  f"{_n(values.get('new_lows'), '{}')} (net {_n(values.get('net_new_highs'), '{:+d}')}); "
                  f"High-Low Index {_n(values.get('high_low_index'), '{:.0f}')}",
                  f"\u2022 McClellan oscillator {_n(values.get('mcclellan_oscillator'), '{:+.1f}')}, "
                  f"summation {_n(values.get('mcclellan_summation'), '{:+,.0f}')}",
                  f"\u2022 Members with data: {_n(values.get('members'), '{}')}"]
        sectors = [(key.removeprefix("sector_").removesuffix("_pct_above_50dma"), value)
                   for key, value in values.items() if key.startswith("sector_") and key.endswith("_pct_above_50dma")]
        if sectors:
            lines.append("<i>Above their 50-day, by sector (small caps' heaviest first):</i>")
            lines += [f"  {escape(sector.replace('_', ' ').title())} {_n(value, '{:.0f}%')}"
                      for sector, value in sectors]
    return lines


def breadth_answer(snapshot: dict[str, Any], settings: DetectorSettings, universe: str | None = None) -> str:
    """Both universes (the default), or one in full."""
    universes = snapshot.get("universes") or {"sp500": snapshot.get("breadth") or {}}
    names = [universe] if universe else list(universes)
    lines = [_head("breadth", snapshot)]
    rules = settings.breadth
    for name in names:
        lines.append(f"<b>{escape(UNIVERSE_LABELS.get(name, name))}</b>")
        lines += _universe_lines(name, universes.get(name) or {}, settings, full=universe is not None)
        if name == "sp500":
            change = (snapshot.get("breadth") or {}).get("rsp_spy_change_50d_pct")
            lines.append(f"\u2022 Equal weight: RSP/SPY {_n(change, '{:+.1f}%')} in {rules.equal_weight_sessions} "
                         f"sessions (alert at {MINUS}{rules.equal_weight_drop_pct:g}%)"
                         f"{_past(change is not None and change <= -rules.equal_weight_drop_pct)}")
    lines += active_lines(snapshot, "breadth:")
    if universe is None:
        lines.append("<i>/breadth sp500 or /breadth russell2000 for one in full</i>")
    return "\n".join(lines)


def breakout_answer(snapshot: dict[str, Any], settings: DetectorSettings) -> str:
    k = snapshot.get("breakout") or {}
    rules = settings.breakout
    iwm_gap = k.get("iwm_pct_vs_prior_252d_high")
    ratio_high, ratio_avg = k.get("iwm_spy_pct_vs_prior_60d_high"), k.get("iwm_spy_pct_vs_200d_avg")
    adx, volume = k.get("iwm_adx_14"), k.get("iwm_volume_ratio_50d")
    lines = [
        _head("breakout", snapshot),
        f"\u2022 IWM {_n(k.get('iwm_close'), '{:.2f}')}, {_n(iwm_gap, '{:+.2f}%')} vs its prior 52-week closing high "
        f"(alert above it){_past(iwm_gap is not None and iwm_gap > 0)}",
        f"\u2022 IWM/SPY {_n(ratio_high, '{:+.2f}%')} vs its prior {rules.ratio_high_sessions}-day high and "
        f"{_n(ratio_avg, '{:+.2f}%')} vs its 200-day (alert: above both)"
        f"{_past(ratio_high is not None and ratio_avg is not None and ratio_high > 0 and ratio_avg > 0)}",
        f"\u2022 A new small-cap leg: IWM/SPY back above its 200-day after {rules.leg_below_sessions}+ "
        f"sessions below ({'above it now' if ratio_avg is not None and ratio_avg > 0 else 'below it now'})",
        f"\u2022 ^RUT {_n(k.get('rut_pct_vs_prior_252d_high'), '{:+.2f}%')} vs its prior 52-week high",
        f"\u2022 Confirmation: ADX {_n(adx, '{:.1f}')} (trend at {rules.adx_min:g}), volume "
        f"{_n(volume, '{:.2f}x')} its 50-day average (at {rules.volume_ratio_min:g}x)",
    ]
    return "\n".join(lines + active_lines(snapshot, "breakout:"))


def rates_answer(snapshot: dict[str, Any], settings: DetectorSettings) -> str:
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
        _head("rates", snapshot),
        f"\u2022 2-year {_n(r.get('yield_2y'), '{:.2f}%')}, {_n(move, '{:+.0f} bp')} in 20 sessions "
        f"(alert at \u00b1{rules.yield_2y_move_bp:g} bp)"
        f"{_past(move is not None and abs(move) >= rules.yield_2y_move_bp)}",
        f"\u2022 Curve, 10-year minus 3-month: {_n(spread, '{:+.0f} bp')}, {state} (inverted below "
        f"{_n(rules.curve_inverted_below_bp, '{:+g}')} bp, positive above "
        f"{_n(rules.curve_positive_above_bp, '{:+g}')} bp)",
        f"\u2022 3-month {_n(r.get('yield_3m'), '{:.2f}%')}, 10-year {_n(r.get('yield_10y'), '{:.2f}%')}",
        f"\u2022 Fed target {fed} (any change alerts the session after the announcement)",
    ]
    return "\n".join(lines + active_lines(snapshot, "rates:"))


def sectors_answer(snapshot: dict[str, Any], settings: DetectorSettings) -> str:
    k = snapshot.get("sectors") or {}
    sessions = settings.sectors.ratio_high_sessions

    def lead(prefix: str, label: str) -> str:
        high, average = k.get(f"{prefix}_pct_vs_prior_60d_high"), k.get(f"{prefix}_pct_vs_200d_avg")
        both = high is not None and average is not None and high > 0 and average > 0
        return (f"\u2022 {label} {_n(high, '{:+.2f}%')} vs its prior {sessions}-day high, "
                f"{_n(average, '{:+.2f}%')} vs its 200-day (alert: above both){_past(both)}")

    leads = ", ".join(f"{name} {_n(k.get(f'{ticker}_vs_spy_20d_pct'), '{:+.1f}')}" for ticker, name in
                      (("xli", "XLI"), ("xlf", "XLF"), ("xly", "XLY"), ("xlk", "XLK"), ("kre", "KRE")))
    lines = [_head("sectors", snapshot), lead("cyclicals_xlk", "Cyclicals (XLI, XLF, XLY) over XLK"),
             lead("kre_spy", "Regional banks KRE over SPY"),
             f"\u2022 Last 20 sessions against SPY, points: {leads}"]
    return "\n".join(lines + active_lines(snapshot, "sectors:"))


def credit_answer(snapshot: dict[str, Any], settings: DetectorSettings) -> str:
    c = snapshot.get("credit") or {}
    rules = settings.credit
    change = c.get("hyg_ief_change_20d_pct")
    lines = [
        _head("credit", snapshot),
        f"\u2022 HYG/IEF {_n(change, '{:+.2f}%')} in {rules.hy_sessions} sessions (stress at {MINUS}"
        f"{rules.hy_drop_pct:g}%, over above {MINUS}{rules.hy_end_drop_pct:g}%)"
        f"{_past(change is not None and change <= -rules.hy_drop_pct)}",
        f"\u2022 HYG/IEF {_n(c.get('hyg_ief_pct_vs_200d_avg'), '{:+.2f}%')} vs its 200-day",
        "<i>High-yield bonds against 7-10 year Treasuries: falling means dearer credit for small companies.</i>",
    ]
    return "\n".join(lines + active_lines(snapshot, "credit:"))


def cycle_answer(snapshot: dict[str, Any], settings: DetectorSettings) -> str:
    """The current phase, and the completed small-cap phases against the seed's 18-24 months."""
    c = snapshot.get("cycle") or {}
    band = settings.cycle.band_pct
    lines = [_head("cycle", snapshot)]
    pair = c.get("pair") or "IWM/SPY"
    if c.get("leader") is None:
        lines.append(f"\u2022 Leader not known yet: {escape(pair)} has not moved {band:g}% from a low or a high")
    else:
        who = "Small caps" if c["leader"] == "small" else "Large caps"
        since, confirmed = escape(str(c.get("since"))), escape(str(c.get("confirmed")))
        lines.append(f"\u2022 {who} lead since {since} (confirmed {confirmed}): {_n(c.get('sessions'), '{}')} "
                     f"sessions, {escape(pair)} {_n(c.get('ratio_change_pct'), '{:+.1f}%')}")
    small = [p for p in c.get("phases") or [] if p.get("leader") == "small" and p.get("ended")]
    if small:
        months = sorted(p["sessions"] / SESSIONS_PER_MONTH for p in small)
        middle = months[len(months) // 2] if len(months) % 2 else (months[len(months) // 2 - 1]
                                                                  + months[len(months) // 2]) / 2
        lines.append(f"\u2022 Completed small-cap phases here: {len(small)}, median {middle:.1f} months "
                     f"(shortest {months[0]:.1f}, longest {months[-1]:.1f}); the seed expects "
                     f"{SEED_MONTHS[0]}-{SEED_MONTHS[1]} months")
        lines += [f"  {escape(p['since'])}: {p['sessions'] / SESSIONS_PER_MONTH:.1f} months, "
                  f"{escape(pair)} {_n(p['ratio_change_pct'], '{:+.1f}%')}" for p in small[-6:]]
    else:
        lines.append("\u2022 No completed small-cap phase in this history yet")
    lines.append(f"<i>A phase turns when {escape(pair)} closes {band:g}% beyond its extreme since the last turn.</i>")
    return "\n".join(lines + active_lines(snapshot, "cycle:"))


Answer = Callable[[dict[str, Any], DetectorSettings], str]
# One answer per topic (a test checks), and the chart(s) its button offers.
ANSWERS: dict[str, tuple[Answer, tuple[str, ...]]] = {
    "breadth": (breadth_answer, ("breadth", "russell2000")),
    "breakout": (breakout_answer, ("breakout",)),
    "rates": (rates_answer, ("rates",)),
    "sectors": (sectors_answer, ("sectors",)),
    "credit": (credit_answer, ("credit",)),
    "cycle": (cycle_answer, ("cycle",)),
}
