"""The command line: the JSON contracts of DESIGN.md, readable tables, one-line errors."""

from __future__ import annotations

import argparse
import json
import os

import pytest

from bot.runtime.cli import main
from tests.builders import csv_text, random_walk, sessions, write_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    index = sessions(320)
    tickers = ["M1", "M2", "M3", "^GSPC", "SPY", "RSP", "IWM", "^RUT"]
    close = random_walk(index, tickers, seed=4)
    prices = {t: csv_text(close[[t]].rename(columns={t: "Close"})) for t in tickers}
    rates = "date,DGS2,DGS3MO,DGS10,DFEDTARU,DFEDTARL\n" + "".join(
        f"{d:%Y-%m-%d},4.0,5.0,4.5,5.5,5.25\n" for d in index)
    return write_folder(tmp_path_factory.mktemp("data"), prices, "ticker,name,sector\nM1,,\nM2,,\nM3,,\nM4,,\n", rates)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_metrics_json_has_the_contract_fields(capsys, folder):
    code, out, err = run(capsys, "metrics", "--data", folder, "--json", "--as-of", "2021-02-10")
    assert code == 0
    payload = json.loads(out)
    assert payload["as_of"] == "2021-02-10"
    for key in ("pct_above_200dma", "pct_above_50dma", "median_pct_from_52w_high", "index_pct_from_52w_high",
                "new_highs", "new_lows", "members"):
        assert key in payload["breadth"]
    assert payload["breadth"]["members"] == 3 and isinstance(payload["breadth"]["members"], int)
    assert "iwm_spy_ratio" in payload["breakout"]
    for key in ("yield_2y", "yield_3m", "yield_10y"):
        assert key in payload["rates"]
    assert payload["data"]["missing"] == ["M4"]
    assert any("M4" in w for w in payload["warnings"])
    assert "warning:" in err  # warnings go to stderr, stdout stays one JSON object


def test_metrics_table_is_readable(capsys, folder):
    code, out, _ = run(capsys, "metrics", "--data", folder)
    assert code == 0
    assert "Metrics as of" in out and "% above 200-day average" in out and "Rates" in out


def test_replay_json_contract(capsys, folder):
    code, out, _ = run(capsys, "replay", "--data", folder, "--start", "2020-06-01", "--json")
    assert code == 0
    payload = json.loads(out)
    assert set(payload) >= {"signals", "stats"}
    dates = [s["date"] for s in payload["signals"]]
    assert dates == sorted(dates)
    for signal in payload["signals"]:
        assert set(signal) >= {"type", "key", "date", "direction", "title", "detail"}


def test_replay_table(capsys, folder):
    code, out, _ = run(capsys, "replay", "--data", folder, "--start", "2020-06-01", "--end", "2021-03-01")
    assert code == 0
    assert out.startswith("Replay 2020-06-01 .. 2021-03-01")
    assert "survivorship" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["metrics", "--as-of", "1999-01-01"], "before the first session"),
        (["metrics", "--as-of", "yesterday-ish"], "not a date"),
        (["replay", "--start", "2031-01-01"], "no sessions between"),
    ],
)
def test_expected_errors_are_one_line_and_non_zero(capsys, folder, argv, message):
    code, out, err = run(capsys, *argv, "--data", folder)
    assert code == 1
    lines = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in err


def test_missing_data_folder_and_bad_settings(capsys, folder, tmp_path):
    code, _, err = run(capsys, "metrics", "--data", tmp_path / "nothing")
    assert code == 1 and "data folder not found" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("[rates]\nyield_2y_move_bp = 'lots'\n")
    code, _, err = run(capsys, "metrics", "--data", folder, "--config", bad)
    assert code == 1 and "invalid setting rates.yield_2y_move_bp" in err


def test_environment_supplies_the_data_folder(capsys, folder, monkeypatch):
    monkeypatch.setenv("ROTATION_DATA", str(folder))
    code, out, _ = run(capsys, "metrics", "--json")
    assert code == 0 and json.loads(out)["as_of"]


def test_without_a_folder_the_empty_live_cache_is_explained(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("ROTATION_DATA", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    code, _, err = run(capsys, "metrics", "--db", tmp_path / "bot.sqlite")
    assert code == 1 and "the price cache is empty: run `rotation-bot fetch` once Yahoo Finance can be reached" in err


def test_unknown_arguments_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["metrics", "--frobnicate"])
    assert caught.value.code == 2


def test_unusable_database_paths_are_one_line_errors(capsys, folder, tmp_path):
    corrupt = tmp_path / "not-a-database.sqlite"
    corrupt.write_bytes(b"this is not sqlite" * 100)
    code, _, err = run(capsys, "evaluate", "--data", folder, "--db", corrupt)
    assert code == 1 and "the database cannot be used" in err and "Traceback" not in err
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    code, _, err = run(capsys, "evaluate", "--data", folder, "--db", blocked / "bot.sqlite")
    assert code == 1 and "rotation-bot: error:" in err and "Traceback" not in err


def test_help_answers_without_loading_pandas():
    """`rotation-bot --help` answers at once: the analysis stack is imported by the commands that use it."""
    import subprocess
    import sys

    code = ("import sys\nfrom bot.runtime.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('pandas loaded' if 'pandas' in sys.modules else 'pandas not loaded')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "usage: rotation-bot" in result.stdout
    assert result.stdout.strip().endswith("pandas not loaded")


def test_the_process_exits_with_the_commands_status_and_its_whole_output(tmp_path, folder):
    """The console script's process (`entry`): the status `main` returned, the answer and the error line
    complete, though the interpreter skips its last collection."""
    import subprocess
    import sys

    env = {**os.environ, "ROTATION_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "bot.runtime.cli", "metrics", "--json", "--data", str(folder)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and json.loads(done.stdout)["as_of"]
    failed = subprocess.run([sys.executable, "-m", "bot.runtime.cli", "metrics", "--data", str(tmp_path / "none")],
                            capture_output=True, text=True, timeout=120, env=env)
    assert failed.returncode == 1 and failed.stderr.startswith("rotation-bot: error: data folder not found")


def test_a_command_collects_garbage_seldom_and_the_bot_as_the_interpreter_does(monkeypatch):
    """`entry` raises the collector's threshold before `main` imports anything heavy (a command's objects
    live to its end); `run`, which lives for months, goes back to the interpreter's thresholds."""
    import gc

    from bot.runtime import cli, runner
    from bot.runtime.config import load_config

    seen: dict[str, tuple[int, ...]] = {}
    before = gc.get_threshold()
    monkeypatch.setattr(cli, "main", lambda: seen.setdefault("command", gc.get_threshold()) and 0)
    monkeypatch.setattr(cli, "setup_logging", lambda *args: None)
    monkeypatch.setattr(runner, "run_bot", lambda config: seen.setdefault("run", gc.get_threshold()) and 0)
    try:
        with pytest.raises(SystemExit):
            cli.entry()
        cli.cmd_run(argparse.Namespace(), load_config())
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    assert seen == {"command": cli.ONE_COMMAND_GC, "run": cli.INTERPRETER_GC}


def test_an_unreachable_database_server_is_one_line_without_its_password(capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot:hunter2@127.0.0.1:1/rotation")
    assert main(["health"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rotation-bot: error: the database postgresql://bot@127.0.0.1:1/rotation cannot be used")
    assert len(err.strip().splitlines()) == 1 and "hunter2" not in err
