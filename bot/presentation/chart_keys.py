"""Which chart shows a signal: one place, read by alerts (the photo they carry) and by the charts (the
keys each lists as active), without loading matplotlib."""

from __future__ import annotations

from signals.signal import Signal
from signals.topics import TOPIC_NAMES


def chart_for_key(topic: str, key: str) -> str | None:
    """The chart that shows a key: its topic's, the Russell 2000's breadth for small-cap breadth.
    Alerts attach it, and each chart lists as active only the keys it shows."""
    if topic not in TOPIC_NAMES:
        return None
    if topic == "breadth" and (key.endswith(":russell2000") or key == "breadth:smallcap_narrow"):
        return "russell2000"
    return topic


def chart_for(signal: Signal) -> str | None:
    return chart_for_key(signal.type, signal.key)
