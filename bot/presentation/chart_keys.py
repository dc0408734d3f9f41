"""Which charts there are and which one shows a signal: one place, read by the command line (before
pandas loads), by alerts (the photo they carry) and by the charts (the keys each lists as active).

The rule: each topic has a chart of its name; breadth has one per universe (the S&P 500's is
`breadth`). `bot.presentation.topics.CHARTS` draws exactly these (a test checks).
"""

from __future__ import annotations

from signals.signal import Signal
from signals.topics import TOPIC_NAMES
from signals.universe_specs import UNIVERSES

CHART_NAMES: tuple[str, ...] = tuple(name for topic in TOPIC_NAMES for name in
                                     ((u.chart for u in UNIVERSES) if topic == "breadth" else (topic,)))


def chart_for_key(topic: str, key: str) -> str | None:
    """The chart that shows a key: its topic's, its universe's for a per-universe breadth key (small-cap
    narrowness reads the Russell 2000). Alerts attach it, and each chart lists as active only the keys it shows."""
    if topic not in TOPIC_NAMES:
        return None
    if topic != "breadth":
        return topic
    if key == "breadth:smallcap_narrow":
        return "russell2000"
    universe = next((u for u in UNIVERSES if key.endswith(f":{u.name}")), None)
    return universe.chart if universe is not None else "breadth"


def chart_for(signal: Signal) -> str | None:
    return chart_for_key(signal.type, signal.key)
