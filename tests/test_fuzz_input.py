"""Property-based fuzzing of what Telegram can deliver: commands with any arguments, edited messages,
channel posts, messages without a sender, button data. No handler may fail, every reply must be one
Telegram accepts (length, HTML)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update

from bot.telegram.commands import COMMANDS
from tests.bot_harness import make_folder, running_bot
from tests.fake_telegram import BOT_USERNAME, FakeTelegram

TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a", "tg-spoiler",
                 "blockquote", "span", "tg-emoji"}


class TagChecker(HTMLParser):
    """Telegram's HTML: only its tags, properly nested."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in TELEGRAM_TAGS:
            self.problems.append(f"tag <{tag}>")
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")


def html_problems(text: str) -> list[str]:
    checker = TagChecker()
    checker.feed(text)
    checker.close()
    return checker.problems + [f"unclosed <{t}>" for t in checker.stack]


class BotInThread:
    """The real Application against the fake Bot API, on its own loop, fed updates one by one."""

    def __init__(self, tmp_path) -> None:
        self.fake = FakeTelegram().__enter__()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop = None
        self.errors: list[logging.LogRecord] = []
        self.folder = make_folder(tmp_path / "data")
        self.database = tmp_path / "bot.sqlite"
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(),), daemon=True)
        self.thread.start()
        assert self.ready.wait(60), "the bot did not start"

    async def _run(self) -> None:
        self.stop = asyncio.Event()
        async with running_bot(self.fake, self.folder, self.database) as services:
            self.application = services.application
            throttle = self.application.bot_data.throttle
            throttle.per_minute_private = throttle.per_minute_group = 10**9  # fuzzing is not flooding
            self.ready.set()
            await self.stop.wait()

    def process(self, update: dict) -> None:
        future = asyncio.run_coroutine_threadsafe(
            self.application.process_update(Update.de_json(update, self.application.bot)), self.loop)
        future.result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)
        self.fake.__exit__(None, None, None)


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    running = BotInThread(tmp_path_factory.mktemp("fuzz"))
    handler = logging.Handler(level=logging.ERROR)
    handler.emit = running.errors.append  # type: ignore[method-assign]
    logging.getLogger("bot").addHandler(handler)
    logging.getLogger("telegram.ext").addHandler(handler)
    yield running
    logging.getLogger("bot").removeHandler(handler)
    logging.getLogger("telegram.ext").removeHandler(handler)
    running.close()


NAMES = [c.name for c in COMMANDS] + ["frobnicate", "start", "history", "subscribe"]
words = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
commands = st.builds(lambda name, at, args: f"/{name}{at} {args}".rstrip(), st.sampled_from(NAMES),
                     st.sampled_from(["", f"@{BOT_USERNAME}", "@other_bot"]), words)
texts = st.one_of(commands, words.filter(lambda t: t.strip() != ""),
                  st.builds(lambda n: f"/history {n}", st.integers(-10**6, 10**6)),
                  st.builds(lambda d: f"/history {d}", st.text("0123456789\u00b2\u0663\u00bd", min_size=1, max_size=8)))
chats = st.sampled_from([(701, "private"), (-702, "group"), (-1000703, "supergroup"), (-1000704, "channel")])
counter = iter(range(10**9))


@st.composite
def updates(draw) -> dict:
    (chat_id, chat_type), text = draw(chats), draw(texts)
    chat = {"id": chat_id, "type": chat_type}
    chat.update({"first_name": "u"} if chat_type == "private" else {"title": "t"})
    message = {"message_id": next(counter), "date": int(time.time()), "chat": chat, "text": text}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    kind = draw(st.sampled_from(["message", "edited_message", "channel_post", "no_sender", "callback_query"]))
    if kind in ("message", "edited_message") and chat_type != "channel":
        message["from"] = {"id": 9001, "is_bot": False, "first_name": "u"}
        if kind == "edited_message":
            message["edit_date"] = int(time.time())
        return {"update_id": next(counter), kind: message}
    if kind == "callback_query":
        data = draw(st.one_of(st.sampled_from(["toggle:breadth", "toggle:rates", "toggle:", "toggle:<b>"]),
                              st.text(max_size=64)))
        return {"update_id": next(counter), "callback_query": {
            "id": str(next(counter)), "chat_instance": "ci", "data": data,
            "from": {"id": 9001, "is_bot": False, "first_name": "u"},
            "message": {"message_id": next(counter), "date": int(time.time()), "chat": chat, "text": "buttons"}}}
    key = "channel_post" if chat_type == "channel" or kind == "channel_post" else "message"
    return {"update_id": next(counter), key: message}  # no "from": a channel post, an anonymous admin


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(update=updates())
def test_no_update_breaks_a_handler_and_every_reply_is_valid(bot, update):
    before = len(bot.fake.calls)
    bot.process(update)
    assert not bot.errors, [r.getMessage() for r in bot.errors]
    for call in bot.fake.calls[before:]:
        if call.method in ("sendMessage", "editMessageText"):
            text = str(call.params.get("text", ""))
            assert 0 < len(text) <= 4096, (update, len(text))
            assert not html_problems(text), (update, html_problems(text))
            assert "something went wrong" not in text
        if call.method == "sendPhoto":
            assert len(str(call.params.get("caption", ""))) <= 1024
    if "callback_query" in update:
        answered = [c for c in bot.fake.calls[before:] if c.method == "answerCallbackQuery"]
        assert answered, f"button {update['callback_query']['data']!r} was never answered"
