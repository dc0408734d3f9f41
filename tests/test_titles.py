"""What titles say agrees with their own numbers, on every title the real histories produce."""

from __future__ import annotations

import re

import pytest

from signals.metrics import compute_metrics
from signals.replay import replay

FIGURE = re.compile(r"([+\u2212-]?\d+(?:\.\d+)?)% vs its (?:200-day|200-session) average")
SAYS_ABOVE = ("but is still", "the trend stands")
SAYS_BELOW = ("fell back under",)
SAYS_DOUBT = ("the trend is in doubt", "that the lead may dip")
RATIO_COLUMNS = {"breakout:iwm_spy_ratio": ("breakout", "iwm_spy_pct_vs_200d_avg"),
                 "sectors:cyclicals_lead": ("sectors", "cyclicals_xlk_pct_vs_200d_avg"),
                 "sectors:regional_banks": ("sectors", "kre_spy_pct_vs_200d_avg")}


def _value(text: str) -> float:
    return float(text.replace("\u2212", "-"))


def _check_titles(data, start: str) -> int:
    result = replay(data, start)
    metrics = compute_metrics(data)
    checked = 0
    for signal in result.signals:
        figures = [_value(found) for found in FIGURE.findall(signal.title)]
        if not figures:
            continue
        checked += 1
        figure = figures[-1]
        if any(words in signal.title for words in SAYS_ABOVE):
            assert figure > 0, signal.title
        if any(words in signal.title for words in SAYS_BELOW):
            assert figure < 0, signal.title
        if any(words in signal.title for words in SAYS_DOUBT):
            assert figure <= 0, signal.title
        if signal.key in RATIO_COLUMNS:  # the unrounded metric, rounded once
            group, name = RATIO_COLUMNS[signal.key]
            exact = float(metrics.group(group)[name].loc[signal.date])
            assert figure == round(exact, 1) or (figure == 0 and round(exact, 1) == 0), (signal.title, exact)
    return checked


def test_every_ratio_title_agrees_with_its_figure_on_the_development_set(real_market):
    """2024-01-04 said IWM/SPY "is still -0.5% vs its 200-day average: the trend stands"; 2018-03-14 printed
    +4.0% for +4.06 (a ratio rounded to 4 decimals before the percentage was taken)."""
    assert _check_titles(real_market, "2018-01-01") >= 30


def test_every_ratio_title_agrees_with_its_figure_over_the_decades(decades):
    assert _check_titles(decades, "1988-09-12") >= 30


def _quick_ends(data, start: str, keys: tuple[str, ...]) -> tuple[int, int]:
    signals = replay(data, start).signals
    position = {day: number for number, day in enumerate(data.sessions.strftime("%Y-%m-%d"))}
    starts = quick = 0
    for key in keys:
        opened = None
        for signal in (s for s in signals if s.key == key):
            if signal.direction == "start":
                starts, opened = starts + 1, position[signal.date]
            elif opened is not None:
                quick += position[signal.date] - opened <= 5
                opened = None
    return starts, quick


RATE_KEYS = ("rates:2y_easing", "rates:2y_tightening", "rates:curve_inverted")


@pytest.mark.parametrize("history", ["development", "long"])
def test_rate_keys_hold_at_most_a_quarter_end_within_five_sessions(history, request):
    """Without a band on the 2-year's move, 8 of 22 rate starts on the development set (36%) ended within 5 sessions."""
    if history == "development":
        data, start = request.getfixturevalue("real_market"), "2018-01-01"
    else:
        from signals.sources.folder import load_folder

        data, start = load_folder(request.getfixturevalue("long_path")), "1988-09-12"
    starts, quick = _quick_ends(data, start, RATE_KEYS)
    assert starts >= 15
    assert quick <= starts / 4, (quick, starts)


def test_the_leg_counter_finds_every_named_leg_and_the_one_a_marginal_close_hid(decades):
    legs = [s.date for s in replay(decades, "1988-09-12").signals if s.key == "breakout:smallcap_leg"]
    for day in ("1996-04-09", "1997-08-26", "1999-05-21", "2003-04-21", "2020-10-06", "2022-08-08", "2023-12-14"):
        assert day in legs, day
    # the 1991 turn after the 1988-1990 large-cap phase: the close of 1991-02-21, 0.17% over the average and
    # inside half a daily move, restarted the count the day before the real crossing and hid it for good
    assert "1991-02-22" in legs
