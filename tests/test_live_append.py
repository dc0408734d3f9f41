"""The running bot's live data: a refresh's new session is appended in memory, never the whole cache re-read."""

from __future__ import annotations

import pandas as pd
import pytest

from bot.runtime.feeds import LiveFeed
from tests.test_live_source import world  # noqa: F401 (a fixture)


def same(left, right) -> None:
    for name in ("close", "high", "low", "volume", "carried"):
        pd.testing.assert_frame_equal(getattr(left, name), getattr(right, name), check_exact=True, obj=name)
    pd.testing.assert_series_equal(left.suspect, right.suspect)
    pd.testing.assert_frame_equal(left.rates, right.rates)


def test_a_new_session_is_appended_not_read_again(world, monkeypatch):  # noqa: F811
    source, yahoo, _, _ = world
    feed = LiveFeed(source)
    feed.update(None)
    before = feed.load()
    yahoo.append_session("2024-03-28")
    yahoo.histories["BBB"] = yahoo.histories["BBB"].iloc[:-1]  # one member misses the new session
    feed.update("2024-03-28")
    monkeypatch.setattr(source.cache, "read_long", lambda *a, **k: pytest.fail("the whole cache was read"))
    after = feed.load()
    assert after.last_session == pd.Timestamp("2024-03-28")
    assert after.origin is before.origin  # the engine keeps its work: the history is the same
    assert after.carried.loc["2024-03-28", "BBB"]  # carried, by the same rule as a full load
    monkeypatch.undo()
    same(after, source.load())


def test_a_revised_history_is_loaded_anew(world):  # noqa: F811
    source, yahoo, _, _ = world
    feed = LiveFeed(source)
    feed.update(None)
    before = feed.load()
    yahoo.append_session("2024-03-28")
    yahoo.split("BBB", 2.0)
    feed.update("2024-03-28")
    after = feed.load()
    assert after.origin is not before.origin
    same(after, source.load())


def test_nothing_new_keeps_the_same_data(world):  # noqa: F811
    source, _, _, _ = world
    feed = LiveFeed(source)
    feed.update(None)
    first = feed.load()
    feed.update(None)
    assert feed.load() is first
