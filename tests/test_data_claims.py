"""What `data` says about the data is true: members with a price by then, the price basis, gaps, dates."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from bot.runtime.cli import main
from signals.sources.folder import load_folder
from tests.builders import csv_text, nyse_sessions, random_walk, write_folder


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_with_prices_counts_members_priced_by_the_as_of_session(real_market):
    """On 2020-03-23 the full folder said 486 members had prices; ten listed later (their bars all come after)."""
    day = "2020-03-23"
    first_close = real_market.close[list(real_market.members)].apply(pd.Series.first_valid_index)
    expected = int((first_close <= pd.Timestamp(day)).sum())
    assert real_market.as_of(day).coverage()["with_prices"] == expected < len(real_market.members)
    assert real_market.coverage()["with_prices"] == len(real_market.members)


def test_price_basis_says_what_is_known(tmp_path):
    days = nyse_sessions(30, start="2024-01-02")
    close = random_walk(days, ["SPY", "IWM"], seed=2)
    plain = {t: csv_text(close[[t]].rename(columns={t: "Close"})) for t in close}
    assert load_folder(write_folder(tmp_path / "plain", plain)).price_basis == "close (adjustment not stated)"
    adjusted = {t: csv_text(pd.DataFrame({"Close": close[t], "Adj Close": close[t] * 0.98})) for t in close}
    assert load_folder(write_folder(tmp_path / "adjusted", adjusted)).price_basis == "adjusted"


@pytest.fixture
def two_spans(tmp_path):
    """Two spans of index history with years between them (a history joined from two sources)."""
    early = nyse_sessions(300, start="2005-01-03")
    late = nyse_sessions(300, start="2017-01-03")
    days = early.append(late)
    close = random_walk(days, ["^RUT", "^GSPC"], seed=6)
    prices = {t: csv_text(close[[t]].rename(columns={t: "Close"})) for t in close}
    return write_folder(tmp_path / "joined", prices, constituents=None), early[-1], late[0]


def test_a_gap_in_the_data_is_a_gap_not_carried_closes(two_spans):
    """Closes were carried 5 sessions past 2006-12-29 into the 2007-2016 gap of the joined history."""
    folder, last_early, first_late = two_spans
    data = load_folder(folder)
    after = data.close.loc[last_early:first_late].iloc[1:-1]
    assert after["^RUT"].notna().sum() <= 1  # one session a feed may skip; never more into a gap of years
    assert data.gap_around(after.index[10]) == (after.index[0], after.index[-1])
    assert data.gap_around(last_early) is None


def test_metrics_inside_a_gap_is_one_line_not_a_traceback(capsys, two_spans):
    folder, last_early, _ = two_spans
    inside = (last_early + pd.Timedelta(days=400)).strftime("%Y-%m-%d")
    code, out, err = run(capsys, "metrics", "--data", folder, "--json", "--as-of", inside)
    assert code == 1 and out == ""
    assert err.strip().splitlines()[-1].startswith("rotation-bot: error: ") and "inside a gap in the data" in err
    assert "Traceback" not in err
    code, out, _ = run(capsys, "metrics", "--data", folder, "--json", "--as-of", last_early.strftime("%Y-%m-%d"))
    assert code == 0 and json.loads(out)["as_of"] == last_early.strftime("%Y-%m-%d")


def test_a_file_whose_only_row_is_a_holiday_is_a_warning(capsys, tmp_path):
    days = nyse_sessions(30, start="2024-01-02")
    close = random_walk(days, ["SPY", "IWM"], seed=2)
    prices = {t: csv_text(close[[t]].rename(columns={t: "Close"})) for t in close}
    prices["ZZZ"] = "Date,Close\n2024-01-01,12.5\n"  # New Year's Day
    code, _, err = run(capsys, "metrics", "--data", write_folder(tmp_path / "one", prices, constituents=None))
    assert code == 0 and "ZZZ.csv:2: 1 rows on dates that are not NYSE sessions dropped: 2024-01-01" in err
    alone = write_folder(tmp_path / "alone", {"ZZZ": prices["ZZZ"]}, constituents=None)
    code, _, err = run(capsys, "metrics", "--data", alone)
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "ZZZ.csv" in err and "2024-01-01" in err


@pytest.mark.parametrize("argv", [["metrics", "--as-of", "2024-13-01"], ["replay", "--start", "yesterday"],
                                  ["replay", "--start", "2020-01-01", "--end", "2020/02/01"],
                                  ["chart", "breadth", "--out", "x.png", "--as-of", "soon"],
                                  ["demo", "--from", "2023-02-30"]])
def test_a_bad_date_is_refused_before_any_data_loads(capsys, tmp_path, argv):
    missing = tmp_path / "no-such-folder"  # loading it would fail first, with another message
    code, out, err = run(capsys, *argv, "--data", missing)
    assert code == 1 and out == ""
    assert err.startswith("rotation-bot: error: --") and "is not a date (use YYYY-MM-DD" in err
    assert str(missing) not in err and len(err.strip().splitlines()) == 1
