"""Each topic as a reader sees it, one module per topic, found by its name in `signals.topics.TOPICS`.

A module `bot/presentation/topics/<topic>.py` ends in its `VIEW` (a `TopicView`: answer, charts,
`metrics` rows). Everything that shows topics reads `VIEWS` and `CHARTS`: the topic commands and
their chart buttons, the inline cards, `/chart`, `rotation-bot chart` and `rotation-bot metrics`. A
topic without its module fails here, at import, naming the file it needs.
"""

from __future__ import annotations

from bot.presentation.topics.view import ChartSpec, TopicView
from signals.topics import TOPIC_NAMES, topic_part

__all__ = ["CHARTS", "VIEWS", "ChartSpec", "TopicView"]


def _view(topic: str) -> TopicView:
    return topic_part(__name__, topic, "VIEW", TopicView, lambda view: view.name, "view")


VIEWS: dict[str, TopicView] = {topic: _view(topic) for topic in TOPIC_NAMES}
CHARTS: dict[str, ChartSpec] = {chart.name: chart for view in VIEWS.values() for chart in view.charts}
