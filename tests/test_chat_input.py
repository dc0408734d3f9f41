"""What people type: other bots' commands, stale buttons, odd numbers, long words, floods."""

from __future__ import annotations

import asyncio
import time


from bot.telegram.throttle import ChatThrottle
from signals.signal import Signal
from tests.bot_harness import ADMIN_CHAT, make_folder, running_bot, until, settled
from tests.fake_telegram import BOT_USERNAME

USER, GROUP = 301, -3001


def replies(fake, chat_id):
    return [m["text"] for m in fake.sent(chat_id)]


def test_other_bots_commands_stale_buttons_and_odd_arguments(fake, tmp_path):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            for text in ("/breadth@some_other_bot", "/frobnicate@some_other_bot"):
                fake.push_message(GROUP, text, user_id=7, chat_type="group")
            fake.push_message(GROUP, f"/frobnicate@{BOT_USERNAME}", user_id=7, chat_type="group")
            fake.push_message(GROUP, f"/help@{BOT_USERNAME}", user_id=7, chat_type="group")
            fake.push_callback(USER, "made-up-button-data")
            for text in ("/history \u00b2", "/history \u0663", "/history 1e3", "/history -1",
                         "/subscribe " + "x" * 4000, "/chart " + "<b>" * 50):
                fake.push_message(USER, text)
            await until(lambda: len(replies(fake, USER)) >= 6 and len(replies(fake, GROUP)) >= 2)
            await until(lambda: fake.calls_of("answerCallbackQuery"))
            await settled(fake, services)
            group = replies(fake, GROUP)
            assert len(group) == 2  # the two meant for us; none for /breadth@some_other_bot
            assert any("Unknown command /frobnicate@" in t for t in group)
            texts = replies(fake, USER)
            assert sum("Use /history or /history N" in t for t in texts) == 4
            assert not any("something went wrong" in t for t in texts + group)
            assert all(len(t) <= 4096 for t in texts)
            long_echo = next(t for t in texts if "Unknown topic" in t)
            assert len(long_echo) < 300 and "\u2026" in long_echo
            assert any("&lt;b&gt;" in t for t in texts)  # echoed input is escaped

    asyncio.run(scenario())


def test_a_long_history_is_sent_in_parts_within_the_limit(fake, tmp_path):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            services.store.record_signals([Signal("rates", f"rates:test{i}", f"2024-01-{i % 28 + 1:02d}", "start",
                                                  "y" * 300, {}) for i in range(50)])
            fake.push_message(USER, "/history 50")
            await until(lambda: len(replies(fake, USER)) >= 2)
            await settled(fake, services)
            texts = replies(fake, USER)
            assert len(texts) >= 4 and all(len(t) <= 4096 for t in texts)

    asyncio.run(scenario())


def test_a_flooding_group_is_told_once_and_others_are_served(fake, tmp_path):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            for _ in range(60):
                fake.push_message(GROUP, "/rates", user_id=7, chat_type="group")
            await until(lambda: len(replies(fake, GROUP)) >= 5)
            began = time.monotonic()
            fake.push_message(USER, "/help")
            await until(lambda: replies(fake, USER))
            assert time.monotonic() - began < 5.0  # not stuck behind the group's queue
            await settled(fake, services)
            group = replies(fake, GROUP)
            assert sum("Slow down" in t for t in group) == 1
            assert len(group) <= 10 + 1

    asyncio.run(scenario())


def test_the_slow_down_notice_comes_after_the_answers_it_let_through(fake, tmp_path):
    """25 /rates at once in a private chat: 20 answers (the budget), then one notice, in that order."""
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            for _ in range(25):
                fake.push_message(USER, "/rates")
            await until(lambda: any("Slow down" in t for t in replies(fake, USER)), timeout=60)
            await settled(fake, services)
            return replies(fake, USER)

    texts = asyncio.run(scenario())
    notices = [i for i, t in enumerate(texts) if "Slow down" in t]
    assert notices == [20] and len(texts) == 21, [t[:30] for t in texts]


def test_status_shows_paths_and_errors_to_admins_only(fake, tmp_path):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite"):
            fake.push_message(USER, "/status")
            fake.push_message(ADMIN_CHAT, "/status")
            await until(lambda: replies(fake, USER) and replies(fake, ADMIN_CHAT))
            assert str(folder) not in replies(fake, USER)[0]
            assert str(folder) in replies(fake, ADMIN_CHAT)[0]

    asyncio.run(scenario())


def test_the_throttle_budget_and_one_notice_per_window():
    now = [0.0]
    throttle = ChatThrottle(per_minute_group=3, clock=lambda: now[0])
    verdicts = [throttle.admit(1, group=True) for _ in range(6)]
    assert verdicts == ["ok", "ok", "ok", "warn", "drop", "drop"]
    assert throttle.admit(2, group=True) == "ok"  # another chat is not affected
    now[0] = 61.0
    assert throttle.admit(1, group=True) == "ok"
    throttle.forget_idle()
    now[0] = 200.0
    throttle.forget_idle()
    assert throttle._seen == {}


