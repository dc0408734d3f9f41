"""End to end: the real Application over HTTP against the fake Bot API, with SQLite state."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
import logging
import threading
import time


from bot.runtime.feeds import FolderFeed
from bot.runtime.logs import setup_logging
from bot.storage import open_store
from bot.runtime.tick import run_tick
from signals.settings import load_detector_settings
from tests.bot_harness import ADMIN_CHAT, announce_cut, running_bot, until, settled
from tests.fake_telegram import FakeTelegram

USER = 101


def replies(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [m["text"] for m in fake.sent(chat_id)]


def test_subscribe_tick_alert_arrives(fake, folder, tmp_path):
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_message(USER, "/subscribe rates")
            await until(lambda: any("Subscribed: rates" in t for t in replies(fake, USER)))
            announce_cut(folder)
            await services.tick("test")
            await until(lambda: any("Fed cut its target by 25 bp" in t for t in replies(fake, USER)))
            alerts = [t for t in replies(fake, USER) if "Fed cut" in t]
            assert len(alerts) == 1
            assert "<b>Rates</b>" in alerts[0] and "2024-02-28 close" in alerts[0]
            assert "\U0001F4CA No start since" in alerts[0]  # the key's record, in one line
            await services.tick("test again")  # the same session again: no second alert
            await settled(fake, services)
            assert len([t for t in replies(fake, USER) if "Fed cut" in t]) == 1
            fake.push_message(USER, "/history")
            history = await until(lambda: [t for t in replies(fake, USER) if t.startswith("<b>Last 2 signals</b>")])
            lines = history[0].split("\n")
            assert lines[1] == "2024-02-28 \U0001F514 Fed cut its target by 25 bp to 5.00\u20135.25%"
            # the folder's curve inverted on its third session (its second yield, published a session late): the
            # first start found it in the history
            assert lines[2].startswith("2024-01-04 ") and lines[2].endswith("\u00b7 active \u00b7 from history")
            assert "<b>Track record</b>" in history[0] and len(history[0]) < 400
            fake.push_callback(USER, "hist:10")  # the "Full detail" button: the full alerts
            await until(lambda: any("<i>2024-02-28 close \u00b7 rates:fed_cut</i>" in c.params.get("text", "")
                                    for c in fake.calls_of("sendMessage") if int(c.params["chat_id"]) == USER))

    asyncio.run(scenario())


def test_unsubscribed_chat_gets_nothing(fake, folder, tmp_path):
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_message(USER, "/subscribe all")
            await until(lambda: any("Subscribed" in t for t in replies(fake, USER)))
            fake.push_message(USER, "/unsubscribe rates")
            await until(lambda: any("Unsubscribed: rates" in t for t in replies(fake, USER)))
            announce_cut(folder)
            await services.tick("test")
            await settled(fake, services)
            assert not any("Fed cut" in t for t in replies(fake, USER))
            assert services.store.stats()["signals"] == 2  # the Fed cut, and the inversion found in the history

    asyncio.run(scenario())


def test_restart_keeps_subscriptions_and_sends_pending_deliveries(fake, folder, tmp_path):
    database = tmp_path / "bot.sqlite"

    async def first_life():
        async with running_bot(fake, folder, database):
            fake.push_message(USER, "/subscribe rates")
            await until(lambda: any("Subscribed" in t for t in replies(fake, USER)))

    asyncio.run(first_life())
    # while the bot is down, a tick stores the signal and its delivery (as after a crash mid-drain)
    announce_cut(folder)
    store = open_store(database)
    run_tick(store, FolderFeed(folder), load_detector_settings(), trigger="offline")
    store.close()

    async def second_life():
        async with running_bot(fake, folder, database) as services:
            assert services.store.subscriptions(USER) == {"rates"}
            await until(lambda: any("Fed cut" in t for t in replies(fake, USER)))
            await settled(fake, services)
            assert len([t for t in replies(fake, USER) if "Fed cut" in t]) == 1

    asyncio.run(second_life())


def test_blocked_chat_is_deactivated(fake, folder, tmp_path):
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_message(USER, "/subscribe rates")
            fake.push_message(USER + 1, "/subscribe rates")
            await until(lambda: replies(fake, USER) and replies(fake, USER + 1))
            fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=USER, times=5)
            announce_cut(folder)
            await services.tick("test")
            await until(lambda: any("Fed cut" in t for t in replies(fake, USER + 1)))
            chat = await until(lambda: (c := services.store.chat(USER)) and not c["active"] and c)
            assert "blocked" in chat["inactive_reason"]
            assert services.store.stats()["deliveries"] == {"cancelled": 1, "sent": 1}

    asyncio.run(scenario())


def test_rate_limit_answer_loses_nothing(fake, folder, tmp_path):
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_message(USER, "/subscribe rates")
            await until(lambda: replies(fake, USER))
            fake.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, chat_id=USER, times=2)
            announce_cut(folder)
            await services.tick("test")
            await until(lambda: any("Fed cut" in t for t in replies(fake, USER)), timeout=20)
            assert len([c for c in fake.calls_of("send") if c.status == 429]) == 2
            assert services.store.stats()["deliveries"] == {"sent": 1}

    asyncio.run(scenario())


def test_server_errors_are_retried_with_backoff(fake, folder, tmp_path, clock):
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            clock.now = datetime.now(timezone.utc) + timedelta(seconds=5)  # rows queued from now on are due
            services.deliverer.clock = clock  # backoffs pass when the test moves the clock
            services.deliverer.backoff_seconds = 0.2
            fake.push_message(USER, "/subscribe rates")
            await until(lambda: replies(fake, USER))
            fake.fail("sendMessage", 502, "Bad Gateway", chat_id=USER, times=2)
            announce_cut(folder)
            await services.tick("test")
            for _ in range(3):  # the repeating job would do this every few seconds
                clock.advance(60)
                await services.deliverer.drain()
            await until(lambda: any("Fed cut" in t for t in replies(fake, USER)))
            assert services.store.stats()["deliveries"] == {"sent": 1}

    asyncio.run(scenario())


def test_migrated_group_keeps_its_subscriptions(fake, folder, tmp_path):
    group, supergroup, admin = -500, -1000500, 7
    fake.admins[group] = {admin}

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_message(group, "/subscribe rates", user_id=admin, chat_type="group")
            await until(lambda: replies(fake, group))
            fake.fail("sendMessage", 400, "Bad Request: group chat was upgraded to a supergroup chat",
                      migrate_to=supergroup, chat_id=group)
            announce_cut(folder)
            await services.tick("test")
            await until(lambda: any("Fed cut" in t for t in replies(fake, supergroup)))
            assert services.store.subscriptions(supergroup) == {"rates"}
            assert services.store.chat(group) is None

    asyncio.run(scenario())


def test_breadth_answers_while_a_tick_runs(fake, folder, tmp_path):
    release = threading.Event()

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            original = services.feed.load

            def slow_load():
                release.wait(10)  # the tick's worker thread is busy until released
                return original()

            services.feed.load = slow_load
            tick = asyncio.create_task(services.tick("slow"))
            await until(lambda: services.tick_lock.locked())
            began = time.monotonic()
            fake.push_message(USER, "/breadth")
            await until(lambda: any("<b>Breadth</b>" in t for t in replies(fake, USER)), timeout=5)
            assert time.monotonic() - began < 3
            assert not tick.done()
            fake.push_message(USER, "/status")
            await until(lambda: any("A tick is running now" in t for t in replies(fake, USER)), timeout=5)
            release.set()
            await tick

    asyncio.run(scenario())


def test_commands_answer_and_explain_bad_input(fake, folder, tmp_path):
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite"):
            fake.push_message(USER, "/start")
            start = await until(lambda: fake.sent(USER))
            assert "toggle:breadth" in str(start[0]["reply_markup"])
            for text in ("/subscribe <b>gold</b>", "/history lots", "/run", "/frobnicate", "/help", "/rates",
                         "/breakout", "/history 2", "/signals", "/status", "/breadth", "/breadth russell2000",
                         "/breadth nasdaq", "/sectors", "/credit"):
                fake.push_message(USER, text)
            await until(lambda: len(fake.sent(USER)) >= 16)
            texts = replies(fake, USER)
            assert any("Unknown topic \u201c&lt;b&gt;gold&lt;/b&gt;\u201d" in t and
                       "breadth, breakout, rates, sectors, credit, cycle or all"
                       in t for t in texts)
            assert any("/history N with N from 1 to 50" in t for t in texts)
            assert any(t.startswith("<b>Sector rotation</b>") and "KRE over SPY" in t and "(alert: above both)" in t
                       for t in texts)
            assert any(t.startswith("<b>Credit</b>") and "HYG/IEF" in t and "(stress at \u22123%" in t for t in texts)
            assert any("for the bot's administrators" in t for t in texts)
            assert any("Unknown command /frobnicate" in t for t in texts)
            assert any("/subscribe &lt;topic|all&gt;" in t and "/run" not in t for t in texts)
            assert any("<b>Rates</b>" in t and "Fed target" in t and "(alert at \u00b140 bp)" in t for t in texts)
            assert any("Small-cap breakout" in t for t in texts)
            assert any("\u00b7 from history" in t for t in texts)  # the curve inversion the first start found
            assert any("Data as of: 2024-02-28" in t for t in texts)
            both = next(m for m in fake.sent(USER) if m["text"].startswith("<b>Breadth</b>")  # both universes
                        and "<b>S&amp;P 500</b>" in m["text"] and "<b>Russell 2000</b>" in m["text"])
            assert "(alert at \u221210%)" in both["text"] and "(alert at \u221215%)" in both["text"]  # triggers
            assert "Active: " in both["text"]
            assert "chart:breadth" in str(both["reply_markup"]) and "chart:russell2000" in str(both["reply_markup"])
            assert any(t.startswith("<b>Breadth</b>") and "Members with data: 2" in t
                       and "S&amp;P 500" not in t for t in texts)  # /breadth russell2000 in full
            assert any("/breadth followed by sp500 or russell2000 (got \u201cnasdaq\u201d)" in t for t in texts)

            fake.push_message(ADMIN_CHAT, "/stats")
            fake.push_message(ADMIN_CHAT, "/help")
            await until(lambda: len(fake.sent(ADMIN_CHAT)) >= 2)
            assert any("<b>Stats</b>" in t for t in replies(fake, ADMIN_CHAT))
            assert any("/run" in t for t in replies(fake, ADMIN_CHAT))

            commands = fake.calls_of("setMyCommands")
            public = [c for c in commands if "chat_id" not in str(c.params.get("scope"))]
            names = [c["command"] for c in public[0].params["commands"]]
            assert "breadth" in names and "run" not in names
            assert any(str(ADMIN_CHAT) in str(c.params.get("scope")) for c in commands)

    asyncio.run(scenario())


def test_inline_buttons_toggle_and_groups_need_an_admin(fake, folder, tmp_path):
    group, admin, member = -42, 5, 6
    fake.admins[group] = {admin}

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_callback(USER, "toggle:breakout")
            await until(lambda: services.store.subscriptions(USER) == {"breakout"})
            await until(lambda: fake.calls_of("editMessageReplyMarkup"))
            fake.push_callback(USER, "toggle:breakout")
            await until(lambda: services.store.subscriptions(USER) == set())

            fake.push_message(group, "/subscribe breadth", user_id=member, chat_type="group")
            await until(lambda: any("administrators" in t for t in replies(fake, group)))
            assert services.store.subscriptions(group) == set()
            fake.push_message(group, "/subscribe breadth", user_id=admin, chat_type="group")
            await until(lambda: services.store.subscriptions(group) == {"breadth"})

    asyncio.run(scenario())


def test_token_appears_nowhere_in_logs_or_output(fake, folder, tmp_path, caplog, capfd):
    setup_logging("DEBUG", fake.token)  # replaces the root handlers: put pytest's capture back
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_message(USER, "/subscribe rates")
            await until(lambda: replies(fake, USER))
            fake.fail("sendMessage", 502, "Bad Gateway", chat_id=USER)
            announce_cut(folder)
            await services.tick("test")

    try:
        asyncio.run(scenario())
    finally:
        logging.getLogger().handlers.clear()
    out, err = capfd.readouterr()
    secret = fake.token.split(":", 1)[1]
    assert caplog.records, "the run should have logged something"
    assert secret not in caplog.text
    assert secret not in out and secret not in err


def test_slow_telegram_answers_hold_up_nothing(fake, folder, tmp_path):
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_message(USER, "/subscribe rates")
            fake.push_message(USER + 1, "/subscribe rates")
            await until(lambda: replies(fake, USER) and replies(fake, USER + 1))
            fake.delays["sendMessage"] = fake.delays["sendPhoto"] = 0.8
            announce_cut(folder)
            delivering = asyncio.create_task(services.tick("test"))
            await until(lambda: len([c for c in fake.calls_of("send")
                                     if "Fed cut" in c.params.get("caption", "")]) == 2, timeout=10)
            await delivering
            assert services.store.stats()["deliveries"] == {"sent": 2}
            assert len([t for t in replies(fake, USER) if "Fed cut" in t]) == 1

    asyncio.run(scenario())


def test_chart_is_drawn_when_asked_then_sent_from_the_store(fake, folder, tmp_path):
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            assert services.store.chart("rates") is None  # ticks no longer draw charts nobody asked for
            draws = []
            draw = services.readings._draw
            services.readings._draw = lambda name, as_of: draws.append(name) or draw(name, as_of)
            fake.push_message(USER, "/chart rates")
            fake.push_message(USER, "/chart moon")
            photos = await until(lambda: fake.calls_of("sendPhoto"))
            await until(lambda: any("Use /chart followed by" in t for t in replies(fake, USER)))
            params = photos[0].params
            assert int(params["chat_id"]) == USER and params["photo"]["png"] and params["photo"]["size"] > 10_000
            assert "Rates" in params["caption"] and "2024-02-28 close" in params["caption"]
            assert services.store.chart("rates")[0] == "2024-02-28"
            fake.push_message(USER, "/chart rates")
            await until(lambda: len(fake.calls_of("sendPhoto")) == 2)
            assert draws == ["rates"]  # the second ask sent the stored PNG of the session

    asyncio.run(scenario())
