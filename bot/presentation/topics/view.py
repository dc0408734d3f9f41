"""What a topic shows a person, declared once: its answer, its charts, its rows in `metrics`.

`signals.topics.Topic` names a topic for the analysis (signal type, subscription, metric group); a
`TopicView` is the same topic for a reader. The bot's command, its chart button, the inline cards,
`/chart`, `rotation-bot chart` and `rotation-bot metrics` all read the views, so a new topic is one
module in this package (see `__init__.py`), not an edit in each of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from signals.topics import Topic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from signals.metrics import Metrics
    from signals.settings import DetectorSettings

MINUS = "\u2212"


@dataclass(frozen=True)
class Reading:
    """What a chart's title says: the headline number(s), and the signals of the topic active now."""

    headline: str
    active: list[str]


Draw = Callable[["Figure", "Metrics", "DetectorSettings"], Reading | None]  # None: too little history to draw
Answer = Callable[[dict[str, Any], "DetectorSettings", str | None], str]  # (snapshot, settings, choice)


@dataclass(frozen=True)
class ChartSpec:
    name: str  # `/chart NAME`, `rotation-bot chart NAME`, the chart button's data
    title: str
    draw: Draw


def formatted(template: str, values: list[Any]) -> str:
    """A number as a terminal shows it, or n/a when any part is unknown."""
    if any(v is None for v in values):
        return "n/a"
    return template.format(*values).replace("-", MINUS)


@dataclass(frozen=True)
class MetricRow:
    """One line of `rotation-bot metrics`: a label and the group's column(s) it formats."""

    label: str
    columns: tuple[str, ...]
    template: str

    def cell(self, values: Mapping[str, Any]) -> str:
        return formatted(self.template, [values.get(column) for column in self.columns])


Cells = Callable[[dict[str, Any]], list[tuple[str, str]]]  # a whole snapshot -> (label, value) lines


@dataclass(frozen=True)
class TopicView:
    topic: Topic
    answer: Answer
    charts: tuple[ChartSpec, ...]  # the topic's own first; its answer's button offers them all
    rows: tuple[MetricRow, ...] = ()
    # arguments its command takes (`/breadth russell2000`), each with the chart(s) that answer offers
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    cells: Cells | None = None  # lines `metrics` shows when plain rows do not say it (a phase, stand-ins)

    @property
    def name(self) -> str:
        return self.topic.name

    def charts_for(self, choice: str | None) -> tuple[str, ...]:
        return self.choices[choice] if choice is not None else tuple(chart.name for chart in self.charts)

    def lines(self, snapshot: dict[str, Any]) -> list[tuple[str, str]]:
        if self.cells is not None:
            return self.cells(snapshot)
        values = snapshot.get(self.name) or {}
        return [(row.label, row.cell(values)) for row in self.rows]
