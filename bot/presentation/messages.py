"""What the bot says, in Telegram's HTML: alerts, metric pictures, status. Pure functions of data.

Every piece of text that did not come from this file (titles carry numbers only, but user input and
notes could carry anything) goes through `html.escape`.
"""

from __future__ import annotations

import re

from html import escape, unescape
from typing import Any

from signals.universe_specs import UNIVERSES
from signals.signal import Signal
from signals.topics import TOPIC_BY_NAME

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024  # a photo's caption
_ICONS = {"start": "\U0001F514", "end": "\u2705"}  # bell, check mark


def plural(count: int, noun: str) -> str:
    """"1 new signal", "3 new signals": counts read as a person writes them."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def signal_message(signal: Signal) -> str:
    topic = TOPIC_BY_NAME.get(signal.type)
    label = topic.label if topic else "Your alert" if signal.type == "custom" else signal.type
    edge = "started" if signal.direction == "start" else "ended"
    record = signal.detail.get("record")
    return (f"{_ICONS.get(signal.direction, '')} <b>{escape(label)}</b> \u00b7 {edge}\n"
            f"{escape(signal.title)}\n"
            + (f"\U0001F4CA {escape(str(record))}\n" if record else "")
            + f"<i>{escape(signal.date)} close \u00b7 {escape(signal.key)}</i>")


def picture_lines(snapshot: dict[str, Any]) -> list[str]:
    """The day's picture in a few plain lines, for a digest."""
    universes = snapshot.get("universes") or {}
    sp, small = universes.get("sp500") or snapshot.get("breadth") or {}, universes.get("russell2000") or {}
    k, r = snapshot.get("breakout") or {}, snapshot.get("rates") or {}
    c = snapshot.get("credit") or {}
    lines = [f"S&P 500 {_number(sp.get('index_pct_from_52w_high'), '{:+.1f}%')} from its high; median member "
             f"{_number(sp.get('median_pct_from_52w_high'), '{:+.1f}%')}, "
             f"{_number(sp.get('pct_above_200dma'), '{:.0f}%')} above their 200-day"]
    if small:
        lines.append(f"Russell 2000: median member {_number(small.get('median_pct_from_52w_high'), '{:+.1f}%')} "
                     f"from its high, {_number(small.get('pct_above_200dma'), '{:.0f}%')} above their 200-day")
    lines.append(f"IWM {_number(k.get('iwm_pct_vs_prior_252d_high'), '{:+.1f}%')} vs its prior 52-week high, "
                 f"IWM/SPY {_number(k.get('iwm_spy_pct_vs_200d_avg'), '{:+.1f}%')} vs its 200-day")
    lines.append(f"2-year {_number(r.get('yield_2y'), '{:.2f}%')}, "
                 f"curve {_number(r.get('spread_10y_3m_bp'), '{:+.0f} bp')}; "
                 f"HYG/IEF {_number(c.get('hyg_ief_change_20d_pct'), '{:+.1f}%')} in 20 sessions")
    return lines


def digest_message(digest: Signal, topics: set[str]) -> str:
    """A session's digest for one chat: the day's picture, then the new signals of its topics."""
    detail = digest.detail
    lines = [f"\U0001F4F0 <b>Daily digest</b> \u00b7 {escape(digest.date)} close"]
    for line in detail.get("picture", []):
        lines.append(f"\u2022 {escape(str(line))}")
    signals = [s for s in detail.get("signals", []) if s.get("type") in topics]
    if signals:
        lines += ["", f"<b>New signals</b> ({len(signals)})"]
        for item in signals:
            icon = _ICONS.get(item.get("direction", ""), "")
            lines.append(f"{icon} {escape(str(item.get('title', '')))}")
    else:
        lines += ["", "No new signals in your topics today."]
    return "\n".join(lines)


def headline(title: str) -> str:
    """A title's first clause ("Narrow leadership", "Fed cut its target by 25 bp to 5.00-5.25%")."""
    return title.split(": ", 1)[0].split(". ", 1)[0]


def history_message(signals: list[Signal], records: dict[str, str], active: dict[str, str] | None = None) -> str:
    """One line per signal, newest first (still active, or ended), then each started key's record."""
    active = active or {}
    lines = [f"<b>Last {len(signals)} signal{'s' if len(signals) != 1 else ''}</b>"]
    for signal in signals:
        if signal.direction == "end":
            state = " \u00b7 ended"
        elif active.get(signal.key) == signal.date:
            state = " \u00b7 active"
        else:
            state = ""
        if signal.detail.get("found_at_start"):
            state += " \u00b7 from history"  # found when the bot first started: never alerted
        lines.append(f"{escape(signal.date)} {_ICONS.get(signal.direction, '')} {escape(headline(signal.title))}"
                     f"{state}")
    keyed = {s.key: headline(s.title) for s in signals if s.direction == "start" and s.key in records}
    if keyed:
        lines += ["", "<b>Track record</b> (IWM against SPY after each start)"]
        lines += [f"\u2022 {escape(name)}: {escape(records[key])}" for key, name in keyed.items()]
    return "\n".join(lines)


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Parts of at most `limit` characters, cut at line boundaries (a line longer than that is cut)."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


def _number(value: Any, template: str) -> str:
    """`value` by `template`; a signed reading that rounds to zero loses its sign ("0.0%", not "-0.0%")."""
    if value is None:
        return "n/a"
    text = template.format(value)
    return re.sub(r"^[+-](0(?:\.0+)?)(?![\d.])", r"\1", text).replace("-", "\u2212")


def _rows(rows: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    body = "\n".join(f"{label:<{width}}  {value}" for label, value in rows)
    return f"<pre>{escape(body)}</pre>"


_SHORT = {u.name: u.short for u in UNIVERSES}


_TELEGRAM_TAGS = re.compile(r"</?(?:b|i|u|s|code|pre|a)(?:\s[^>]*)?>")


def plain(text: str) -> str:
    """Telegram's HTML as plain text (a terminal, a web page, an inline card's description): its tags
    dropped, its entities read."""
    return unescape(_TELEGRAM_TAGS.sub("", text))
