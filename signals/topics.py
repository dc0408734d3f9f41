"""The signal topics, named once: each is a signal type, a subscription, a metric group and a chart.

Everything that lists topics (the store's subscriptions, `/signals`, `/help`, the metric groups of
`metrics --json`, the commands, README) reads this tuple; how a reader sees each one (answer, charts,
`metrics` rows) is its module in bot/presentation/topics/. A test fails when a topic lacks any part.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

Part = TypeVar("Part")


@dataclass(frozen=True)
class Topic:
    name: str  # the signal type, the subscription topic and the metric group of `metrics --json`
    label: str  # the alert header a subscriber sees
    about: str  # one line for /signals, /help and README
    reading: str  # what its command (`/<name>`) shows, for /help and Telegram's command menu
    index_level: bool = False  # graded by index history alone (no members, no ETFs): the decades' records


TOPICS: tuple[Topic, ...] = (
    Topic("breadth", "Breadth",
          "the typical S&P 500 / Russell 2000 member against its index: narrow markets, washouts, thrusts",
          "breadth of the S&P 500 and the Russell 2000"),
    Topic("breakout", "Small-cap breakout", "IWM and IWM/SPY leaving their ranges",
          "IWM and IWM/SPY against their ranges", index_level=True),
    Topic("rates", "Rates", "the 2-year yield, the Fed's target, the yield curve",
          "Treasury yields, the Fed's target, the curve", index_level=True),
    Topic("sectors", "Sector rotation", "industrials, financials, discretionary and regional banks taking the lead",
          "cyclicals against tech, regional banks against the S&P 500"),
    Topic("credit", "Credit", "high-yield bonds against Treasuries: financing conditions for small companies",
          "high-yield bonds against Treasuries"),
    Topic("cycle", "Small-cap cycle", "which of small and large caps leads: phases of IWM/SPY by a swing rule",
          "the small-cap cycle: who leads, since when, past phases", index_level=True),
)
TOPIC_NAMES: tuple[str, ...] = tuple(topic.name for topic in TOPICS)
TOPIC_BY_NAME: dict[str, Topic] = {topic.name: topic for topic in TOPICS}
INDEX_LEVEL_TOPICS: frozenset[str] = frozenset(topic.name for topic in TOPICS if topic.index_level)


def topic_part(package: str, topic: str, attribute: str, kind: type[Part], name_of: Callable[[Part], str],
               what: str) -> Part:
    """A topic's part of one kind (its metric group, its detector, its view), declared in its own module
    `<package>.<topic>` ending in `<attribute> = <kind>(<topic>, ...)`: found by the topic's name, so no
    list names it, and a missing or wrong one fails at import, naming the file to write."""
    path = f"{package.replace('.', '/')}/{topic}.py"
    try:
        module = importlib.import_module(f"{package}.{topic}")
    except ModuleNotFoundError as missing:
        if missing.name != f"{package}.{topic}":
            raise
        raise ImportError(f"topic {topic!r} has no {what}: write {path}") from None
    part = getattr(module, attribute, None)
    if not isinstance(part, kind) or name_of(part) != topic:
        raise ImportError(f"{path} must end in {attribute} = {kind.__name__}({topic!r}, ...)")
    return part
