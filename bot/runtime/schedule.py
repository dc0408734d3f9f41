"""When to evaluate: after each NYSE session closes, plus a delay for the data to settle.

exchange_calendars' XNYS knows the holidays and the 13:00 early closes, so the bot neither runs on
Thanksgiving nor waits until 16:00 on the day after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from zoneinfo import ZoneInfo

import pandas as pd

from signals.calendar import exchange_calendar

NEW_YORK = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class Due:
    session: str  # YYYY-MM-DD
    at: datetime  # UTC: the session's close plus the delay


class SessionCalendar:
    def __init__(self, delay_minutes: float = 20.0) -> None:
        self._calendar = exchange_calendar()  # XNYS, whose rules give the data layer its sessions: one calendar
        closes = self._calendar.schedule["close"]
        self._sessions = closes.index
        self._due = pd.DatetimeIndex(closes + pd.Timedelta(minutes=delay_minutes)).tz_convert("UTC")
        self.delay = timedelta(minutes=delay_minutes)

    def last_due(self, now: datetime) -> Due | None:
        """The latest session whose close + delay is at or before `now`."""
        stamp = pd.Timestamp(_utc(now))
        position = int(self._due.searchsorted(stamp, side="right")) - 1
        return self._at(position) if position >= 0 else None

    def next_due(self, now: datetime) -> Due | None:
        """The first session whose close + delay is after `now`."""
        stamp = pd.Timestamp(_utc(now))
        position = int(self._due.searchsorted(stamp, side="right"))
        return self._at(position) if position < len(self._due) else None

    def is_session(self, day: str) -> bool:
        return pd.Timestamp(day) in self._sessions

    def _at(self, position: int) -> Due:
        return Due(self._sessions[position].strftime("%Y-%m-%d"), self._due[position].to_pydatetime())


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def human_time(moment: datetime) -> str:
    """A time as the market's people read it: New York time, weekday first."""
    return moment.astimezone(NEW_YORK).strftime("%a %Y-%m-%d %H:%M ET")
