"""Message texts: HTML escaping, splitting at Telegram's 4,096 characters, compact metric pictures."""

from __future__ import annotations

from bot.presentation.topics.breadth import answer as breadth_answer
from bot.presentation.topics.rates import answer as rates_answer
from bot.presentation.messages import signal_message, split_message
from signals.settings import load_detector_settings
from signals.signal import Signal


def test_split_keeps_lines_whole():
    text = "\n".join(f"line {i:04d} " + "y" * 50 for i in range(200))
    parts = split_message(text, limit=1000)
    assert all(len(p) <= 1000 for p in parts)
    assert "\n".join(parts) == text
    assert all(p.startswith("line ") for p in parts)


def test_short_text_is_one_part():
    assert split_message("hello") == ["hello"]


def test_signal_text_is_escaped():
    message = signal_message(Signal("breadth", "breadth:x", "2024-01-05", "start", "a <b> & c", {}))
    assert "a &lt;b&gt; &amp; c" in message and message.startswith("\U0001F514 <b>Breadth</b>")


def test_metric_pictures_show_missing_values_as_na():
    snapshot = {"as_of": "2024-03-08", "breadth": {"pct_above_200dma": 83.09, "median_pct_from_52w_high": -3.57,
                                                   "index_pct_from_52w_high": None, "members": 486},
                "rates": {"yield_2y": 4.5, "fed_target_lower": 5.25, "fed_target_upper": 5.5}}
    settings = load_detector_settings()
    breadth = breadth_answer(snapshot, settings, "sp500")
    assert "83.1%" in breadth and "\u22123.6%" in breadth and "n/a" in breadth and "486" in breadth
    assert "5.25\u20135.50%" in rates_answer(snapshot, settings)


def test_history_is_one_line_per_signal_with_its_state():
    from bot.presentation.messages import history_message

    signals = [Signal("breadth", "breadth:smallcap_narrow", "2024-01-02", "start",
                      "Small caps left behind: the median Russell 2000 member is 15.0% below. Thousands", {}),
               Signal("rates", "rates:2y_easing", "2023-12-20", "end", "Rates easing over: 2-year yield -14 bp", {}),
               Signal("rates", "rates:2y_easing", "2023-12-01", "start", "Rates easing: 2-year yield -45 bp", {})]
    text = history_message(signals, {"breadth:smallcap_narrow": "Since 2018: 18 starts; ..."},
                           {"breadth:smallcap_narrow": "2024-01-02"})
    lines = text.split("\n")
    assert lines[1] == "2024-01-02 \U0001F514 Small caps left behind \u00b7 active"
    assert lines[2] == "2023-12-20 \u2705 Rates easing over \u00b7 ended"
    assert lines[3] == "2023-12-01 \U0001F514 Rates easing"
    assert "\u2022 Small caps left behind: Since 2018: 18 starts" in text and "breadth:" not in text  # no internal keys


def test_a_signed_reading_that_rounds_to_zero_has_no_sign():
    from bot.presentation.messages import _number
    from signals.detectors.base import signed

    assert signed(-0.04) == "0.0" and signed(0.04) == "0.0" and signed(-0.06) == "\u22120.1"
    assert _number(-0.04, "{:+.1f}%") == "0.0%" and _number(-1.04, "{:+.1f}%") == "\u22121.0%"
    assert _number(10.2, "{:+.1f}%") == "+10.2%"
    # only a zero loses its sign: a reading between -1 and 0 keeps it (S&P 500 on 2024-03-08: -0.65%)
    assert _number(-0.65, "{:+.1f}%") == "\u22120.7%" and _number(0.65, "{:+.1f}%") == "+0.7%"
    assert _number(-0.0628, "{:+.1f}%") == "\u22120.1%" and _number(-0.04, "{:+.2f}") == "\u22120.04"


def test_a_missing_file_leads_the_data_warnings():
    """/status shows the first eight: a missing file (no rates at all) must not hide under 'and 1 more'."""
    from bot.presentation.render import warning_lines
    from signals.market_data import DataIssue

    issues = [DataIssue(f"prices/T{i}.csv", None, f"odd thing {i}") for i in range(3)]
    issues += [DataIssue(f"prices/Z{i}.csv", 4, "zero volume") for i in range(9)]
    issues.append(DataIssue("rates.csv", None, "not found: no 2-year yield"))
    lines = warning_lines(issues)
    assert lines[0] == "rates.csv: not found: no 2-year yield" and len(lines) == 5
