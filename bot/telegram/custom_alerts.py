"""/alert, /alerts: a chat's own alerts on any metric of `metrics --json`, by its dotted path.

`/alert universes.russell2000.pct_above_200dma below 30` fires once when the value crosses 30 from
above: an edge, under the built-in keys' rules (at most 2 starts in any 60 sessions, re-armed after
3 sessions back on the other side). Evaluated in the tick from the stored snapshot, so they cost no
data work; state is in SQLite, so they survive restarts. At most 20 per chat.
"""

from __future__ import annotations

import asyncio

import difflib

from telegram import Update

from bot.telegram.chat_io import (
    BotContext,
    bind_alerts_here,
    chat_of,
    echo,
    may_change_chat,
    remember_chat,
    reply,
    small_number,
)
from bot.presentation.chat_changes import add_alert, delete_alert
from bot.presentation.custom_alert_rules import (LEVEL_CONVENTIONS, MAX_ALERTS, OPERATORS, metric_paths, parse_number,
                                                 shown)


def _groups(paths: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for path in paths:
        head, _, leaf = path.rpartition(".")
        groups.setdefault(head, []).append(leaf)
    return groups


def closest_paths(paths: list[str], wrong: str) -> str:
    """What a mistyped path most likely meant, short (a phone screen, not a wall): the closest paths,
    or the sections paths begin with, and where the full list is."""
    close = difflib.get_close_matches(wrong.lower(), paths, n=3, cutoff=0.6)
    if close:
        said = f"Did you mean {' or '.join(f'<code>{p}</code>' for p in close)}?"
    else:
        said = "Paths begin with " + ", ".join(f"<code>{head}.</code>" for head in _groups(paths)) + "."
    return f"{said}\n/alert paths lists every path."


def all_paths(paths: list[str]) -> str:
    """Every valid path, grouped by section (`/alert paths`)."""
    lines = ["<b>Metric paths</b> (use them as /alert &lt;path&gt; above|below &lt;number&gt;)"]
    lines += [f"<b>{head}.</b> {', '.join(leaves)}" for head, leaves in _groups(paths).items()]
    lines.append(f"<i>{LEVEL_CONVENTIONS}</i>")
    return "\n".join(lines)


def usage() -> str:
    return ("Use /alert &lt;metric path&gt; above|below &lt;number&gt;, for example\n"
            "/alert universes.russell2000.pct_above_200dma below 30\n/alert rates.yield_2y above 4.5\n"
            "/alerts lists yours; /alert delete &lt;id&gt; removes one; /alert paths lists every path.")


async def alert_command(update: Update, context: BotContext) -> None:
    services = context.services
    args = context.args or []
    if len(args) == 2 and args[0].lower() == "delete":
        await _delete(update, context, args[1])
        return
    if len(args) == 1 and args[0].lower() == "paths":
        snapshot = await services.snapshot()
        if snapshot is None:
            await reply(update, services.first_reading_note())
            return
        await reply(update, all_paths(sorted(metric_paths(snapshot))))
        return
    if len(args) != 3:
        await reply(update, f"{usage()}\n(got {echo(args)})")
        return
    path, op, number = args[0], args[1].lower(), parse_number(args[2])
    snapshot = await services.snapshot()
    if snapshot is None:
        await reply(update, services.first_reading_note())
        return
    paths = metric_paths(snapshot)
    if path not in paths:
        await reply(update, f"Unknown metric path {echo(path)}. {closest_paths(sorted(paths), path)}")
        return
    if op not in OPERATORS or number is None:
        await reply(update, f"{usage()}\n(got {echo(args)}; <code>{path}</code> is a valid path, now "
                            f"{shown(paths[path])})")
        return
    if not await may_change_chat(update, context):
        await reply(update, "Only this group's administrators can change its alerts.")
        return
    await remember_chat(update, services)
    change = await asyncio.to_thread(add_alert, services.store, chat_of(update), snapshot, path, op, number)
    if change.ok:
        await bind_alerts_here(update, services)
    await reply(update, change.message)


async def _delete(update: Update, context: BotContext, word: str) -> None:
    services = context.services
    alert_id = small_number(word, 1, 10**9)
    if alert_id is None:
        await reply(update, f"Use /alert delete &lt;id&gt; with an id from /alerts (got {echo(word)}).")
        return
    if not await may_change_chat(update, context):
        await reply(update, "Only this group's administrators can change its alerts.")
        return
    change = await asyncio.to_thread(delete_alert, services.store, chat_of(update), alert_id)
    await reply(update, change.message)


async def alerts_command(update: Update, context: BotContext) -> None:
    services = context.services
    alerts = await asyncio.to_thread(services.store.custom_alerts, chat_of(update))
    if not alerts:
        await reply(update, f"No alerts of your own yet. {usage()}")
        return
    paths = metric_paths(await services.snapshot() or {})
    lines = [f"<b>Your alerts</b> ({len(alerts)} of {MAX_ALERTS})"]
    for alert in alerts:
        value = paths.get(alert["path"])
        now = shown(value)
        state = "past the level" if alert["active"] else "waiting"
        lines.append(f"#{alert['id']} <code>{alert['path']}</code> {alert['op']} {alert['threshold']:g} "
                     f"\u00b7 now {now} \u00b7 {state}")
    lines.append("/alert delete &lt;id&gt; removes one.")
    await reply(update, "\n".join(lines))


