"""Alerts as photos: the topic's chart with the text as caption (at most 1,024 characters, the rest as
replies), the same parts whether or not the chart could be drawn, quiet hours, digests per chat."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from bot.presentation.messages import CAPTION_LIMIT, MESSAGE_LIMIT, signal_message
from bot.delivery.outgoing import AlertComposer
from bot.presentation.chart_keys import chart_for
from bot.storage import Delivery
from signals.signal import Signal
from tests.bot_harness import make_folder, running_bot, until
from tests.fake_telegram import FakeTelegram

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 100
CHAT = 601


@pytest.fixture
def store(store):
    """The shared two-engine store (conftest.py), with the chat these tests talk to."""
    store.upsert_chat(CHAT)
    return store


def compose(store, signal, charts=None, at=datetime(2024, 1, 5, 15, 0, tzinfo=timezone.utc)):
    async def source(name):
        return ("2024-01-05", PNG)

    composer = AlertComposer(store, charts if charts is not None else source, clock=lambda: at)
    return asyncio.run(composer.compose(Delivery(1, CHAT, signal, 0)))


def test_a_topic_alert_is_its_chart_with_the_alert_as_caption(store):
    signal = Signal("rates", "rates:fed_cut", "2024-01-05", "start", "Fed cut its target by 25 bp", {})
    (part,) = compose(store, signal)
    assert part.photo == PNG and part.text == signal_message(signal) and not part.silent


def test_a_long_alert_keeps_1024_characters_in_the_caption_and_sends_the_rest(store):
    title = "\n".join(f"line {i:03d} " + "x" * 60 for i in range(80))  # about 5,600 characters
    signal = Signal("breadth", "breadth:narrow_leadership", "2024-01-05", "start", title, {})
    parts = compose(store, signal)
    assert parts[0].photo == PNG and len(parts[0].text) <= CAPTION_LIMIT
    assert all(p.photo is None and len(p.text) <= MESSAGE_LIMIT for p in parts[1:]) and len(parts) >= 3
    assert "\n".join(p.text for p in parts) == signal_message(signal)  # nothing lost, nothing repeated


def test_no_chart_sends_the_same_parts_as_text(store):
    async def broken(name):
        raise RuntimeError("matplotlib exploded")

    title = "\n".join("y" * 70 for _ in range(40))
    signal = Signal("credit", "credit:hy_stress", "2024-01-05", "start", title, {})
    with_chart, without = compose(store, signal), compose(store, signal, charts=broken)
    assert [p.text for p in with_chart] == [p.text for p in without]  # a resumed delivery skips the same parts
    assert without[0].photo is None


def test_quiet_hours_make_every_part_silent(store):
    store.update_chat_settings(CHAT, quiet_start="22:00", quiet_end="07:00", timezone="America/New_York")
    signal = Signal("rates", "rates:fed_cut", "2024-01-05", "start", "t", {})
    assert all(p.silent for p in compose(store, signal, at=datetime(2024, 1, 6, 4, 0, tzinfo=timezone.utc)))
    assert not any(p.silent for p in compose(store, signal, at=datetime(2024, 1, 5, 16, 0, tzinfo=timezone.utc)))


def test_a_digest_lists_only_the_chats_topics(store):
    store.subscribe(CHAT, ["rates"])
    digest = Signal("digest", "digest", "2024-01-05", "start", "d", {
        "picture": ["S&P 500 \u22120.7% from its high"],
        "signals": [{"type": "rates", "direction": "start", "title": "Fed cut its target"},
                    {"type": "breadth", "direction": "start", "title": "Narrow leadership"}]})
    (part,) = compose(store, digest)
    assert part.photo is None and "Fed cut its target" in part.text and "Narrow leadership" not in part.text
    assert "S&amp;P 500" in part.text


def test_each_alert_has_the_chart_that_shows_it():
    def key(k, t):
        return chart_for(Signal(t, k, "2024-01-05", "start", "t"))

    assert key("breadth:washout:russell2000", "breadth") == "russell2000"
    assert key("breadth:smallcap_narrow", "breadth") == "russell2000"
    assert key("breadth:washout:sp500", "breadth") == "breadth"
    assert key("credit:hy_stress", "credit") == "credit"
    assert key("custom:3", "custom") is None


def test_a_long_alert_end_to_end(tmp_path):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        with FakeTelegram() as fake:
            async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
                services.store.upsert_chat(CHAT)
                services.store.subscribe(CHAT, ["rates"])
                title = "\n".join(f"reason {i:02d}: " + "z" * 50 for i in range(40))
                services.store.record_signals([Signal("rates", "rates:fed_cut", "2024-02-28", "start", title, {})])
                await services.deliverer.drain()
                photos = await until(lambda: [c for c in fake.calls_of("sendPhoto")
                                              if int(c.params["chat_id"]) == CHAT])
                assert photos[0].params["photo"]["png"] and len(photos[0].params["caption"]) <= CAPTION_LIMIT
                rest = [m["text"] for m in fake.sent(CHAT)][1:]
                assert rest and "reason 39" in rest[-1]

    asyncio.run(scenario())
