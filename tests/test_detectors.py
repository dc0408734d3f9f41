"""Each detector's rule, its defaults, its settings, and the numbers carried in its title and detail."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from signals.detectors import detect
from signals.metrics import Metrics
from signals.settings import load_detector_settings
from tests.builders import blank_metrics

SESSIONS = 60
DEFAULTS = load_detector_settings()


@pytest.fixture
def blank() -> Metrics:
    return blank_metrics(SESSIONS)


def keyed(signals, key):
    return [(s.date, s.direction) for s in signals if s.key == key]


def test_narrow_leadership_fires_with_its_numbers(blank):
    blank.group("breadth")["index_pct_from_52w_high"] = -0.6
    blank.group("breadth")["median_pct_from_52w_high"] = [-5.0] * 30 + [-11.3] * 20 + [-5.0] * 10
    signals = detect(blank, DEFAULTS)
    found = [s for s in signals if s.key == "breadth:narrow_leadership"]
    assert [(s.direction) for s in found] == ["start", "end"]
    start = found[0]
    assert start.date == blank.sessions[30].strftime("%Y-%m-%d")
    assert start.type == "breadth"
    assert ("the median S&P 500 member is 11.3% below its 52-week high while the index is 0.6% below its own"
            in start.title)
    assert start.detail["median_pct_from_52w_high"] == -11.3
    assert found[1].date == blank.sessions[52].strftime("%Y-%m-%d")  # third false session


def test_narrow_leadership_needs_the_index_near_its_high(blank):
    blank.group("breadth")["index_pct_from_52w_high"] = -3.5
    blank.group("breadth")["median_pct_from_52w_high"] = -15.0
    assert keyed(detect(blank, DEFAULTS), "breadth:narrow_leadership") == []


def test_participation_drop_needs_a_rising_index(blank):
    blank.group("breadth")["pct_above_200dma"] = np.r_[np.full(30, 70.0), np.full(30, 55.0)]
    blank.group("breadth")["index_close"] = np.linspace(100, 110, SESSIONS)
    signals = detect(blank, DEFAULTS)
    (start,) = [s for s in signals if s.key == "breadth:participation_drop" and s.direction == "start"]
    assert start.date == blank.sessions[30].strftime("%Y-%m-%d")
    assert "−15.0 points in 20 sessions (now 55.0%)" in start.title
    blank.group("breadth")["index_close"] = np.linspace(110, 100, SESSIONS)  # falling index: an ordinary sell-off
    assert keyed(detect(blank, DEFAULTS), "breadth:participation_drop") == []


def test_iwm_breakout_above_its_prior_year_high(blank, tmp_path):
    iwm = np.r_[np.full(40, 100.0), [99.0] * 5, 101.5 + 0.5 * np.arange(15)]  # new highs daily
    blank.group("breakout")["iwm_close"] = iwm
    blank.group("breakout")["iwm_adx_14"] = 25.0
    blank.group("breakout")["iwm_volume_ratio_50d"] = 0.9
    config = tmp_path / "short.toml"
    config.write_text("[breakout]\niwm_high_sessions = 30\n")
    settings = load_detector_settings(config)
    found = [s for s in detect(blank, settings) if s.key == "breakout:iwm_52w_high"]
    assert [(s.date, s.direction) for s in found] == [(blank.sessions[45].strftime("%Y-%m-%d"), "start")]
    assert "closed at 101.50, above its prior 30-session closing high of 100.00 (+1.5%, more than 0.5 of its " \
           "average daily move" in found[0].title
    assert found[0].detail["adx_confirmed"] is True and found[0].detail["volume_confirmed"] is False

    config.write_text("[breakout]\niwm_high_sessions = 30\nrequire_volume = true\n")
    assert keyed(detect(blank, load_detector_settings(config)), "breakout:iwm_52w_high") == []


def test_ratio_breakout_requires_being_above_the_200_day_average(blank, tmp_path):
    ratio = np.r_[np.full(40, 0.40), 0.41 + 0.001 * np.arange(20)]
    blank.group("breakout")["iwm_spy_ratio"] = ratio
    blank.group("breakout")["iwm_spy_200d_avg"] = 0.405
    blank.group("breakout")["iwm_spy_pct_vs_200d_avg"] = (ratio / 0.405 - 1) * 100
    config = tmp_path / "short.toml"
    config.write_text("[breakout]\nratio_high_sessions = 20\n")
    found = keyed(detect(blank, load_detector_settings(config)), "breakout:iwm_spy_ratio")
    assert found == [(blank.sessions[40].strftime("%Y-%m-%d"), "start")]
    blank.group("breakout")["iwm_spy_200d_avg"] = 0.5
    assert keyed(detect(blank, load_detector_settings(config)), "breakout:iwm_spy_ratio") == []


def test_two_year_yield_moves_of_forty_basis_points(blank):
    move = np.r_[np.zeros(20), np.full(10, -45.0), np.zeros(10), np.full(20, 41.0)]
    blank.group("rates")["yield_2y_change_20d_bp"] = move
    blank.group("rates")["yield_2y"] = 4.0
    signals = detect(blank, DEFAULTS)
    assert keyed(signals, "rates:2y_easing") == [(blank.sessions[20].strftime("%Y-%m-%d"), "start"),
                                                 (blank.sessions[32].strftime("%Y-%m-%d"), "end")]
    assert keyed(signals, "rates:2y_tightening") == [(blank.sessions[40].strftime("%Y-%m-%d"), "start")]
    easing = next(s for s in signals if s.key == "rates:2y_easing")
    assert "2-year yield −45 bp in 20 sessions (now 4.00%)" in easing.title


def test_fed_moves_are_events_each_time(blank):
    change = np.zeros(SESSIONS)
    change[[10, 12, 14]] = -50.0  # cuts in quick succession: each is news, exempt from the start limit
    change[50] = 25.0
    blank.group("rates")["fed_target_change_bp"] = change
    blank.group("rates")["fed_target_upper"] = 1.25
    blank.group("rates")["fed_target_lower"] = 1.0
    signals = detect(blank, DEFAULTS)
    cuts = [d for d, _ in keyed(signals, "rates:fed_cut")]
    assert cuts == [blank.sessions[i].strftime("%Y-%m-%d") for i in (10, 12, 14)]
    assert len(keyed(signals, "rates:fed_hike")) == 1
    cut = next(s for s in signals if s.key == "rates:fed_cut")
    assert cut.title.startswith("Fed cut its target by 50 bp to 1.00\u20131.25%: cheaper floating-rate debt")


def test_curve_inversion_and_its_end(blank):
    blank.group("rates")["spread_10y_3m_bp"] = np.r_[np.full(10, 20.0), np.full(30, -50.0), np.full(20, 15.0)]
    signals = detect(blank, DEFAULTS)
    assert keyed(signals, "rates:curve_inverted") == [(blank.sessions[10].strftime("%Y-%m-%d"), "start"),
                                                      (blank.sessions[42].strftime("%Y-%m-%d"), "end")]
    end = [s for s in signals if s.key == "rates:curve_inverted"][-1]
    assert end.title == "Yield curve positive again: 10-year minus 3-month at +15 bp (above +10 bp)"


def test_keys_are_stable_and_identity_is_key_date_direction(blank):
    blank.group("rates")["spread_10y_3m_bp"] = np.r_[np.full(10, 20.0), np.full(50, -50.0)]
    first, second = detect(blank, DEFAULTS), detect(replace(blank), DEFAULTS)
    assert [s.identity for s in first] == [s.identity for s in second]
    assert {s.key for s in first} == {"rates:curve_inverted"}


@pytest.mark.market_data
def test_real_episodes_are_seen(real_market):
    """The episodes the data README names: the narrow May 2023 rally, the Nov-Dec 2023 small-cap run."""
    from signals.replay import replay

    result = replay(real_market, start="2020-01-01")
    starts = {(s.key, s.date) for s in result.signals if s.direction == "start"}
    assert ("breadth:narrow_leadership", "2023-05-18") in starts
    assert ("rates:2y_easing", "2023-11-30") in starts
    # 12-14 closed 0.4% over the high, inside half IWM's average daily move; 12-19 cleared it
    assert ("breakout:iwm_52w_high", "2023-12-19") in starts
    # the emergency cut to 0-0.25%, announced Sunday 2020-03-15, effective (FRED's date) and alerted Monday
    assert ("rates:fed_cut", "2020-03-16") in starts
