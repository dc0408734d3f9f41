"""Plain-text rendering of metrics and replays for the terminal: aligned, units shown."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bot.presentation.topics import VIEWS
from bot.presentation.topics.breadth import MEMBER_COUNTS, UNIVERSE_ROWS
from bot.presentation.topics.view import formatted
from signals.metrics.breadth import UNIVERSE_LABELS
from signals.replay import ReplayResult
from signals.signal_value import verdict_words

def metrics_text(snapshot: dict[str, Any], constituents: int | None = None) -> str:
    """Each universe's breadth side by side, then each topic's rows (`TopicView.lines`) under its name."""
    head = f"Metrics as of {snapshot['as_of']}"
    if constituents is not None:
        head += f" ({snapshot['breadth'].get('members')} of {constituents} S&P 500 constituents with data)"
    lines = [head]
    universes = snapshot.get("universes") or {"sp500": snapshot["breadth"]}
    groups = {name: view.lines(snapshot) for name, view in VIEWS.items()}
    width = max(len(label) for label in [row.label for row in UNIVERSE_ROWS]
                + [label for cells in groups.values() for label, _ in cells])
    lines += ["", f"{'Breadth':<{width + 2}}  " + "  ".join(f"{UNIVERSE_LABELS.get(u, u):>12}" for u in universes)]
    for row in UNIVERSE_ROWS:
        # no members: their counts are unknown, not zero
        shown = ["n/a" if row.columns[0] in MEMBER_COUNTS and not values.get("members") else row.cell(values)
                 for values in universes.values()]
        lines.append(f"  {row.label:<{width}}  " + "  ".join(f"{cell:>12}" for cell in shown))
    for name, cells in groups.items():
        if not cells:
            continue
        if name != "breadth":  # breadth's own rows follow its table
            lines += ["", name.capitalize()]
        lines += [f"  {label:<{width}}  {value:>12}" for label, value in cells]
    return "\n".join(lines)


def replay_text(result: ReplayResult) -> str:
    lines = [f"Replay {result.start} .. {result.end} ({result.sessions} sessions): {len(result.signals)} signals", ""]
    if result.signals:
        key_width = max(len(s.key) for s in result.signals)
        lines.append(f"{'date':<10}  {'edge':<5}  {'key':<{key_width}}  {'IWM-SPY 20d':>11}  {'60d':>7}  title")
        for signal in result.signals:
            forward = result.forward.get(signal.identity, {})
            after20 = formatted("{:+.1f}%", [forward.get("iwm_minus_spy_20d")]) if forward else ""
            after60 = formatted("{:+.1f}%", [forward.get("iwm_minus_spy_60d")]) if forward else ""
            lines.append(f"{signal.date:<10}  {signal.direction:<5}  {signal.key:<{key_width}}  "
                         f"{after20:>11}  {after60:>7}  {signal.title}")
        lines.append("")
    lines += grade_table(result.stats)
    lines.append("")
    lines.append("Breadth uses today's S&P 500 and Russell 2000 membership: historical breadth carries "
                 "survivorship bias (strong for small caps).")
    return "\n".join(lines)


def grade_table(stats: dict[str, Any]) -> list[str]:
    """Each key's starts graded against the base rate: counts, means, excess, t, hit rates, how far to trust it."""
    by_key = stats.get("by_key", {})
    base = stats.get("base", {})
    if not by_key:
        return []
    width = max(len(k) for k in by_key)
    small, _, large = (stats.get("pair") or "IWM/SPY").partition("/")
    lines = [f"After each start, {small}'s return minus {large}'s (points), against any session's (the base rate):",
             f"{'key':<{width}}  {'starts':>6}  {'n20':>4}  {'mean20':>7}  {'excess':>7}  {'t':>5}  "
             f"{'n60':>4}  {'mean60':>7}  {'excess':>7}  {'t':>5}  {'hit60':>5}  {'p adj':>6}  {'eras':<13}  verdict"]
    lines.append(f"{'base rate (every session)':<{width}}  {'':>6}  {base.get('n_20d', 0):>4}  "
                 f"{formatted('{:+.2f}', [base.get('mean_20d')]):>7}  {'':>7}  {'':>5}  {base.get('n_60d', 0):>4}  "
                 f"{formatted('{:+.2f}', [base.get('mean_60d')]):>7}  {'':>7}  {'':>5}  "
                 f"{formatted('{:.0%}', [base.get('hit_rate_60d')]):>5}")
    for key, entry in by_key.items():
        lines.append(
            f"{key:<{width}}  {entry['starts']:>6}  {entry['n_20d']:>4}  "
            f"{formatted('{:+.2f}', [entry['mean_20d']]):>7}  {formatted('{:+.2f}', [entry['excess_20d']]):>7}  "
            f"{formatted('{:+.1f}', [entry['t_20d']]):>5}  {entry['n_60d']:>4}  "
            f"{formatted('{:+.2f}', [entry['mean_60d']]):>7}  {formatted('{:+.2f}', [entry['excess_60d']]):>7}  "
            f"{formatted('{:+.1f}', [entry['t_60d']]):>5}  {formatted('{:.0%}', [entry['hit_rate_60d']]):>5}  "
            f"{formatted('{:.3f}', [entry.get('p_adjusted')]):>6}  {era_signs(entry):<13}  "
            f"{verdict_words(entry, stats.get('tests', 0))}")
    lines.append(f"p adj: a placebo p (the key's starts shifted together over the span) adjusted by Holm for the "
                 f"{stats.get('tests', 0)} tests made; eras: the excess in each half of the graded sessions "
                 f"(at the horizon of the key's lowest p); an edge needs p adj < 0.05 and both halves of its sign. "
                 f"t: descriptive, counting the overlap of nearby starts' windows (Newey-West).")
    return lines


def era_signs(entry: dict[str, Any]) -> str:
    """Each era's excess at the verdict's horizon, "+1.2/-0.4", or "-" where an era has no graded start."""
    return "/".join(formatted("{:+.1f}", [era.get("mean_excess")]) if era.get("starts") else "-"
                    for era in entry.get("eras", [])) or "n/a"


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


_MISSING = re.compile(r"^[^:]+: not found\b")


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
    return sorted(lines, key=lambda line: 0 if _MISSING.search(line) else 1)  # a missing file first: it says most
