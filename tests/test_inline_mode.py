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
    assert topics_for("") == ["breadth", "breakout", "rates", "sectors", "credit", "cycle"]
    assert topics_for("gold") == topics_for("zzz") == []  # no match: no cards (the answer offers a button)
    assert topics_for("sector r") == ["sectors"]  # a topic's label works too


def test_a_card_describes_itself_with_a_reading_not_a_name():
    from bot.telegram.inline import _first_reading

    text = ("<b>Breadth</b> \u00b7 2024-03-08 close\n<b>S&amp;P 500</b>\n"
            "\u2022 Index \u22120.7% from its 52-week high (near it: within 3%)\n<b>Russell 2000</b>\n")
    assert _first_reading(text) == "S&P 500: Index \u22120.7% from its 52-week high (near it: within 3%)"


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
                assert card["description"].startswith("S&P 500: ") and "%" in card["description"]
                fake.push_inline_query(701, "zzz")
                nothing = (await until(lambda: fake.calls_of("answerInlineQuery")[1:]))[0]
                assert _results(nothing) == [] and "No topic matches" in json.dumps(nothing.params["button"])

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
