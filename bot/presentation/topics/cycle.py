"""The small-cap cycle as a reader sees it: who leads since when, and the completed phases against the
18-24 months a common rule of thumb gives; its chart is the whole history, since a phase lasts months to years."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from bot.presentation.topics.answer_parts import active_lines, head, number
from bot.presentation.topics.chart_parts import (ALERT, MAIN, NEUTRAL, TEXT, THIRD, active_names, end_value, enough,
                                                 legend, pct)
from bot.presentation.topics.view import ChartSpec, Reading, TopicView, formatted
from signals.detectors.cycle import RULE_OF_THUMB_MONTHS, SESSIONS_PER_MONTH
from signals.metrics.cycle import GROUP as CYCLE, cycle_snapshot, phases
from signals.settings import DetectorSettings
from signals.topics import TOPIC_BY_NAME

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from signals.metrics import Metrics


def cells(snapshot: dict[str, Any]) -> list[tuple[str, str]]:
    """A phase is not a row of numbers: its leader and start, the ratio's move and the sessions since."""
    cycle = snapshot.get("cycle") or {}
    if not cycle:
        return []
    leader = cycle.get("leader")
    who = "not known yet" if leader is None else f"{leader} caps since {cycle.get('since')}"
    return [(f"leader ({cycle.get('pair')})", who),
            ("ratio since the turn", formatted("{:+.1f}%", [cycle.get("ratio_change_pct")])),
            ("sessions since the turn", formatted("{:.0f}", [cycle.get("sessions")]))]


def answer(snapshot: dict[str, Any], settings: DetectorSettings, choice: str | None = None) -> str:
    """The current phase, and the completed small-cap phases against the 18-24 months of the rule of thumb."""
    c = snapshot.get("cycle") or {}
    band = settings.cycle.band_pct
    lines = [head("cycle", snapshot)]
    pair = c.get("pair") or "IWM/SPY"
    if c.get("leader") is None:
        lines.append(f"\u2022 Leader not known yet: {escape(pair)} has not moved {band:g}% from a low or a high")
    else:
        who = "Small caps" if c["leader"] == "small" else "Large caps"
        since, confirmed = escape(str(c.get("since"))), escape(str(c.get("confirmed")))
        lines.append(f"\u2022 {who} lead since {since} (confirmed {confirmed}): {number(c.get('sessions'), '{}')} "
                     f"sessions, {escape(pair)} {number(c.get('ratio_change_pct'), '{:+.1f}%')}")
    small = [p for p in c.get("phases") or [] if p.get("leader") == "small" and p.get("ended")]
    if small:
        months = sorted(p["sessions"] / SESSIONS_PER_MONTH for p in small)
        middle = months[len(months) // 2] if len(months) % 2 else (months[len(months) // 2 - 1]
                                                                  + months[len(months) // 2]) / 2
        lines.append(f"\u2022 Completed small-cap phases here: {len(small)}, median {middle:.1f} months "
                     f"(shortest {months[0]:.1f}, longest {months[-1]:.1f}); the common rule of "
                     f"thumb says {RULE_OF_THUMB_MONTHS[0]}-{RULE_OF_THUMB_MONTHS[1]} months")
        lines += [f"  {escape(p['since'])}: {p['sessions'] / SESSIONS_PER_MONTH:.1f} months, "
                  f"{escape(pair)} {number(p['ratio_change_pct'], '{:+.1f}%')}" for p in small[-6:]]
    else:
        lines.append("\u2022 No completed small-cap phase in this history yet")
    lines.append(f"<i>A phase turns when {escape(pair)} closes {band:g}% beyond its extreme since the last turn.</i>")
    return "\n".join(lines + active_lines(snapshot, "cycle"))


def draw(figure: Figure, metrics: Metrics, settings: DetectorSettings) -> Reading | None:
    """The whole history, not a year: a cycle's phases last months to years. Phases shaded by leader."""
    import pandas as pd

    cycle = metrics.computed[CYCLE.name]
    frame = cycle.frame
    ratio = frame["ratio"]
    if not enough(ratio):
        return None
    axes = figure.subplots(1, 1)
    base = ratio.dropna().iat[0]
    pair = metrics.facts(CYCLE).name or "small / large"
    axes.plot(frame.index, ratio / base * 100, color=MAIN, linewidth=1.6, label=pair)
    sessions = frame.index
    shaded: set[str] = set()
    found = phases(cycle)
    for turn, phase in enumerate(found):
        start = pd.Timestamp(phase["since"])
        end = pd.Timestamp(found[turn + 1]["since"]) if turn + 1 < len(found) else sessions[-1]
        small = phase["leader"] == "small"
        label = ("small caps lead" if small else "large caps lead")
        axes.axvspan(start, end, color=THIRD if small else NEUTRAL, alpha=0.18 if small else 0.12, linewidth=0,
                     label=None if label in shaded else label)
        shaded.add(label)
    axes.set_ylabel(f"{pair} (start = 100)", fontsize=TEXT)
    now = cycle_snapshot(cycle, len(frame) - 1)
    band = settings.cycle.band_pct
    if now["leader"] is not None:  # the band: where the next turn comes, from the extreme since this one
        scaled = ratio[pd.Timestamp(now["since"]):] / base * 100
        small = now["leader"] == "small"
        level = float(scaled.max()) * (1 - band / 100) if small else float(scaled.min()) * (1 + band / 100)
        turn = pd.Series(level, index=scaled.index)
        axes.plot(turn.index, turn, color=ALERT, linestyle=(0, (3, 2)), linewidth=1.4,
                  label=f"next turn: {'-' if small else '+'}{band:g}% from the {'high' if small else 'low'}"
                        .replace("-", "\u2212"))
        end_value(axes, turn, f"next turn at {level:.1f}")
    legend(axes, 2)
    if now["leader"] is None:
        headline = f"Leader not known yet ({settings.cycle.band_pct:g}% band)"
    else:
        who = "Small caps" if now["leader"] == "small" else "Large caps"
        headline = (f"{who} lead since {now['since']} ({now['sessions']} sessions, "
                    f"{pct(now['ratio_change_pct'])}); band {settings.cycle.band_pct:g}%")
    return Reading(headline, active_names(metrics, settings, "cycle"))


VIEW = TopicView(TOPIC_BY_NAME["cycle"], answer, charts=(ChartSpec("cycle", "The small-cap cycle", draw),),
                 cells=cells)
