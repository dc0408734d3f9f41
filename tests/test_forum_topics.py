"""Forum groups: alerts go to the topic a chat's subscriptions were made in; replies stay where asked."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bot.delivery.channels import ChannelTarget, parse_channels
from bot.storage import open_store
from bot.storage.migrations import STORE_MIGRATIONS as MIGRATIONS
from tests.bot_harness import announce_cut, make_folder, running_bot, until
from tests.fake_telegram import FakeTelegram

FORUM, ADMIN, MEMBER = -1002000000001, 601, 602
ALERTS_TOPIC, QUESTIONS_TOPIC, BUTTONS_TOPIC = 7, 9, 11


@pytest.fixture
def fake():
    with FakeTelegram() as server:
        server.forums = {FORUM: {ALERTS_TOPIC, QUESTIONS_TOPIC, BUTTONS_TOPIC}}
        server.admins = {FORUM: {ADMIN}}
        yield server


def thread_of(message: dict) -> int | None:
    value = message.get("message_thread_id")
    return None if value is None else int(value)


def replies(fake: FakeTelegram, containing: str) -> list[dict]:
    return [m for m in fake.sent(FORUM) if containing in m["text"]]


async def subscribe_in_the_alerts_topic(fake: FakeTelegram, services) -> None:  # noqa: ANN001
    """An admin sends /subscribe rates inside the forum's alerts topic; the binding is stored."""
    fake.push_message(FORUM, "/subscribe rates", user_id=ADMIN, chat_type="supergroup", thread_id=ALERTS_TOPIC)
    await until(lambda: services.store.chat_settings(FORUM).thread_id == ALERTS_TOPIC)


def test_alerts_go_to_the_topic_of_the_subscription_and_replies_stay_where_asked(fake, tmp_path):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_message(FORUM, "/subscribe rates", user_id=ADMIN, chat_type="supergroup",
                              thread_id=ALERTS_TOPIC)
            subscribed = await until(lambda: replies(fake, "Subscribed: rates"))
            assert thread_of(subscribed[0]) == ALERTS_TOPIC
            assert services.store.chat_settings(FORUM).thread_id == ALERTS_TOPIC
            fake.push_message(FORUM, "/breadth", user_id=MEMBER, chat_type="supergroup", thread_id=QUESTIONS_TOPIC)
            answer = await until(lambda: replies(fake, "Breadth"))
            assert thread_of(answer[0]) == QUESTIONS_TOPIC  # a question is answered in its own topic
            assert services.store.chat_settings(FORUM).thread_id == ALERTS_TOPIC  # and moves no alerts
            announce_cut(folder)
            await services.tick("test")
            alert = await until(lambda: replies(fake, "Fed cut"))
            assert len(alert) == 1 and thread_of(alert[0]) == ALERTS_TOPIC

    asyncio.run(scenario())


def test_general_topic_and_buttons_move_the_alerts(fake, tmp_path):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            await subscribe_in_the_alerts_topic(fake, services)
            fake.push_callback(FORUM, "toggle:breakout", user_id=ADMIN, chat_type="supergroup",
                               thread_id=BUTTONS_TOPIC)
            await until(lambda: services.store.chat_settings(FORUM).thread_id == BUTTONS_TOPIC)
            fake.push_callback(FORUM, "toggle:credit", user_id=MEMBER, chat_type="supergroup",
                               thread_id=QUESTIONS_TOPIC)  # not an admin: changes nothing, moves nothing
            await until(lambda: fake.calls_of("answerCallbackQuery")[1:])
            assert services.store.chat_settings(FORUM).thread_id == BUTTONS_TOPIC
            fake.push_message(FORUM, "/digest off", user_id=ADMIN, chat_type="supergroup")  # the General topic
            await until(lambda: replies(fake, "Digest off"))
            assert services.store.chat_settings(FORUM).thread_id is None
            announce_cut(folder)
            await services.tick("test")
            alert = await until(lambda: replies(fake, "Fed cut"))
            assert thread_of(alert[0]) is None

    asyncio.run(scenario())


def test_a_deleted_topic_still_gets_the_alert_to_the_chat(fake, tmp_path, caplog):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            await subscribe_in_the_alerts_topic(fake, services)
            fake.forums[FORUM].discard(ALERTS_TOPIC)  # an admin deleted the topic
            announce_cut(folder)
            await services.tick("test")
            alert = await until(lambda: replies(fake, "Fed cut"))
            assert len(alert) == 1 and thread_of(alert[0]) is None
            assert services.store.stats()["deliveries"].get("failed", 0) == 0

    asyncio.run(scenario())
    assert any("topic 7 is gone" in record.getMessage() for record in caplog.records)


def test_channels_take_a_forum_topic():
    assert parse_channels("rates:-1002000000001:42,breadth:-1002000000001:42") == (
        ChannelTarget("-1002000000001", ("breadth", "rates"), 42),)
    with pytest.raises(ValueError, match="two forum topics"):
        parse_channels("rates:-1002000000001:42,breadth:-1002000000001:43")
    with pytest.raises(ValueError, match="forum topic's id"):
        parse_channels("rates:@rotation_rates:general")


def test_a_configured_forum_topic_receives_its_posts(fake, tmp_path):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite",
                               config_overrides={"telegram_channels": f"rates:{FORUM}:{BUTTONS_TOPIC}"}) as services:
            assert services.store.chat(FORUM)["type"] == "supergroup"
            announce_cut(folder)
            await services.tick("test")
            post = await until(lambda: replies(fake, "Fed cut"))
            assert thread_of(post[0]) == BUTTONS_TOPIC

    asyncio.run(scenario())


def test_existing_chats_keep_their_settings_through_the_migration(tmp_path):
    path = tmp_path / "bot.sqlite"
    db = sqlite3.connect(path)
    for number, step in enumerate(MIGRATIONS[:9], start=1):  # a database of the version before topics
        db.executescript(f"BEGIN; {step.sqlite}; PRAGMA user_version = {number}; COMMIT;")
    db.execute("INSERT INTO chats (id, created_at, updated_at) VALUES (?, 'x', 'x')", [FORUM])
    db.execute("INSERT INTO chat_settings (chat_id, digest, quiet_start, quiet_end, updated_at) "
               "VALUES (?, 1, '22:00', '07:00', 'x')", [FORUM])
    db.commit()
    db.close()
    store = open_store(path)
    try:
        settings = store.chat_settings(FORUM)
        assert settings.digest and settings.quiet_start == "22:00" and settings.thread_id is None
        assert store.update_chat_settings(FORUM, thread_id=5).thread_id == 5
    finally:
        store.close()
