"""A chat's own controls: digest instead of a stream, quiet hours in its time zone.

Quiet hours never drop or delay anything: inside them alerts arrive silently
(`disable_notification`), so a phone does not buzz at 3 a.m. and the alert is there at breakfast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT_TIMEZONE = "America/New_York"  # the market's clock until a chat sets its own
_CLOCK = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")


@dataclass(frozen=True)
class ChatSettings:
    digest: bool = False
    quiet_start: str | None = None  # "HH:MM", in `timezone`
    quiet_end: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    thread_id: int | None = None  # a forum group's topic its alerts go to; None: the chat (or its General topic)

    def quiet_at(self, moment: datetime) -> bool:
        """Whether `moment` (aware) falls in the quiet hours; a window may wrap midnight (22:00-07:00)."""
        if not self.quiet_start or not self.quiet_end:
            return False
        local = moment.astimezone(zone(self.timezone)).time()
        start, end = clock(self.quiet_start), clock(self.quiet_end)
        if start is None or end is None or start == end:
            return False
        return start <= local < end if start < end else local >= start or local < end

    def describe_quiet(self) -> str:
        if not self.quiet_start or not self.quiet_end:
            return "off"
        return f"{self.quiet_start}\u2013{self.quiet_end} ({self.timezone}), alerts arrive silently"


def clock(text: str) -> time | None:
    """"7:30" or "07:30" -> 07:30; anything else None."""
    match = _CLOCK.match(text.strip())
    return time(int(match.group(1)), int(match.group(2))) if match else None


def parse_quiet(text: str) -> tuple[str, str] | None:
    """"22:00-07:00" -> ("22:00", "07:00"); None when it is not two clock times."""
    parts = re.split(r"\s*[-\u2013\u2014]\s*", text.strip())
    if len(parts) != 2:
        return None
    start, end = clock(parts[0]), clock(parts[1])
    if start is None or end is None or start == end:
        return None
    return start.strftime("%H:%M"), end.strftime("%H:%M")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def valid_timezone(name: str) -> str | None:
    """The IANA name as the database spells it (case-insensitive match), or None."""
    if not name or len(name) > 64 or ".." in name:
        return None
    return _zones_by_lower().get(name.strip().lower())


@lru_cache(maxsize=1)
def _zones_by_lower() -> dict[str, str]:
    """The tz database's names, read once (they do not change while the bot runs)."""
    return {zone_name.lower(): zone_name for zone_name in available_timezones()}
