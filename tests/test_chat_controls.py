"""Per-chat controls end to end against the fake Bot API: /settings with buttons, the daily digest,
quiet hours (alerts arrive with disable_notification), /timezone; groups need an administrator."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest

from bot.storage.preferences import ChatSettings, parse_quiet, valid_timezone
from tests.bot_harness import announce_cut, running_bot, until, settled
from tests.fake_telegram import FakeTelegram

USER, OTHER, GROUP, MEMBER = 301, 302, -3001, 303


def texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [m["text"] for m in fake.sent(chat_id)]


def test_quiet_hours_wrap_midnight_in_the_chats_time_zone():
    settings = ChatSettings(quiet_start="22:00", quiet_end="07:00", timezone="Europe/Berlin")
    assert settings.quiet_at(datetime(2024, 1, 5, 22, 30, tzinfo=timezone.utc))  # 23:30 in Berlin
    assert settings.quiet_at(datetime(2024, 1, 5, 5, 59, tzinfo=timezone.utc))  # 06:59
    assert not settings.quiet_at(datetime(2024, 1, 5, 6, 0, tzinfo=timezone.utc))  # 07:00: over
    assert not settings.quiet_at(datetime(2024, 1, 5, 20, 59, tzinfo=timezone.utc))  # 21:59
    assert not ChatSettings().quiet_at(datetime(2024, 1, 5, 3, 0, tzinfo=timezone.utc))  # none set


@pytest.mark.parametrize("text, expected", [("22:00-07:00", ("22:00", "07:00")), ("7:30 - 9:05", ("07:30", "09:05")),
                                            ("22:00\u201307:00", ("22:00", "07:00")), ("25:00-07:00", None),
                                            ("22:00", None), ("10:00-10:00", None), ("noon-dusk", None)])
def test_quiet_hours_parse_two_clock_times(text, expected):
    assert parse_quiet(text) == expected


def test_time_zones_are_iana_names():
    assert valid_timezone("europe/berlin") == "Europe/Berlin"
    assert valid_timezone("Mars/Olympus") is None and valid_timezone("../etc/passwd") is None


def test_settings_buttons_digest_and_quiet_hours(fake, folder, tmp_path):
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_message(USER, "/settings")
            shown = await until(lambda: [m for m in fake.sent(USER) if m["text"].startswith("<b>Settings</b>")])
            assert "Digest: off" in shown[0]["text"] and "set:digest-on" in str(shown[0]["reply_markup"])
            fake.push_callback(USER, "set:digest-on")
            await until(lambda: services.store.chat_settings(USER).digest)
            fake.push_callback(USER, "set:quiet-on")
            await until(lambda: services.store.chat_settings(USER).quiet_start == "22:00")
            edits = await until(lambda: [c for c in fake.calls_of("editMessageText") if "Quiet hours: 22:00" in
                                         c.params.get("text", "")])
            assert "Digest: on" in edits[-1].params["text"]
            answers = [c.params.get("text") for c in fake.calls_of("answerCallbackQuery")]
            assert "Digest on" in answers and any(a and a.startswith("Quiet 22:00") for a in answers)

    asyncio.run(scenario())


def test_a_stale_settings_button_does_what_its_label_said(fake, folder, tmp_path):
    """/settings drawn with the digest off, then /digest on: the old "Daily digest" button (it offered
    to turn the digest on) leaves it on and says so, instead of turning it off."""
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_message(USER, "/settings")
            shown = await until(lambda: [m for m in fake.sent(USER) if m["text"].startswith("<b>Settings</b>")])
            fake.push_message(USER, "/digest on")
            await until(lambda: services.store.chat_settings(USER).digest)
            markup = shown[0]["reply_markup"]
            markup = json.loads(markup) if isinstance(markup, str) else markup
            old_button = [b["callback_data"] for row in markup["inline_keyboard"] for b in row
                          if "Daily digest" in b["text"]][0]
            fake.push_callback(USER, old_button)
            answers = await until(lambda: [c.params.get("text") for c in fake.calls_of("answerCallbackQuery")])
            assert services.store.chat_settings(USER).digest
            assert "already on" in answers[0]

    asyncio.run(scenario())


def test_a_digest_chat_gets_one_message_per_session_and_no_stream(fake, folder, tmp_path):
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            for chat in (USER, OTHER):
                fake.push_message(chat, "/subscribe rates breadth")
            fake.push_message(USER, "/digest on")
            await until(lambda: any("Digest on" in t for t in texts(fake, USER)) and texts(fake, OTHER))
            announce_cut(folder)
            await services.tick("test")
            digest = await until(lambda: [t for t in texts(fake, USER) if "Daily digest" in t])
            assert "2024-02-28 close" in digest[0] and "Fed cut its target by 25 bp" in digest[0]
            assert "S&amp;P 500" in digest[0] and "2-year" in digest[0]  # the day's picture
            assert not [m for m in fake.calls_of("sendPhoto") if int(m.params["chat_id"]) == USER]  # no stream
            stream = await until(lambda: [c for c in fake.calls_of("sendPhoto") if int(c.params["chat_id"]) == OTHER])
            assert "Fed cut" in stream[0].params["caption"]  # the other chat's alert: a chart with its caption
            assert not [t for t in texts(fake, OTHER) if "Daily digest" in t]
            await services.tick("the same session again")
            await settled(fake, services)
            assert len([t for t in texts(fake, USER) if "Daily digest" in t]) == 1

    asyncio.run(scenario())


def test_quiet_hours_deliver_silently_and_nothing_is_held_back(fake, folder, tmp_path):
    now = datetime.now(timezone.utc).astimezone(datetime.now().astimezone().tzinfo)
    tokyo = datetime.now(timezone.utc) + timedelta(hours=9)  # Asia/Tokyo has no daylight saving time
    window = f"{(tokyo - timedelta(hours=1)):%H:%M}-{(tokyo + timedelta(hours=1)):%H:%M}"
    assert now is not None

    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            for chat in (USER, OTHER):
                fake.push_message(chat, "/subscribe rates")
            fake.push_message(USER, "/timezone asia/tokyo")
            await until(lambda: any("Time zone: Asia/Tokyo" in t for t in texts(fake, USER)))
            fake.push_message(USER, f"/quiet {window}")
            await until(lambda: any("Quiet hours" in t and "Asia/Tokyo" in t for t in texts(fake, USER)))
            announce_cut(folder)
            await services.tick("test")
            photos = await until(lambda: [c for c in fake.calls_of("sendPhoto")
                                          if int(c.params["chat_id"]) in (USER, OTHER)] if len(
                [c for c in fake.calls_of("sendPhoto") if int(c.params["chat_id"]) in (USER, OTHER)]) == 2 else [])
            silent = {int(c.params["chat_id"]): str(c.params.get("disable_notification")).lower() for c in photos}
            assert silent == {USER: "true", OTHER: "false"}

    asyncio.run(scenario())


def test_bad_control_arguments_get_a_clear_answer(fake, folder, tmp_path):
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite"):
            for text in ("/digest maybe", "/quiet 25:00-07:00", "/timezone Mars/Olympus", "/quiet"):
                fake.push_message(USER, text)
            await until(lambda: len(texts(fake, USER)) >= 4)
            answers = texts(fake, USER)
            assert any("Use /digest on or /digest off (got \u201cmaybe\u201d)" in t for t in answers)
            assert any("Use /quiet HH:MM-HH:MM" in t and "25:00-07:00" in t for t in answers)
            assert any("IANA time zone name" in t and "Mars/Olympus" in t for t in answers)

    asyncio.run(scenario())


def test_only_group_administrators_change_a_groups_settings(fake, folder, tmp_path):
    async def scenario():
        async with running_bot(fake, folder, tmp_path / "bot.sqlite") as services:
            fake.push_message(GROUP, "/digest on", user_id=MEMBER, chat_type="supergroup")
            await until(lambda: texts(fake, GROUP))
            assert "Only this group's administrators" in texts(fake, GROUP)[0]
            assert not services.store.chat_settings(GROUP).digest
            fake.admins[GROUP] = {MEMBER}
            fake.push_message(GROUP, "/digest on", user_id=MEMBER, chat_type="supergroup")
            await until(lambda: services.store.chat_settings(GROUP).digest)

    asyncio.run(scenario())
