"""A signal: the edge of a condition (it turned true, or false), with the numbers behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["start", "end"]


@dataclass(frozen=True)
class Signal:
    """`(key, date, direction)` identifies a signal: storing it twice is a no-op."""

    type: str  # a topic of signals.topics: also the subscription
    key: str  # stable across runs, e.g. "breadth:narrow_leadership"
    date: str  # YYYY-MM-DD, the session whose close produced it
    direction: Direction
    title: str
    detail: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.key, self.date, self.direction)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "key": self.key,
            "date": self.date,
            "direction": self.direction,
            "title": self.title,
            "detail": self.detail,
        }
