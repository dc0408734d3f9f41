"""The NYSE schedule: close + delay, early closes, holidays and weekends skipped."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.runtime.schedule import SessionCalendar

CALENDAR = SessionCalendar(delay_minutes=20)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def test_regular_session_is_due_twenty_minutes_after_the_close():
    due = CALENDAR.next_due(utc(2024, 3, 8, 12))
    assert due.session == "2024-03-08" and due.at == utc(2024, 3, 8, 21, 20)  # 16:00 EST + 20 min


def test_thanksgiving_is_skipped_and_the_early_close_respected():
    due = CALENDAR.next_due(utc(2024, 11, 27, 22))
    assert due.session == "2024-11-29" and due.at == utc(2024, 11, 29, 18, 20)  # 13:00 EST close


def test_weekend_goes_to_monday_and_daylight_saving_is_handled():
    due = CALENDAR.next_due(utc(2024, 7, 6, 12))
    assert due.session == "2024-07-08" and due.at == utc(2024, 7, 8, 20, 20)  # 16:00 EDT


def test_last_due_is_the_latest_closed_session():
    assert CALENDAR.last_due(utc(2024, 3, 9, 12)).session == "2024-03-08"
    assert CALENDAR.last_due(utc(2024, 3, 8, 21, 19)).session == "2024-03-07"
    assert CALENDAR.is_session("2024-03-08") and not CALENDAR.is_session("2024-03-09")
