"""Plain-text rendering of metrics and replays for the terminal: aligned, units shown."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from signals.metrics.breadth import UNIVERSE_LABELS
from signals.replay import ReplayResult
from signals.signal_value import verdict

# (group, label, column, format): the rows a person reads; JSON carries every column.
METRIC_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("breadth", "members with data", "members", "{:.0f}"),
    ("breadth", "% above 50-day average", "pct_above_50dma", "{:.1f}%"),
    ("breadth", "% above 200-day average", "pct_above_200dma", "{:.1f}%"),
    ("breadth", "median member from 52w high", "median_pct_from_52w_high", "{:+.1f}%"),
    ("breadth", "S&P 500 from 52w high", "index_pct_from_52w_high", "{:+.1f}%"),
    ("breadth", "new 52w highs", "new_highs", "{:.0f}"),
    ("breadth", "new 52w lows", "new_lows", "{:.0f}"),
    ("breadth", "advances / declines", ("advances", "declines"), "{:.0f} / {:.0f}"),  # type: ignore[arg-type]
    ("breadth", "McClellan oscillator", "mcclellan_oscillator", "{:+.1f}"),
    ("breadth", "Zweig thrust EMA", "zweig_thrust_ema", "{:.3f}"),
    ("breadth", "RSP/SPY vs 50-day average", "rsp_spy_vs_50dma_pct", "{:+.2f}%"),
    ("breadth", "RSP/SPY 50-session change", "rsp_spy_change_50d_pct", "{:+.2f}%"),
    ("breakout", "IWM close", "iwm_close", "{:.2f}"),
    ("breakout", "IWM vs prior 20d high", "iwm_pct_vs_prior_20d_high", "{:+.2f}%"),
    ("breakout", "IWM vs prior 252d high", "iwm_pct_vs_prior_252d_high", "{:+.2f}%"),
    ("breakout", "^RUT vs prior 252d high", "rut_pct_vs_prior_252d_high", "{:+.2f}%"),
    ("breakout", "IWM/SPY ratio", "iwm_spy_ratio", "{:.4f}"),
    ("breakout", "IWM/SPY vs prior 60d high", "iwm_spy_pct_vs_prior_60d_high", "{:+.2f}%"),
    ("breakout", "IWM/SPY vs 200-day average", "iwm_spy_pct_vs_200d_avg", "{:+.2f}%"),
    ("breakout", "IWM ADX(14)", "iwm_adx_14", "{:.1f}"),
    ("breakout", "IWM volume / 50-day average", "iwm_volume_ratio_50d", "{:.2f}x"),
    ("rates", "2-year yield", "yield_2y", "{:.2f}%"),
    ("rates", "2-year, 20-session change", "yield_2y_change_20d_bp", "{:+.0f} bp"),
    ("rates", "3-month yield", "yield_3m", "{:.2f}%"),
    ("rates", "10-year yield", "yield_10y", "{:.2f}%"),
    ("rates", "10y - 3m spread", "spread_10y_3m_bp", "{:+.0f} bp"),
    ("rates", "Fed target (upper)", "fed_target_upper", "{:.2f}%"),
    ("sectors", "XLI+XLF+XLY/XLK vs prior 60d high", "cyclicals_xlk_pct_vs_prior_60d_high", "{:+.2f}%"),
    ("sectors", "XLI+XLF+XLY/XLK vs 200-day average", "cyclicals_xlk_pct_vs_200d_avg", "{:+.2f}%"),
    ("sectors", "KRE/SPY vs prior 60d high", "kre_spy_pct_vs_prior_60d_high", "{:+.2f}%"),
    ("sectors", "KRE/SPY vs 200-day average", "kre_spy_pct_vs_200d_avg", "{:+.2f}%"),
    ("sectors", "XLK vs SPY, 20 sessions", "xlk_vs_spy_20d_pct", "{:+.1f} pts"),
    ("credit", "HYG/IEF", "hyg_ief_ratio", "{:.4f}"),
    ("credit", "HYG/IEF 20-session change", "hyg_ief_change_20d_pct", "{:+.2f}%"),
    ("credit", "HYG/IEF vs 200-day average", "hyg_ief_pct_vs_200d_avg", "{:+.2f}%"),
)


def _format(template: str, values: list[Any]) -> str:
    if any(v is None for v in values):
        return "n/a"
    return template.format(*values).replace("-", "\u2212")


# Breadth rows that exist for every universe: shown side by side, one column per universe.
UNIVERSE_ROWS: tuple[tuple[str, str, str], ...] = (
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
)
_SHARED = {"members", "pct_above_50dma", "pct_above_200dma", "median_pct_from_52w_high", "index_pct_from_52w_high",
           "new_highs", "new_lows", "advances", "mcclellan_oscillator", "zweig_thrust_ema"}
_MEMBER_COUNTS = {"new_highs", "new_lows", "advances", "declines", "net_new_highs", "members"}


def metrics_text(snapshot: dict[str, Any], constituents: int | None = None) -> str:
    head = f"Metrics as of {snapshot['as_of']}"
    if constituents is not None:
        head += f" ({snapshot['breadth'].get('members')} of {constituents} S&P 500 constituents with data)"
    lines = [head]
    universes = snapshot.get("universes") or {"sp500": snapshot["breadth"]}
    width = max(len(label) for _, label, _, _ in METRIC_ROWS)
    lines += ["", f"{'Breadth':<{width + 2}}  " + "  ".join(f"{UNIVERSE_LABELS.get(u, u):>12}" for u in universes)]
    for label, key, template in UNIVERSE_ROWS:
        cells = [_format(template, [None if key in _MEMBER_COUNTS and not values.get("members") else values.get(key)])
                 for values in universes.values()]  # no members: their counts are unknown, not zero
        lines.append(f"  {label:<{width}}  " + "  ".join(f"{cell:>12}" for cell in cells))
    group = None
    for name, label, columns, template in METRIC_ROWS:
        if name == "breadth" and (columns in _SHARED or columns == ("advances", "declines")):
            continue  # shown per universe above
        if name != group:
            group = name
            if name != "breadth":
                lines.append("")
                lines.append(name.capitalize())
        keys = columns if isinstance(columns, tuple) else (columns,)
        value = _format(template, [snapshot[name].get(key) for key in keys])
        if name == "breakout":  # index-only history: the indices stand in for the ETFs
            for etf, index in (snapshot.get("stand_ins") or {}).items():
                label = label.replace(etf, index)
        lines.append(f"  {label:<{width}}  {value:>12}")
    cycle = snapshot.get("cycle") or {}
    if cycle:
        lines += ["", "Cycle"]
        leader = cycle.get("leader")
        who = "not known yet" if leader is None else f"{leader} caps since {cycle.get('since')}"
        lines.append(f"  {'leader (' + str(cycle.get('pair')) + ')':<{width}}  {who:>12}")
        lines.append(f"  {'ratio since the turn':<{width}}  {_format('{:+.1f}%', [cycle.get('ratio_change_pct')]):>12}")
        lines.append(f"  {'sessions since the turn':<{width}}  {_format('{:.0f}', [cycle.get('sessions')]):>12}")
    return "\n".join(lines)


def replay_text(result: ReplayResult) -> str:
    lines = [f"Replay {result.start} .. {result.end} ({result.sessions} sessions): {len(result.signals)} signals", ""]
    if result.signals:
        key_width = max(len(s.key) for s in result.signals)
        lines.append(f"{'date':<10}  {'edge':<5}  {'key':<{key_width}}  {'IWM-SPY 20d':>11}  {'60d':>7}  title")
        for signal in result.signals:
            forward = result.forward.get(signal.identity, {})
            after20 = _format("{:+.1f}%", [forward.get("iwm_minus_spy_20d")]) if forward else ""
            after60 = _format("{:+.1f}%", [forward.get("iwm_minus_spy_60d")]) if forward else ""
            lines.append(f"{signal.date:<10}  {signal.direction:<5}  {signal.key:<{key_width}}  "
                         f"{after20:>11}  {after60:>7}  {signal.title}")
        lines.append("")
    lines += grade_table(result.stats)
    lines.append("")
    lines.append("Breadth uses today's S&P 500 and Russell 2000 membership: historical breadth carries "
                 "survivorship bias (strong for small caps).")
    return "\n".join(lines)


def grade_table(stats: dict[str, Any]) -> list[str]:
    """Each key's starts graded against the base rate: counts, means, excess, t, hit rates, a verdict."""
    by_key = stats.get("by_key", {})
    base = stats.get("base", {})
    if not by_key:
        return []
    width = max(len(k) for k in by_key)
    small, _, large = (stats.get("pair") or "IWM/SPY").partition("/")
    lines = [f"After each start, {small}'s return minus {large}'s (points), against any session's (the base rate):",
             f"{'key':<{width}}  {'starts':>6}  {'n20':>4}  {'mean20':>7}  {'excess':>7}  {'t':>5}  "
             f"{'n60':>4}  {'mean60':>7}  {'excess':>7}  {'t':>5}  {'hit60':>5}  verdict"]
    lines.append(f"{'base rate (every session)':<{width}}  {'':>6}  {base.get('n_20d', 0):>4}  "
                 f"{_format('{:+.2f}', [base.get('mean_20d')]):>7}  {'':>7}  {'':>5}  {base.get('n_60d', 0):>4}  "
                 f"{_format('{:+.2f}', [base.get('mean_60d')]):>7}  {'':>7}  {'':>5}  "
                 f"{_format('{:.0%}', [base.get('hit_rate_60d')]):>5}")
    for key, entry in by_key.items():
        lines.append(
            f"{key:<{width}}  {entry['starts']:>6}  {entry['n_20d']:>4}  "
            f"{_format('{:+.2f}', [entry['mean_20d']]):>7}  {_format('{:+.2f}', [entry['excess_20d']]):>7}  "
            f"{_format('{:+.1f}', [entry['t_20d']]):>5}  {entry['n_60d']:>4}  "
            f"{_format('{:+.2f}', [entry['mean_60d']]):>7}  {_format('{:+.2f}', [entry['excess_60d']]):>7}  "
            f"{_format('{:+.1f}', [entry['t_60d']]):>5}  {_format('{:.0%}', [entry['hit_rate_60d']]):>5}  "
            f"{verdict(entry)}")
    lines.append("t: excess over its standard error, counting the overlap of nearby starts' forward windows "
                 "(Newey-West weights); |t| >= 2 over 5+ starts is an edge.")
    return lines


