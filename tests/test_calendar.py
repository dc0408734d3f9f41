"""The data layer's sessions come from XNYS's rules applied to a span, not from a built calendar: they
must be the built calendar's sessions, for any span, at its edges and beyond its range."""

from __future__ import annotations

import numpy as np
import pandas as pd

from signals import calendar as calendar_module
from signals.calendar import FIRST_YEAR, exchange_calendar, session_rules, sessions_between


def built(first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    return calendar_module._sessions_of_built_calendar(first, last)


def test_a_span_s_sessions_are_the_built_calendar_s():
    assert session_rules() is not None  # this exchange_calendars lets its rules be read unbuilt
    whole = exchange_calendar()
    first, last = whole.first_session, whole.last_session
    assert sessions_between(first, last).equals(built(first, last))
    rng = np.random.default_rng(7)
    days = pd.date_range(pd.Timestamp(f"{FIRST_YEAR - 2}-06-01"), last + pd.Timedelta(days=400))
    for _ in range(300):
        start, end = sorted(rng.choice(len(days), 2))
        short = int(rng.integers(0, 12))  # short spans too: a holiday at a span's edge
        end = min(end, start + short) if rng.random() < 0.5 else end
        assert sessions_between(days[start], days[end]).equals(built(days[start], days[end])), (days[start], days[end])
    for holiday in ("2025-01-09", "2012-10-29", "2001-09-11", "2024-12-25", "2018-12-05"):  # ad hoc and regular
        assert pd.Timestamp(holiday) not in sessions_between(pd.Timestamp(holiday), pd.Timestamp(holiday))


def test_rules_that_cannot_be_read_unbuilt_fall_back_to_the_built_calendar(monkeypatch):
    monkeypatch.setattr(calendar_module, "session_rules", lambda: None)
    first, last = pd.Timestamp("2019-12-20"), pd.Timestamp("2020-01-10")
    assert sessions_between(first, last).equals(built(first, last))
    assert sessions_between(pd.Timestamp("1970-01-01"), pd.Timestamp("1980-01-01")).empty
