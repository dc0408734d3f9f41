"""Channels (TELEGRAM_CHANNELS) and paid broadcast (TELEGRAM_PAID_BROADCAST) against the fake Bot API."""

from __future__ import annotations

import asyncio

import pytest

from bot.delivery.channels import ChannelTarget, parse_channels
from bot.runtime.config import load_config
from signals.errors import ConfigError
from signals.topics import TOPIC_NAMES
from tests.bot_harness import ADMIN_CHAT, announce_cut, make_folder, running_bot, until, settled
from tests.fake_telegram import FakeTelegram

RATES_CHANNEL, BREAKOUT_CHANNEL, USER, GROUP = -1001000000001, -1001000000002, 501, -5001


def test_channels_parse_topics_and_chats():
    assert parse_channels("breakout:@rotation_breakouts, breadth:-1001234567890,rates:@rotation_breakouts") == (
        ChannelTarget("@rotation_breakouts", ("breakout", "rates")), ChannelTarget("-1001234567890", ("breadth",)))
    assert parse_channels("all:@everything") == (ChannelTarget("@everything", TOPIC_NAMES),)
    assert parse_channels("") == ()


@pytest.mark.parametrize("text, message", [("gold:@x_chan", "'gold:@x_chan' is not topic:chat"),
                                           ("rates@chan", "is not topic:chat"),
                                           ("rates:12345", "'12345' is not a channel"),
                                           ("rates:@a b", "is not a channel")])
def test_a_bad_channel_setting_is_one_clear_line(text, message):
    with pytest.raises(ConfigError, match="invalid setting TELEGRAM_CHANNELS") as caught:
        load_config(telegram_channels=text)
    assert message in str(caught.value)


@pytest.fixture
def fake():
    with FakeTelegram() as server:
        server.channels = {"@rotation_rates": RATES_CHANNEL, "@rotation_breakouts": BREAKOUT_CHANNEL}
        yield server


def test_each_new_signal_is_posted_once_to_its_topics_channels(fake, tmp_path):
    folder = make_folder(tmp_path / "data")
    channels = "rates:@rotation_rates,breakout:@rotation_breakouts,rates:@not_a_member_here"

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite",
                               config_overrides={"telegram_channels": channels}) as services:
            assert services.store.subscriptions(RATES_CHANNEL) == {"rates"}
            assert services.store.subscriptions(BREAKOUT_CHANNEL) == {"breakout"}
            assert services.store.chat(RATES_CHANNEL)["type"] == "channel"
            announce_cut(folder)
            await services.tick("test")
            await services.tick("test again")
            posts = await until(lambda: fake.sent(RATES_CHANNEL))
            await settled(fake, services)
            assert len(fake.sent(RATES_CHANNEL)) == 1 and "Fed cut" in posts[0]["text"]  # once, as a photo caption
            assert fake.sent(BREAKOUT_CHANNEL) == []
            fake.push_message(ADMIN_CHAT, "/stats")
            stats = await until(lambda: [m["text"] for m in fake.sent(ADMIN_CHAT) if "<b>Stats</b>" in m["text"]])
            assert "Channels: 2" in stats[0] and "channel @rotation_rates: sent 1, pending 0, failed 0" in stats[0]

    asyncio.run(scenario())


def test_paid_broadcast_flags_private_chats_only(fake, tmp_path):
    folder = make_folder(tmp_path / "data")

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite",
                               config_overrides={"telegram_paid_broadcast": True,
                                                 "telegram_channels": "rates:@rotation_rates"}) as services:
            assert services.deliverer.concurrency >= 100
            for chat in (USER, GROUP):
                services.store.upsert_chat(chat, "private" if chat > 0 else "supergroup")
                services.store.subscribe(chat, ["rates"])
            announce_cut(folder)
            await services.tick("test")
            await until(lambda: all(fake.sent(chat) for chat in (USER, GROUP, RATES_CHANNEL)))
            flags = {chat: str(fake.sent(chat)[0].get("allow_paid_broadcast")).lower() for chat in
                     (USER, GROUP, RATES_CHANNEL)}
            assert flags == {USER: "true", GROUP: "none", RATES_CHANNEL: "none"}

    asyncio.run(scenario())