_DATES = re.compile(r"\d{4}-\d{2}-\d{2}(?:(?:,| and) \d{4}-\d{2}-\d{2})*")


def _counted(kind: str, members: list[Any]) -> str:
    """A grouped kind with its real numbers: "sessions with zero Volume ...: 1 to 14", never a literal N."""
    numbers: list[float] = []
    kind = kind.replace("<dates>", "their dates")
    for member in members:
        text = _DATES.sub("", str(getattr(member, "message", member)).split(" (")[0])
        found = re.search(r"\d[\d,]*(?:\.\d+)?", text)
        if found:
            numbers.append(float(found.group().replace(",", "")))
    if "#" not in kind or not numbers:
        return kind
    low, high = min(numbers), max(numbers)
    span = f"{low:,.10g}" if low == high else f"{low:,.10g} to {high:,.10g}"
    return kind.replace("#", span, 1).replace("#", "N")


def warning_lines(issues: Iterable[Any], keep: int = 3) -> list[str]:
    """Data warnings for a terminal: a kind that many files share becomes one line naming them.

    2,000 small caps give dozens of "zero volume" warnings; listing each buries the one that
    matters. `metrics --json` still carries every warning in full.
    """
    groups: dict[str, list[Any]] = {}
    for issue in issues:
        message = str(getattr(issue, "message", issue))
        kind = re.sub(r"\d[\d,.\-]*", "#", _DATES.sub("<dates>", message.split(" (")[0]))
        groups.setdefault(kind, []).append(issue)
    lines = []
    for kind, members in groups.items():
        if len(members) <= keep or not all(getattr(m, "file", None) for m in members):
            lines += [str(m) for m in members]
            continue
        files = list(dict.fromkeys(str(m.file).removeprefix("prices/").removesuffix(".csv") for m in members))
        shown = ", ".join(files[:8]) + (f" and {len(files) - 8} more" if len(files) > 8 else "")
        many = f"{len(members)} files" if len(files) == len(members) else \
            f"{len(members)} times in {len(files)} file{'' if len(files) == 1 else 's'}"
        lines.append(f"{many}: {_counted(kind, members)} ({shown}; --json lists each)")
    return lines
