"""The one session calendar: the NYSE's (exchange_calendars XNYS), for the data layer and the bot.

Feeds disagree about which dates exist (Yahoo's ^VIX and yield indices carry rows on NYSE
holidays), so the session index is never the union of the files' dates: it is this calendar,
within the span of the data.
"""

from __future__ import annotations

from typing import Any

import logging
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from pandas.tseries.offsets import CustomBusinessDay

log = logging.getLogger(__name__)

CALENDAR = "XNYS"
FIRST_YEAR = 1985  # the earliest history the engine reads: index history from 1987 (^RUT starts 1987-09)


@lru_cache(maxsize=2)
def exchange_calendar(name: str = CALENDAR) -> Any:  # exchange_calendars' ExchangeCalendar (the library is untyped)
    """Built once per process: constructing XNYS takes about 0.15 s."""
    import exchange_calendars

    with warnings.catch_warnings():  # exchange_calendars 4.13 trips a pandas 3.1 deprecation inside
        warnings.simplefilter("ignore", DeprecationWarning)
        return exchange_calendars.get_calendar(name, start=f"{FIRST_YEAR}-01-01")


def sessions_between(first: np.datetime64 | pd.Timestamp, last: np.datetime64 | pd.Timestamp) -> pd.DatetimeIndex:
    """NYSE sessions from `first` to `last`, both included, as a plain (tz-naive, unnamed-freq) index.

    Dates outside the calendar's range (before 1985 or more than a year ahead) are not sessions
    the engine can vouch for; the range is clipped to what the calendar knows.

    The sessions come from XNYS's own holiday rules, ad hoc closings and weekmask, applied to this
    span alone: building the calendar (every open, close and early close since 1985, which only the
    schedule reads) is 0.13 s of Python beside 0.03 s for a span's sessions, a load's first step.
    """
    rules = session_rules()
    if rules is None:
        return _sessions_of_built_calendar(first, last)
    start = max(pd.Timestamp(first), pd.Timestamp(f"{FIRST_YEAR}-01-01"))
    end = min(pd.Timestamp(last), rules.last_day)
    if start > end:
        return pd.DatetimeIndex([], name="Date")
    margin = pd.DateOffset(years=1)  # a holiday observed across a span's edge is still found
    closed = rules.holidays.holidays(start - margin, end + margin).append(rules.adhoc)
    days = pd.date_range(start, end, freq=CustomBusinessDay(holidays=closed, weekmask=rules.weekmask))
    return pd.DatetimeIndex(days.to_numpy(dtype="datetime64[ns]"), name="Date")


@dataclass(frozen=True)
class SessionRules:
    """What makes a day an NYSE session, as exchange_calendars' XNYS defines it."""

    holidays: Any  # pandas' HolidayCalendar of the regular holidays
    adhoc: pd.DatetimeIndex  # closings outside the rules (storms, national days of mourning)
    weekmask: str
    last_day: pd.Timestamp  # the calendar's default end: a year ahead


@lru_cache(maxsize=1)
def session_rules() -> SessionRules | None:
    """XNYS's rules, read from the calendar class without building a calendar; None when this version of
    exchange_calendars keeps them where they cannot be read so (then the calendar is built: same sessions)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from exchange_calendars.exchange_calendar_xnys import XNYSExchangeCalendar
    try:
        unbuilt = XNYSExchangeCalendar.__new__(XNYSExchangeCalendar)  # its rule properties read no built state
        return SessionRules(unbuilt.regular_holidays, pd.DatetimeIndex(unbuilt.adhoc_holidays),
                            str(unbuilt.weekmask), pd.Timestamp(XNYSExchangeCalendar.default_end()))
    except Exception as exc:  # noqa: BLE001 - any change in the library's internals: build the calendar instead
        log.debug("XNYS's rules could not be read without building the calendar (%s)", exc)
        return None


def _sessions_of_built_calendar(first: np.datetime64 | pd.Timestamp,
                                last: np.datetime64 | pd.Timestamp) -> pd.DatetimeIndex:
    calendar = exchange_calendar()
    start = max(pd.Timestamp(first), calendar.first_session)
    end = min(pd.Timestamp(last), calendar.last_session)
    if start > end:
        return pd.DatetimeIndex([], name="Date")
    sessions = calendar.sessions_in_range(start, end)
    return pd.DatetimeIndex(sessions.to_numpy(dtype="datetime64[ns]"), name="Date")
