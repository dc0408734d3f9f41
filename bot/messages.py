"""What the bot says, in Telegram's HTML: alerts, metric pictures, status. Pure functions of data.

Every piece of text that did not come from this file (titles carry numbers only, but user input and
notes could carry anything) goes through `html.escape`.
"""

from __future__ import annotations

from html import escape
from typing import Any

from signals.metrics.breadth import UNIVERSE_LABELS
from signals.signal import Signal
from signals.topics import TOPIC_BY_NAME

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024  # a photo's caption
_ICONS = {"start": "\U0001F514", "end": "\u2705"}  # bell, check mark


def signal_message(signal: Signal) -> str:
    topic = TOPIC_BY_NAME.get(signal.type)
    label = topic.label if topic else signal.type
    edge = "started" if signal.direction == "start" else "ended"
    record = signal.detail.get("record") if isinstance(signal.detail, dict) else None
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
    detail = digest.detail if isinstance(digest.detail, dict) else {}
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


def history_message(signals: list[Signal], records: dict[str, str]) -> str:
    """One line per signal, newest first, then each started key's record in one line."""
    lines = [f"<b>Last {len(signals)} signal{'s' if len(signals) != 1 else ''}</b>"]
    for signal in signals:
        lines.append(f"{escape(signal.date)} {_ICONS.get(signal.direction, '')} {escape(headline(signal.title))}"
                     + ("" if signal.direction == "start" else " (ended)"))
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
    if value is None:
        return "n/a"
    return template.format(value).replace("-", "\u2212")


