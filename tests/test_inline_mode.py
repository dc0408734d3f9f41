"""Inline mode: `@bot breadth` in any chat offers the current reading as a card to share."""

from __future__ import annotations

import asyncio
import json

from bot.telegram.inline import topics_for
from tests.bot_harness import make_folder, running_bot, until
from tests.fake_telegram import FakeTelegram


def test_what_was_typed_picks_the_topics():
    assert topics_for("bre") == ["breadth", "breakout"]
    assert topics_for("/rates ") == ["rates"]
    assert topics_for("") == topics_for("gold") == ["breadth", "breakout", "rates", "sectors", "credit", "cycle"]


def _results(call) -> list[dict]:
    results = call.params["results"]
    return json.loads(results) if isinstance(results, str) else results


def test_an_inline_query_answers_with_the_stored_reading(tmp_path):
    with FakeTelegram() as fake:
        async def scenario():
            async with running_bot(fake, make_folder(tmp_path / "data"), tmp_path / "bot.sqlite") as services:
                as_of = services.store.latest_snapshot()["as_of"]
                fake.push_inline_query(701, "breadth")
                call = (await until(lambda: fake.calls_of("answerInlineQuery")))[0]
                cards = _results(call)
                assert [card["id"] for card in cards] == [f"breadth:{as_of}"]
                card = cards[0]
                assert card["type"] == "article" and card["title"] == f"Breadth \u00b7 {as_of} close"
                text = card["input_message_content"]["message_text"]
                assert text.startswith("<b>Breadth") and "S&amp;P 500" in text
                assert card["input_message_content"]["parse_mode"] == "HTML"
                assert card["description"] and "<" not in card["description"]

        asyncio.run(scenario())


def test_before_any_reading_a_button_opens_the_bot(tmp_path):
    with FakeTelegram() as fake:
        async def scenario():
            folder = make_folder(tmp_path / "data")
            for path in (folder / "prices").glob("*.csv"):
                path.write_text("Date,Close\n")  # no bars: the first tick fails, no reading is stored
            async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
                assert services.store.latest_snapshot() is None
                fake.push_inline_query(702, "")
                call = (await until(lambda: fake.calls_of("answerInlineQuery")))[0]
                assert _results(call) == []
                button = call.params["button"]
                button = json.loads(button) if isinstance(button, str) else button
                assert button["start_parameter"] == "inline"

        asyncio.run(scenario())
