"""`rotation-bot demo` and the packaged sample it runs on: the bot's own loop, with nothing set up."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from bot.runtime.cli import main
from signals.metrics import compute_metrics
from signals.replay import replay
from signals.settings import load_detector_settings
from signals.sources.folder import load_folder
from signals.sources.sample import load_sample, read_prices, sample_available, write_sample
from tests.fake_telegram import FakeTelegram
from tests.test_feed_quirks import frames, write

pytestmark = pytest.mark.skipif(not sample_available(), reason="the packaged sample (signals/sample/prices.npz) "
                                "is not in this checkout")


@pytest.fixture(scope="module")
def sample():
    return load_sample()


@pytest.fixture
def quiet_environment(monkeypatch, tmp_path):
    """No token, no .env of the developer's: the demo must need neither."""
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "ADMIN_CHAT_IDS", "ROTATION_DATA", "DATABASE_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_the_sample_round_trips_a_folders_rows(tmp_path):
    """Rows written and read back are the folder's rows, to the sample's precision."""
    bars = frames()
    folder = write(tmp_path / "data", bars)
    write_sample(folder, "2020-01-01", tmp_path / "sample")
    stored = read_prices(tmp_path / "sample" / "prices.npz")
    original = load_folder(folder)
    from signals.sources.folder import assemble

    again = assemble(tmp_path / "sample", stored)
    assert list(again.close.columns) == list(original.close.columns)
    assert again.sessions.equals(original.sessions[original.sessions >= "2020-01-01"])
    tail = original.close.loc[again.sessions]
    np.testing.assert_allclose(again.close.to_numpy(), tail.to_numpy(), rtol=1e-6, atol=5e-5)
    assert original.price_basis == again.price_basis


def test_the_sample_is_the_development_sets_last_two_years(sample, real_market):
    """Same sessions, tickers and members; every non-cumulative number of the last session within rounding."""
    assert sample.sessions[0] == pd.Timestamp("2022-03-01") and sample.sessions[-1] == real_market.sessions[-1]
    assert set(sample.close.columns) == set(real_market.close.columns)
    assert sample.universe_members("russell2000") == real_market.universe_members("russell2000")
    ours, theirs = compute_metrics(sample).snapshot(), compute_metrics(real_market).snapshot()
    for universe in ("sp500", "russell2000"):
        for name, value in ours["universes"][universe].items():
            if name == "ad_line" or value is None:
                continue  # a running count from the first session: its level is where the data starts
            if name == "mcclellan_summation":  # a level that does not depend on the start (the sample's is 2022)
                assert value == pytest.approx(theirs["universes"][universe][name], abs=5.0), universe
                continue
            assert value == pytest.approx(theirs["universes"][universe][name], abs=0.2), (universe, name)


def test_demo_prints_every_signal_a_subscriber_receives(quiet_environment, capsys, tmp_path, sample):
    charts = tmp_path / "charts"
    assert main(["demo", "--from", "2023-10-02", "--charts", str(charts)]) == 0
    out = capsys.readouterr().out
    first_line = out.splitlines()[0]
    assert first_line.startswith("rotation-bot demo: the bot's own loop over the packaged sample")
    assert "no network, no token" in first_line
    # what was printed is what the replay says happened in the span: every announced edge, nothing else
    printed = re.findall(r"^  (\d{4}-\d{2}-\d{2}) .+ \[([a-z0-9_:]+)\]$", out, flags=re.M)
    announced = [(s.date, s.key) for s in replay(sample, "2023-10-02").signals]
    assert printed and sorted(printed) == sorted(announced)
    assert "2023-10-02: the bot's first start" in out  # history before the first session: recorded, not sent
    assert "Breadth on 2024-03-08, as /breadth answers it:" in out
    assert len(out.splitlines()) < len(printed) + 40  # a line per message, not a screenful
    assert "warning:" not in out and "The sample's data has 7 notes" in out  # its own data's notes: one line
    assert "<b>" not in out and "&amp;" not in out  # Telegram's HTML, read as a terminal shows it
    pngs = sorted(path.name for path in charts.glob("*.png"))
    from bot.presentation.topics import CHARTS

    assert pngs == sorted(f"{name}.png" for name in CHARTS)
    assert all((charts / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in pngs)


def test_demo_pace_shows_quiet_sessions(quiet_environment, capsys, tmp_path):
    assert main(["demo", "--from", "2024-03-04", "--pace", "0.001", "--charts", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"2024-03-0\d: nothing new", out)
    assert "5 sessions ticked" in out


def test_demo_with_telegram_sends_the_same_to_the_chat(quiet_environment, capsys, tmp_path, monkeypatch):
    with FakeTelegram() as fake:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", fake.token)
        monkeypatch.setenv("TELEGRAM_API_URL", fake.base_url)
        assert main(["demo", "--from", "2023-12-27", "--telegram", "--chat", "4242", "--full",
                     "--charts", str(tmp_path / "c")]) == 0
        out = capsys.readouterr().out
        sent = fake.sent(4242)
    printed = re.findall(r"(\d{4}-\d{2}-\d{2}) close \u00b7 ([a-z0-9_:]+)", out)
    delivered = re.findall(r"(\d{4}-\d{2}-\d{2}) close \u00b7 ([a-z0-9_:]+)", " ".join(m["text"] for m in sent))
    assert printed and printed == delivered  # the same messages, in the same order
    assert fake.token not in out


@pytest.mark.parametrize("argv, message", [
    (["demo", "--from", "tomorrow"], "not a date"),
    (["demo", "--from", "2030-01-01"], "no session on or after 2030-01-01"),
    (["demo", "--telegram"], "--telegram needs TELEGRAM_BOT_TOKEN"),
])
def test_demo_mistakes_are_one_line(quiet_environment, capsys, argv, message):
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_record_line_names_its_span_by_its_first_graded_session(sample):
    """The demo's 2023-03-23 Fed hike said "No start since 2023 to judge it by" beside a hike on 2023-02-02:
    the record begins at its first graded session (after a year of warm-up), and says that date."""
    from signals.detectors import Analysis
    from signals.replay import WARM_UP_SESSIONS, track_records

    visible = sample.as_of("2023-03-22")
    first = visible.sessions[WARM_UP_SESSIONS].strftime("%Y-%m-%d")
    hikes = [s.date for s in replay(sample, "2022-03-01", "2023-03-22").signals if s.key == "rates:fed_hike"]
    assert "2023-02-02" in hikes and first > "2023-02-02"
    line = track_records(visible, Analysis(compute_metrics(visible), load_detector_settings()))["rates:fed_hike"]
    assert line == f"No start since {first} to judge it by."
