"""The one session calendar: the NYSE's (exchange_calendars XNYS), for the data layer and the bot.

Feeds disagree about which dates exist (Yahoo's ^VIX and yield indices carry rows on NYSE
holidays), so the session index is never the union of the files' dates: it is this calendar,
within the span of the data.
"""

from __future__ import annotations

from typing import Any

import warnings
from functools import lru_cache

import numpy as np
import pandas as pd

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
    """
    calendar = exchange_calendar()
    start = max(pd.Timestamp(first), calendar.first_session)
    end = min(pd.Timestamp(last), calendar.last_session)
    if start > end:
        return pd.DatetimeIndex([], name="Date")
    sessions = calendar.sessions_in_range(start, end)
    return pd.DatetimeIndex(sessions.to_numpy(dtype="datetime64[ns]"), name="Date")