def _rows(rows: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    body = "\n".join(f"{label:<{width}}  {value}" for label, value in rows)
    return f"<pre>{escape(body)}</pre>"


_SHORT = {"sp500": "S&P 500", "russell2000": "R2000"}


def breadth_message(snapshot: dict[str, Any], universe: str | None = None) -> str:
    """Both universes side by side (the default, compact for a phone), or one universe in full."""
    universes = snapshot.get("universes") or {"sp500": snapshot["breadth"]}
    if universe is None and len(universes) > 1:
        names = list(universes)
        rows = [("", *(_SHORT.get(n, n) for n in names))]
        for label, key, template in (("Index from high", "index_pct_from_52w_high", "{:+.1f}%"),
                                     ("Median from high", "median_pct_from_52w_high", "{:+.1f}%"),
                                     ("Above 200-day", "pct_above_200dma", "{:.1f}%"),
                                     ("Above 50-day", "pct_above_50dma", "{:.1f}%"),
                                     ("New highs", "new_highs", "{}"), ("New lows", "new_lows", "{}"),
                                     ("Members", "members", "{}")):
            rows.append((label, *(_number(universes[n].get(key), template) for n in names)))
        rsp = _number(snapshot["breadth"].get("rsp_spy_vs_50dma_pct"), "{:+.2f}%")
        return (f"<b>Breadth</b> \u00b7 {escape(snapshot['as_of'])} close\n{_table(rows)}\n"
                f"RSP/SPY vs its 50-day average: {escape(rsp)}\n"
                f"<i>/breadth sp500 or /breadth russell2000 for one in full</i>")
    name = universe or "sp500"
    b = universes.get(name, {})
    index = "S&P 500" if name == "sp500" else "Russell 2000"
    rows = [
        (f"{index} from 52w high", _number(b.get("index_pct_from_52w_high"), "{:+.1f}%")),
        ("Median member from high", _number(b.get("median_pct_from_52w_high"), "{:+.1f}%")),
        ("Above 200-day avg", _number(b.get("pct_above_200dma"), "{:.1f}%")),
        ("Above 50-day avg", _number(b.get("pct_above_50dma"), "{:.1f}%")),
        ("New highs / lows", f"{_number(b.get('new_highs'), '{}')} / {_number(b.get('new_lows'), '{}')}"),
        ("McClellan osc.", _number(b.get("mcclellan_oscillator"), "{:+.1f}")),
    ]
    if name == "sp500":
        rows.append(("RSP/SPY vs 50d avg", _number(b.get("rsp_spy_vs_50dma_pct"), "{:+.2f}%")))
    rows.append(("Members with data", _number(b.get("members"), "{}")))
    label = UNIVERSE_LABELS.get(name, name)
    return f"<b>Breadth: {escape(label)}</b> \u00b7 {escape(snapshot['as_of'])} close\n{_rows(rows)}"


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    return f"<pre>{escape(chr(10).join(lines))}</pre>"


def breakout_message(snapshot: dict[str, Any]) -> str:
    k = snapshot["breakout"]
    rows = [
        ("IWM close", _number(k.get("iwm_close"), "{:.2f}")),
        ("vs prior 20d high", _number(k.get("iwm_pct_vs_prior_20d_high"), "{:+.2f}%")),
        ("vs prior 252d high", _number(k.get("iwm_pct_vs_prior_252d_high"), "{:+.2f}%")),
        ("^RUT vs 252d high", _number(k.get("rut_pct_vs_prior_252d_high"), "{:+.2f}%")),
        ("IWM/SPY", _number(k.get("iwm_spy_ratio"), "{:.4f}")),
        ("  vs prior 60d high", _number(k.get("iwm_spy_pct_vs_prior_60d_high"), "{:+.2f}%")),
        ("  vs 200d average", _number(k.get("iwm_spy_pct_vs_200d_avg"), "{:+.2f}%")),
        ("ADX(14)", _number(k.get("iwm_adx_14"), "{:.1f}")),
        ("Volume / 50d avg", _number(k.get("iwm_volume_ratio_50d"), "{:.2f}x")),
    ]
    return f"<b>Small-cap breakout</b> \u00b7 {escape(snapshot['as_of'])} close\n{_rows(rows)}"


def rates_message(snapshot: dict[str, Any]) -> str:
    r = snapshot["rates"]
    fed = "n/a"
    if r.get("fed_target_lower") is not None and r.get("fed_target_upper") is not None:
        fed = f"{r['fed_target_lower']:.2f}\u2013{r['fed_target_upper']:.2f}%"
    rows = [
        ("2-year", _number(r.get("yield_2y"), "{:.2f}%")),
        ("  20-session change", _number(r.get("yield_2y_change_20d_bp"), "{:+.0f} bp")),
        ("3-month", _number(r.get("yield_3m"), "{:.2f}%")),
        ("10-year", _number(r.get("yield_10y"), "{:.2f}%")),
        ("10y \u2212 3m", _number(r.get("spread_10y_3m_bp"), "{:+.0f} bp")),
        ("Fed target", fed),
    ]
    return f"<b>Rates</b> \u00b7 {escape(snapshot['as_of'])} close\n{_rows(rows)}"


def sectors_message(snapshot: dict[str, Any]) -> str:
    k = snapshot.get("sectors") or {}
    rows = [
        ("XLI+XLF+XLY / XLK", ""),
        ("  vs prior 60d high", _number(k.get("cyclicals_xlk_pct_vs_prior_60d_high"), "{:+.2f}%")),
        ("  vs 200d average", _number(k.get("cyclicals_xlk_pct_vs_200d_avg"), "{:+.2f}%")),
        ("KRE / SPY", ""),
        ("  vs prior 60d high", _number(k.get("kre_spy_pct_vs_prior_60d_high"), "{:+.2f}%")),
        ("  vs 200d average", _number(k.get("kre_spy_pct_vs_200d_avg"), "{:+.2f}%")),
        ("20 sessions vs SPY", ""),
    ]
    for ticker, name in (("xli", "Industrials XLI"), ("xlf", "Financials XLF"), ("xly", "Discretion. XLY"),
                         ("xlk", "Technology XLK"), ("kre", "Reg. banks KRE")):
        rows.append((f"  {name}", _number(k.get(f"{ticker}_vs_spy_20d_pct"), "{:+.1f} pts")))
    return (f"<b>Sector rotation</b> \u00b7 {escape(snapshot['as_of'])} close\n{_rows(rows)}\n"
            f"<i>A ratio above both its prior 60-session high and its 200-session average is a lead.</i>")


def credit_message(snapshot: dict[str, Any]) -> str:
    c = snapshot.get("credit") or {}
    rows = [
        ("HYG / IEF", _number(c.get("hyg_ief_ratio"), "{:.4f}")),
        ("  20-session change", _number(c.get("hyg_ief_change_20d_pct"), "{:+.2f}%")),
        ("  vs 200d average", _number(c.get("hyg_ief_pct_vs_200d_avg"), "{:+.2f}%")),
    ]
    return (f"<b>Credit</b> \u00b7 {escape(snapshot['as_of'])} close\n{_rows(rows)}\n"
            f"<i>High-yield bonds against 7-10 year Treasuries: falling means dearer credit for small "
            f"companies.</i>")


SNAPSHOT_MESSAGES = {"breadth": breadth_message, "breakout": breakout_message, "rates": rates_message,
                     "sectors": sectors_message, "credit": credit_message}
