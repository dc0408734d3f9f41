"""The offline folder source: real data read correctly, every kind of bad input named and survived."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from signals.errors import DataError
from signals.sources.folder import load_folder
from tests.builders import write_folder

GOOD = "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,10,11,9,10,5,100\n2024-01-03,10,12,9,11,5.5,200\n"
CLOSE_ONLY = "Date,Close\n2024-01-02,50\n2024-01-03,51\n"


def issues_of(data, file: str) -> list[str]:
    return [f"{i.row}|{i.message}" for i in data.issues if i.file == file]


def own_closes(data, ticker: str) -> list[float]:
    """The closes the file really has (carried-forward sessions left out)."""
    return data.close[ticker].where(~data.carried[ticker]).dropna().tolist()


def test_reads_adjusted_close_and_scales_high_low(tmp_path):
    data = load_folder(write_folder(tmp_path, {"AAA": GOOD, "SPY": CLOSE_ONLY}, "ticker,name,sector\nAAA,A,Tech\n"))
    assert data.close.loc["2024-01-03", "AAA"] == 5.5  # Adj Close wins
    assert data.high.loc["2024-01-03", "AAA"] == pytest.approx(12 * 5.5 / 11)  # same factor as the close
    assert data.volume.loc["2024-01-02", "AAA"] == 100
    assert data.close.loc["2024-01-02", "SPY"] == 50
    assert np.isnan(data.high.loc["2024-01-02", "SPY"])  # optional column absent: missing, not zero
    assert data.members == ("AAA",)
    assert list(data.sessions.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03"]


def test_missing_required_column_names_the_file(tmp_path):
    data = load_folder(write_folder(tmp_path, {"AAA": GOOD, "BAD": "Date,Open\n2024-01-02,1\n"}))
    (issue,) = issues_of(data, "prices/BAD.csv")
    assert "missing required column Close" in issue and issue.startswith("1|")
    assert "BAD" not in data.close.columns


def test_unparseable_date_is_skipped_and_reported_with_its_line(tmp_path):
    text = "Date,Close\n2024-01-02,10\n2024-13-45,11\n2024-01-04,12\n"
    data = load_folder(write_folder(tmp_path, {"AAA": text}))
    issue, gap = issues_of(data, "prices/AAA.csv")
    assert issue.startswith("3|") and "unparseable date" in issue
    assert "no bar for 1 session (2024-01-03)" in gap  # the session the bad row should have been
    assert own_closes(data, "AAA") == [10, 12]


def test_duplicate_dates_keep_the_last_row_and_warn(tmp_path):
    text = "Date,Close\n2024-01-02,10\n2024-01-03,11\n2024-01-03,99\n"
    data = load_folder(write_folder(tmp_path, {"AAA": text}))
    (issue,) = issues_of(data, "prices/AAA.csv")
    assert issue.startswith("3|") and "duplicate date" in issue
    assert data.close.loc["2024-01-03", "AAA"] == 99


def test_non_numeric_and_non_positive_prices_become_missing_with_their_lines(tmp_path):
    text = "Date,Close,Volume\n2024-01-02,10,5\n2024-01-03,abc,5\n2024-01-04,-3,5\n2024-01-05,0,5\n2024-01-08,12,-1\n"
    data = load_folder(write_folder(tmp_path, {"AAA": text, "BBB": CLOSE_ONLY}))
    issues = issues_of(data, "prices/AAA.csv")
    assert any(i.startswith("3|") and "Close is not a number" in i for i in issues)
    assert any(i.startswith("4|") and "Close is not positive" in i and "lines 4, 5" in i for i in issues)
    assert any(i.startswith("6|") and "Volume is negative" in i for i in issues)
    closes = data.close["AAA"]
    assert closes.loc["2024-01-02"] == 10 and closes.loc["2024-01-08"] == 12
    # never read as zero: the last good close is carried (neither an advance nor a decline), and flagged
    assert closes.loc["2024-01-03":"2024-01-05"].tolist() == [10, 10, 10]
    assert data.carried["AAA"].loc["2024-01-03":"2024-01-05"].all()
    assert len(own_closes(data, "BBB")) == 2  # the rest of the group still parsed


def test_open_is_neither_parsed_nor_checked(tmp_path):
    """Nothing reads Open: a word or a negative number there is no issue and changes nothing."""
    clean = "Date,Open,High,Low,Close,Volume\n2024-01-02,1,11,9,10,5\n2024-01-03,2,12,10,11,5\n"
    odd = clean.replace(",1,11,", ",abc,11,").replace(",2,12,", ",-4,12,")
    data = load_folder(write_folder(tmp_path / "odd", {"AAA": odd}))
    assert not data.issues
    pd.testing.assert_frame_equal(data.close, load_folder(write_folder(tmp_path / "clean", {"AAA": clean})).close)


def test_yields_may_be_zero_or_negative(tmp_path):
    data = load_folder(write_folder(tmp_path, {"^IRX": "Date,Close\n2024-01-02,0.0\n2024-01-03,-0.01\n"}))
    assert data.close["^IRX"].tolist() == [0.0, -0.01]
    assert not data.issues


def test_wrong_field_count_is_reported_and_other_rows_kept(tmp_path):
    text = "Date,Close\n2024-01-02,10\n2024-01-03,11,7\n2024-01-04,12\n"
    data = load_folder(write_folder(tmp_path, {"AAA": text}))
    issue, _gap = issues_of(data, "prices/AAA.csv")
    assert issue.startswith("3|") and "expected 2 fields" in issue
    assert own_closes(data, "AAA") == [10, 12]


def test_empty_file_is_skipped_with_a_warning(tmp_path):
    data = load_folder(write_folder(tmp_path, {"AAA": CLOSE_ONLY, "EMPTY": "", "HEADONLY": "Date,Close\n"}))
    assert issues_of(data, "prices/EMPTY.csv") == ["None|empty file; skipped"]
    assert issues_of(data, "prices/HEADONLY.csv") == ["None|no rows after the header; skipped"]
    assert list(data.close.columns) == ["AAA"]


def test_constituent_without_price_file_is_counted_missing(tmp_path):
    folder = write_folder(tmp_path, {"AAA": CLOSE_ONLY}, "ticker,name,sector\nAAA,A,Tech\nZZZ,Z,Tech\n")
    data = load_folder(folder)
    assert data.members == ("AAA",)
    assert data.missing_members == ("ZZZ",)
    (issue,) = issues_of(data, "constituents.csv")
    assert "1 of 2 constituents have no price data" in issue and "ZZZ" in issue


def test_crlf_bom_and_trailing_newline_variants_parse(tmp_path):
    text = "\ufeffDate,Close\r\n2024-01-02,10\r\n2024-01-03,11"
    data = load_folder(write_folder(tmp_path, {"AAA": text}))
    assert data.close["AAA"].tolist() == [10, 11]
    assert not data.issues


def test_timezone_suffixed_dates_keep_the_exchange_date(tmp_path):
    text = "Date,Close\n2024-01-02 00:00:00-05:00,10\n2024-01-03 00:00:00-05:00,11\n"
    data = load_folder(write_folder(tmp_path, {"AAA": text}))
    assert list(data.sessions.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03"]


def test_rates_file_blanks_stay_missing_and_bad_values_are_named(tmp_path):
    rates = "date,DGS2,DGS10\n2024-01-02,4.3,3.9\n2024-01-03,,3.95\n2024-01-04,x,4.0\n"
    data = load_folder(write_folder(tmp_path, {"AAA": CLOSE_ONLY}, rates=rates))
    assert np.isnan(data.rates.loc["2024-01-03", "DGS2"])
    (issue,) = issues_of(data, "rates.csv")
    assert issue.startswith("4|") and "DGS2" in issue


def test_missing_folder_and_missing_prices_are_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_folder(tmp_path / "nope")
    tmp_path.joinpath("empty").mkdir()
    with pytest.raises(DataError, match="no prices/ folder"):
        load_folder(tmp_path / "empty")


@pytest.mark.market_data
def test_real_development_set(real_market):
    # 486 S&P 500 members with prices, 1,721 Russell 2000 members, and the indices, ETFs and yields
    assert real_market.close.shape == (1807, 2244)
    assert len(real_market.members) == 486
    assert set(real_market.missing_members) >= {"BRK-B", "GEV", "SOLV"}
    assert real_market.sessions[0] == pd.Timestamp("2017-01-03")
    assert real_market.sessions[-1] == pd.Timestamp("2024-03-08")
    assert real_market.close.loc["2024-03-08", "AAPL"] == pytest.approx(170.729996)
    assert real_market.rates.loc["2024-03-08", "DGS2"] == pytest.approx(4.48)
    # the real set's quirks, each named once: constituents without prices, single-session gaps
    # (ELVN, TLSI: the data README names them), zero volume on days the price moved (^VIX always),
    # and one bad print (KGEI 0.16 between 1.60 and 1.54)
    messages = [str(i) for i in real_market.issues]
    assert "constituents.csv" in {i.file for i in real_market.issues}
    assert any(m.startswith("prices/ELVN.csv: no bar for 1 session (2023-02-24)") for m in messages)
    assert any(m.startswith("prices/TLSI.csv: no bar for 1 session (2023-08-11)") for m in messages)
    assert any(m.startswith("prices/^VIX.csv: sessions with zero Volume while the price moved: 1798 ")
               for m in messages)
    assert any(m.startswith("prices/KGEI.csv: bad print removed: the close of 2022-05-19") for m in messages)
    assert not any("NYSE sessions" in m or "held back" in m for m in messages)
    assert real_market.suspect.eq("").all()
    assert len(real_market.universes["russell2000"]) == 1721


@pytest.mark.market_data
def test_fast_and_row_by_row_paths_agree(real_market, market_path, tmp_path):
    """Corrupting one file sends its whole header group down the slow path: same numbers come out."""
    prices = {}
    for ticker in ("AAPL", "MSFT", "XOM"):
        prices[ticker] = (market_path / "prices" / f"{ticker}.csv").read_text()
    prices["XOM"] = prices["XOM"].replace("\n", "\n2020-01-01,bad\n", 1)
    data = load_folder(write_folder(tmp_path, prices, "ticker,name,sector\nAAPL,,\nMSFT,,\nXOM,,\n"))
    for ticker in ("AAPL", "MSFT"):
        pd.testing.assert_series_equal(data.close[ticker].dropna(), real_market.close[ticker].dropna(),
                                       check_names=False)
    assert any(i.file == "prices/XOM.csv" and i.row == 2 for i in data.issues)


def test_header_and_ticker_case_variants_are_understood(tmp_path):
    folder = write_folder(tmp_path, {"aaa": CLOSE_ONLY, "BBB": "date,CLOSE\n2024-01-02,5\n2024-01-03,6\n"},
                          "Symbol,Security,GICS Sector\naaa,A,Tech\nbbb,B,Energy\n")
    data = load_folder(folder)
    assert data.members == ("AAA", "BBB")
    assert data.constituents["sector"].tolist() == ["Tech", "Energy"]
    assert not data.issues


def test_a_missing_adjusted_close_is_reported_not_mixed_in(tmp_path):
    text = "Date,Close,Adj Close\n2024-01-02,10,5\n2024-01-03,11,\n2024-01-04,12,6\n"
    data = load_folder(write_folder(tmp_path, {"AAA": text}))
    issue, _gap = issues_of(data, "prices/AAA.csv")
    assert issue.startswith("3|") and "Adj Close is missing" in issue
    assert own_closes(data, "AAA") == [5, 6]  # the unadjusted 11 is never mixed in
    assert data.carried.loc["2024-01-03", "AAA"]
