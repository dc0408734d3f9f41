"""Each topic as a reader sees it, one module per topic, found by its name in `signals.topics.TOPICS`.

A module `bot/presentation/topics/<topic>.py` ends in its `VIEW` (a `TopicView`: answer, charts,
`metrics` rows). Everything that shows topics reads `VIEWS` and `CHARTS`: the topic commands and
their chart buttons, the inline cards, `/chart`, `rotation-bot chart` and `rotation-bot metrics`. A
topic without its module fails here, at import, naming the file it needs.
"""

from __future__ import annotations

import importlib

from bot.presentation.topics.view import ChartSpec, TopicView
from signals.topics import TOPIC_NAMES

__all__ = ["CHARTS", "VIEWS", "ChartSpec", "TopicView"]


def _view(topic: str) -> TopicView:
    try:
        module = importlib.import_module(f"{__name__}.{topic}")
    except ModuleNotFoundError as missing:
        if missing.name != f"{__name__}.{topic}":
            raise
        raise ImportError(f"topic {topic!r} has no view: write bot/presentation/topics/{topic}.py") from None
    view = getattr(module, "VIEW", None)
    if not isinstance(view, TopicView) or view.name != topic:
        raise ImportError(f"bot/presentation/topics/{topic}.py must end in VIEW = TopicView(<the {topic} topic>, ...)")
    return view


VIEWS: dict[str, TopicView] = {topic: _view(topic) for topic in TOPIC_NAMES}
CHARTS: dict[str, ChartSpec] = {chart.name: chart for view in VIEWS.values() for chart in view.charts}
