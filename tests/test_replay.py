"""Replay: the vectorized pass equals the live path run day by day; forward returns and stats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from signals.errors import DataError
from signals.replay import forward_returns, replay, replay_day_by_day, summarize
from signals.signal import Signal
from signals.topics import TOPIC_NAMES
from tests.builders import market, sessions
from tests.test_no_lookahead import SYNTHETIC


def test_vectorized_equals_day_by_day_on_synthetic_history():
    fast = replay(SYNTHETIC, start="2020-06-01")
    slow = replay_day_by_day(SYNTHETIC, start="2020-06-01")
    assert fast.signals, "the synthetic history should produce signals"
    assert fast.signals == slow.signals
    assert [s.title for s in fast.signals] == [s.title for s in slow.signals]
    assert [s.detail for s in fast.signals] == [s.detail for s in slow.signals]
    assert fast.stats == slow.stats


@pytest.mark.market_data
def test_vectorized_equals_day_by_day_over_a_real_year(real_market):
    fast = replay(real_market, start="2023-01-01", end="2023-12-31")
    slow = replay_day_by_day(real_market, start="2023-01-01", end="2023-12-31")
    assert fast.sessions == slow.sessions == 250
    assert len(fast.signals) > 10
    assert [s.to_dict() for s in fast.signals] == [s.to_dict() for s in slow.signals]


def test_end_bounds_what_replay_sees():
    full = replay(SYNTHETIC, start="2020-06-01")
    early = replay(SYNTHETIC, start="2020-06-01", end="2020-12-31")
    assert early.end == "2020-12-31"
    assert early.signals == [s for s in full.signals if s.date <= "2020-12-31"]
    # forward returns use only bars up to --end: none reach past it
    last_twenty = SYNTHETIC.as_of("2020-12-31").sessions[-20].strftime("%Y-%m-%d")
    for signal in early.signals:
        forward = early.forward.get(signal.identity, {})
        if signal.direction == "start" and signal.date >= last_twenty:
            assert forward["iwm_minus_spy_20d"] is None


def test_forward_returns_are_iwm_minus_spy_over_20_and_60_sessions():
    index = sessions(100)
    iwm = np.linspace(100, 199, 100)
    spy = np.full(100, 50.0)
    spy[30] = 55.0
    data = market(pd.DataFrame({"IWM": iwm, "SPY": spy, "A": 1.0}, index=index), members=["A"])
    signal = Signal("breakout", "breakout:x", index[10].strftime("%Y-%m-%d"), "start", "t")
    late = Signal("breakout", "breakout:x", index[70].strftime("%Y-%m-%d"), "start", "t")
    ended = Signal("breakout", "breakout:x", index[12].strftime("%Y-%m-%d"), "end", "t")
    forward = forward_returns(data, [signal, late, ended])
    assert forward[signal.identity]["iwm_minus_spy_20d"] == pytest.approx((iwm[30] / iwm[10] - 1 - 0.1) * 100, abs=1e-4)
    assert forward[signal.identity]["iwm_minus_spy_60d"] == pytest.approx((iwm[70] / iwm[10] - 1) * 100, abs=1e-4)
    assert forward[late.identity]["iwm_minus_spy_20d"] == pytest.approx((iwm[90] / iwm[70] - 1) * 100, abs=1e-4)
    assert forward[late.identity]["iwm_minus_spy_60d"] is None  # the data does not reach that far
    assert ended.identity not in forward
    stats = summarize(data, 0, [signal, late, ended])["by_key"]["breakout:x"]
    assert stats["starts"] == 2 and stats["ends"] == 1
    assert stats["n_20d"] == 2 and stats["n_60d"] == 1
    expected_mean = ((iwm[30] / iwm[10] - 1 - 0.1) * 100 + (iwm[90] / iwm[70] - 1) * 100) / 2
    assert stats["mean_20d"] == pytest.approx(expected_mean, abs=1e-4)
    assert stats["hit_rate_20d"] == 1.0


def test_signals_are_sorted_by_date_and_serialise():
    result = replay(SYNTHETIC, start="2020-06-01").to_dict()
    dates = [s["date"] for s in result["signals"]]
    assert dates == sorted(dates)
    for item in result["signals"]:
        assert set(item) >= {"type", "key", "date", "direction", "title", "detail"}
        assert item["type"] in TOPIC_NAMES
        assert item["direction"] in ("start", "end")


def test_start_outside_the_data_is_a_clear_error():
    with pytest.raises(DataError, match="no sessions between"):
        replay(SYNTHETIC, start="2030-01-01")
    with pytest.raises(DataError, match="not a date"):
        replay(SYNTHETIC, start="someday")