def test_a_command_before_the_first_evaluation_is_answered_when_it_completes(tmp_path):
    from bot.runtime.assembly import build_services
    from bot.runtime.config import load_config

    folder = make_folder(tmp_path / "data")
    services = build_services(load_config(rotation_data=folder, database_path=tmp_path / "bot.sqlite"))

    async def scenario():
        waiting = asyncio.create_task(services.snapshot())
        for _ in range(20):  # the waiter has run as far as it can without a tick
            await asyncio.sleep(0)
        assert not waiting.done()  # no "No metrics yet" while the first tick is coming
        await services.tick("startup")
        snapshot = await asyncio.wait_for(waiting, 10)
        assert snapshot is not None and snapshot["as_of"] == "2024-02-28"

    try:
        asyncio.run(scenario())
    finally:
        services.close()


def test_callbacks_without_a_chat_or_from_a_stranger_and_lone_surrogates(fake, tmp_path, caplog):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_message(USER, "/subscribe rates")
            await until(lambda: services.store.subscriptions(USER) == {"rates"})
            fake.push_inline_callback("toggle:rates", user_id=USER)  # a button on an inline message: no chat
            fake.push_callback(USER, "toggle:rates", user_id=999)  # someone else presses USER's button
            for text in ("/alert \ud83d above 4", "/quiet \ud83d", "/timezone \ud83d", "/subscribe \ud83d",
                         "/history \ud83d", "/alert rates.yield_2y above \ud83d"):
                fake.push_message(USER, text)
            fake.push_channel_post(-100777, "/breadth")
            await until(lambda: len(fake.calls_of("answerCallbackQuery")) >= 2
                        and len(fake.sent(USER)) >= 7, timeout=30)
            await settled(fake, services)
            assert services.store.subscriptions(USER) == {"rates"}  # neither press changed anything

    with caplog.at_level("ERROR"):
        asyncio.run(scenario())
    assert not [r for r in caplog.records if r.levelname == "ERROR"], [r.getMessage() for r in caplog.records]
    assert all("\ud83d" not in m["text"] for m in fake.sent(USER))
    assert fake.sent(-100777) == []  # a channel's own commands get no "Unknown command"


def test_plain_words_in_a_private_chat_get_a_hint_with_the_headline(fake, tmp_path):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_message(USER, "hello bot")
            fake.push_message(GROUP, "hello everyone", user_id=7, chat_type="group")  # people talking: not to us
            hint = await until(lambda: [t for t in replies(fake, USER) if "I answer commands" in t])
            assert "/breadth" in hint[0] and "Now (2024-02-28 close): S&amp;P 500" in hint[0]
            await settled(fake, services)
            assert replies(fake, GROUP) == []

    asyncio.run(scenario())


def test_before_the_first_reading_a_command_says_when_it_is_expected(tmp_path):
    """Running now, failed, or due after a named close: never a bare "no metrics yet"."""
    from datetime import datetime, timezone

    from bot.runtime.config import load_config
    from bot.runtime.assembly import build_services

    services = build_services(load_config(rotation_data=make_folder(tmp_path / "data"),
                                          database_path=tmp_path / "bot.sqlite"))

    async def scenario():
        saturday = datetime(2024, 3, 9, 15, 0, tzinfo=timezone.utc)
        assert services.first_reading_note(saturday) == (
            "No reading yet: the first is due after the 2024-03-11 close, about Mon 2024-03-11 16:20 ET. "
            "/status shows the bot's state.")
        async with services.tick_lock:
            assert "the first evaluation is running now" in services.first_reading_note(saturday)
        services.state.last_failure = ("2024-03-09T15:00:00+00:00", "DataError: no bars")
        assert "the first evaluation failed" in services.first_reading_note(saturday)

    try:
        asyncio.run(scenario())
    finally:
        services.close()


def test_history_asked_before_the_first_evaluation_waits_for_it(tmp_path):
    """A fresh bot asked /history in its first seconds said "No signals yet." and, 4 s later, recorded 280."""
    from bot.runtime.config import load_config
    from bot.runtime.assembly import build_services

    services = build_services(load_config(rotation_data=make_folder(tmp_path / "data"),
                                          database_path=tmp_path / "bot.sqlite"))

    async def scenario():
        waiting = asyncio.create_task(services.history(10))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiting.done()  # no "none" while the first tick is coming
        await services.tick("startup")
        signals, snapshot = await asyncio.wait_for(waiting, 10)
        assert snapshot["as_of"] == "2024-02-28"
        assert any(s.key == "rates:curve_inverted" for s in signals)  # the history the first tick found

    try:
        asyncio.run(scenario())
    finally:
        services.close()
