"""A chat's own alerts: metric paths, crossing edges under the built-in rules, state that survives a
restart, and the commands end to end against the fake Bot API."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from bot.presentation.custom_alert_rules import evaluate_custom_alerts, metric_paths, parse_number
from bot.storage import Store, open_store
from signals.settings import load_detector_settings
from tests.bot_harness import announce_cut, make_folder, running_bot, until, settled
from tests.outbox import outbox_rows

SETTINGS = load_detector_settings()
DAYS = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2024-01-02", periods=200)]
USER = 401


def position(day: str) -> int:
    return DAYS.index(day)


def run(store: Store, values: list[float | None], start: int = 0) -> list[str]:
    """Feed one value per session; the sessions on which the alert fired."""
    fired = []
    for offset, value in enumerate(values):
        day = DAYS[start + offset]
        if evaluate_custom_alerts(store, {"as_of": day, "rates": {"yield_2y": value}}, SETTINGS, position):
            fired.append(day)
    return fired


@pytest.fixture
def store(store):
    """The shared two-engine store (conftest.py), with the chat these tests talk to."""
    store.upsert_chat(USER)
    return store


def test_metric_paths_are_the_numeric_leaves_of_metrics_json():
    snapshot = {"as_of": "2024-03-08", "rates": {"yield_2y": 4.5, "curve_inverted": True},
                "universes": {"russell2000": {"pct_above_200dma": 62.6, "members": 1700}},
                "records": {"x": "text"}, "active": {"k": "2024-01-02"}}
    assert metric_paths(snapshot) == {"rates.yield_2y": 4.5, "universes.russell2000.pct_above_200dma": 62.6,
                                      "universes.russell2000.members": 1700.0}


@pytest.mark.parametrize("word, value", [("30", 30.0), ("-1.5", -1.5), ("+4.25", 4.25), (".5", 0.5), ("1e3", None),
                                         ("\u0663\u0660", None), ("nan", None), ("inf", None), ("1" * 12, None)])
def test_numbers_are_plain_ascii_decimals(word, value):
    assert parse_number(word) == value


def test_fires_once_when_crossed_and_rearms_after_three_sessions_back(store):
    store.add_custom_alert(USER, "rates.yield_2y", "above", 4.5, 20)
    fired = run(store, [4.4, 4.6, 4.7, 4.4, 4.6, 4.4, 4.4, 4.4, 4.8])
    assert fired == [DAYS[1], DAYS[8]]  # 4.4 once or twice in between does not re-arm; three sessions do
    rows = [(row["key"], row["date"]) for row in outbox_rows(store, USER)]
    assert rows == [("custom:1", DAYS[1]), ("custom:1", DAYS[8])]


def test_at_most_twice_in_any_60_sessions(store):
    store.add_custom_alert(USER, "rates.yield_2y", "below", 4.0, 20)
    flicker = [3.9, 4.1, 4.1, 4.1] * 20  # would cross every 4 sessions
    fired = run(store, flicker)
    assert [position(d) for d in fired] == [0, 4, 60, 64]


def test_state_survives_a_restart_and_a_rerun_of_the_same_session(tmp_path):
    path = tmp_path / "bot.sqlite"
    first = open_store(path)
    first.upsert_chat(USER)
    first.add_custom_alert(USER, "rates.yield_2y", "above", 4.5, 20)
    assert run(first, [4.6]) == [DAYS[0]]
    assert run(first, [4.6]) == []  # the same session again
    first.close()
    again = open_store(path)
    assert run(again, [4.7, 4.8], start=1) == []  # still past the level: no new alert after the restart
    assert run(again, [None, 4.4, 4.4, 4.4, 4.9], start=3) == [DAYS[7]]  # unknown holds; then re-armed
    again.close()


def test_at_most_20_per_chat(store):
    ids = [store.add_custom_alert(USER, "rates.yield_2y", "above", float(i), 20) for i in range(21)]
    assert None not in ids[:20] and ids[20] is None


def test_the_commands_end_to_end(fake, tmp_path):
    folder = make_folder(tmp_path / "data")

    def texts() -> list[str]:
        return [m["text"] for m in fake.sent(USER)]

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_message(USER, "/alert rates.yeild_2y above 4.5")
            listing = await until(lambda: [t for t in texts() if "Unknown metric path" in t])
            assert "Did you mean <code>rates.yield_2y</code>" in listing[0]
            assert len(listing[0]) <= 1000 and "/alert paths lists every path" in listing[0]  # no wall of paths
            fake.push_message(USER, "/alert sentiment.fear above 1")
            lost = await until(lambda: [t for t in texts() if "sentiment.fear" in t])
            assert "Paths begin with" in lost[0] and "<code>universes.russell2000.</code>" in lost[0]
            assert len(lost[0]) <= 1000
            fake.push_message(USER, "/alert paths")
            full = await until(lambda: [t for t in texts() if t.startswith("<b>Metric paths</b>")])
            assert "<b>universes.russell2000.</b>" in full[0] and "pct_above_200dma" in full[0]
            assert "ad_line" not in full[0].split("<i>")[0]  # a level set by the data's first session: no path
            assert "does not depend on where the data starts" in full[0]  # the Summation's convention, said
            fake.push_message(USER, "/alert universes.sp500.ad_line above 1000")
            await until(lambda: any("Unknown metric path" in t and "ad_line" in t for t in texts()))
            fake.push_message(USER, "/alert rates.yield_2y above lots")
            wanted = "(got \u201crates.yield_2y above lots\u201d; <code>rates.yield_2y</code> is a valid path, now 4.5)"
            await until(lambda: any(wanted in t for t in texts()))
            fake.push_message(USER, "/alert rates.fed_target_upper below 5.4")
            await until(lambda: any(t.startswith("Alert #1:") for t in texts()))
            assert "Now 5.5; it fires once when it crosses" in next(t for t in texts() if t.startswith("Alert #1:"))
            fake.push_message(USER, "/alerts")
            await until(lambda: any("<b>Your alerts</b> (1 of 20)" in t for t in texts()))
            announce_cut(folder)  # the target falls to 5.25: below 5.4
            await services.tick("test")
            fired = await until(lambda: [t for t in texts() if "Your alert #1: rates.fed_target_upper is 5.25" in t])
            assert "<b>Your alert</b>" in fired[0]
            await services.tick("again")
            await settled(fake, services)
            assert len([t for t in texts() if "Your alert #1:" in t]) == 1  # once
            fake.push_message(USER, "/alert delete 1")
            await until(lambda: any("Alert #1 deleted." in t for t in texts()))
            assert services.store.custom_alerts(USER) == []

    asyncio.run(scenario())
