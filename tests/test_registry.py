"""One registry per concept: every topic and every registered key has all its parts, and nothing
lists topics or keys on its own. Adding a detector or a topic without its message, chart, command,
settings or README row fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from bot.presentation.topics import CHARTS, VIEWS
from bot.telegram.commands import COMMANDS, help_text
from bot.presentation.messages import signal_message
from signals.detectors import DETECTORS, KEY_TOPICS, KEYS, all_conditions, key_rule
import signals.detectors
import signals.metrics
from signals.metrics import GROUPS, METRIC_GROUPS
from signals.settings import default_settings_text, load_detector_settings
from signals.signal import Signal
from signals.topics import TOPIC_NAMES
from tests.test_no_lookahead import SYNTHETIC

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEFAULTS = load_detector_settings()


@pytest.mark.parametrize("topic", TOPIC_NAMES)
def test_every_topic_has_its_parts(topic):
    assert topic in GROUPS, "a metric group in metrics --json"
    assert topic in VIEWS and set(VIEWS[topic].charts_for(None)) <= set(CHARTS), "an answer and its chart button"
    assert topic in CHARTS, "a chart"
    assert topic in {c.name for c in COMMANDS}, "a command"
    assert f"/{topic}" in help_text(admin=False), "a line in /help"
    assert topic in tomllib.loads(default_settings_text()), "a [section] in defaults.toml"
    assert any(d.topic == topic for d in DETECTORS), "a detector"
    assert f"`{topic}`" in README


def test_a_condition_reads_only_what_its_metric_group_declares():
    """The declared reads decide which carried sessions leave a condition undecided: an input that is
    not declared would never block it."""
    reads = {group.name: set(group.reads) for group in METRIC_GROUPS}
    undeclared = sorted(f"{cond.key} reads {ticker}" for cond in all_conditions(_metrics(), DEFAULTS)
                        for ticker in cond.inputs if ticker not in reads[cond.type])
    assert undeclared == []


def test_a_topic_without_its_metrics_or_detector_module_fails_at_import_naming_the_file():
    with pytest.raises(ImportError, match="write signals/metrics/volatility.py"):
        signals.metrics._group("volatility")
    with pytest.raises(ImportError, match="must end in GROUP = MetricGroup"):
        signals.metrics._group("rolling")  # a module without a declaration
    with pytest.raises(ImportError, match="write signals/detectors/volatility.py"):
        signals.detectors._detector("volatility")
    with pytest.raises(ImportError, match="must end in DETECTOR = Detector"):
        signals.detectors._detector("edges")


def test_every_key_belongs_to_a_topic_and_is_emitted():
    assert set(KEY_TOPICS.values()) <= set(TOPIC_NAMES)
    emitted = [c.key for c in all_conditions(_metrics(), DEFAULTS)]
    assert len(emitted) == len(set(emitted)), "a key is computed twice"
    assert set(emitted) == set(KEYS), "registered keys and computed conditions differ"


def test_the_readme_table_is_the_registry():
    rows = dict(re.findall(r"^\| `([a-z0-9_:]+)` \| [a-z]+ \| (.+?) \|$", README, flags=re.MULTILINE))
    assert set(KEYS) <= set(rows), f"keys missing from README: {sorted(set(KEYS) - set(rows))}"
    for key in KEYS:
        assert rows[key] == key_rule(key, DEFAULTS), key


def test_rules_follow_the_settings(tmp_path):
    config = tmp_path / "mine.toml"
    config.write_text("[breadth]\nwashout_below_pct = 15\nwashout_end_above_pct = 22\n")
    assert key_rule("breadth:washout:russell2000", load_detector_settings(config)).startswith(
        "fewer than 15% of Russell 2000 members above their 200-day average; ends above 22%")


@pytest.mark.parametrize("key", list(KEYS))
def test_every_key_describes_its_edges_as_a_message(key):
    """Titles come from the detector at any session, even where inputs are unknown, and render."""
    metrics = _metrics()
    (cond,) = [c for c in all_conditions(metrics, DEFAULTS) if c.key == key]
    known = np.flatnonzero(~np.isnan(cond.values))
    for position in (int(known[-1]) if len(known) else len(metrics.sessions) - 1, 0):
        for direction in ("start", "end"):
            title, detail = cond.describe(direction, position)
            assert len(title) > 20 and not re.search(r"\bnan\b", title.lower()), title
            message = signal_message(Signal(cond.type, key, "2024-01-05", direction, title, detail))
            assert key in message and len(message) < 1024  # fits a photo caption too


def _metrics():
    from signals.metrics import compute_metrics

    return compute_metrics(SYNTHETIC, DEFAULTS)


def test_a_topic_without_its_view_fails_at_import_naming_the_file():
    import bot.presentation.topics as topics

    with pytest.raises(ImportError, match=r"bot/presentation/topics/momentum\.py"):
        topics._view("momentum")
    with pytest.raises(ImportError, match="VIEW = TopicView"):
        topics._view("view")  # a module of the package that is not a topic's view


def test_the_command_table_and_the_charts_follow_the_views():
    """Each topic's command takes exactly its view's choices; `/chart` offers exactly the views' charts,
    which are the names the command line knows before pandas loads."""
    from bot.presentation.chart_keys import CHART_NAMES

    commands = {c.name: c for c in COMMANDS}
    for name, view in VIEWS.items():
        assert commands[name].usage == (f"[{'|'.join(view.choices)}]" if view.choices else "")
        assert set(view.charts_for(None)) == {chart.name for chart in view.charts}
        for choice in view.choices:
            assert set(view.charts_for(choice)) <= set(CHARTS)
    assert tuple(CHARTS) == CHART_NAMES
    assert commands["chart"].help.endswith(", ".join(CHARTS))


def test_readme_names_every_topic_command_chart_and_subscription():
    rows = {match[0]: match[1] for match in re.findall(r"^\| `(/[a-z]+)[^`]*` \| [^|]+ \| (.+) \|$", README,
                                                       flags=re.MULTILINE)}
    for name, view in VIEWS.items():
        usage = " [" + "\\|".join(view.choices) + "]" if view.choices else ""  # a table cell escapes |
        assert f"| `/{name}{usage}` |" in README, f"README's command table lacks /{name}{usage}"
    assert all(f"`{name}`" in rows["/chart"] for name in CHARTS), rows["/chart"]
    assert all(f"`{name}`" in rows["/subscribe"] for name in TOPIC_NAMES), rows["/subscribe"]
