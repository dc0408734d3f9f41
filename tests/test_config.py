"""The one settings object: environment and .env, validated, frozen, flags on top."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.runtime.config import load_config
from signals.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "ADMIN_CHAT_IDS", "DATABASE_PATH", "ROTATION_DATA",
                 "ROTATION_CONFIG", "LOG_LEVEL", "EVALUATION_DELAY_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_without_environment():
    config = load_config()
    assert config.telegram_bot_token is None and config.admin_chat_ids == ()
    assert config.rotation_data is None and config.log_level == "INFO"
    assert config.evaluation_delay_minutes == 20


def test_environment_and_dotenv(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("TELEGRAM_BOT_TOKEN=123:abc\nADMIN_CHAT_IDS=1, -100200\nLOG_LEVEL=debug\n")
    monkeypatch.setenv("ROTATION_DATA", "/data/market")
    config = load_config()
    assert config.telegram_bot_token.get_secret_value() == "123:abc"
    assert "123:abc" not in repr(config)  # the token never shows in a repr or a log of the config
    assert config.admin_chat_ids == (1, -100200)
    assert config.log_level == "DEBUG"
    assert str(config.rotation_data) == "/data/market"


def test_flags_override_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_PATH", "/env/bot.sqlite")
    assert str(load_config(database_path="/flag/bot.sqlite").database_path) == "/flag/bot.sqlite"


@pytest.mark.parametrize("name, value, message", [
    ("ADMIN_CHAT_IDS", "12,abc", "ADMIN_CHAT_IDS"),
    ("LOG_LEVEL", "chatty", "LOG_LEVEL"),
    ("EVALUATION_DELAY_MINUTES", "-5", "EVALUATION_DELAY_MINUTES"),
])
def test_invalid_values_are_clear_errors(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_config()


def test_config_is_frozen():
    config = load_config()
    with pytest.raises(ValidationError):
        config.log_level = "DEBUG"  # type: ignore[misc]


def test_the_env_example_as_copied_means_every_default(tmp_path):
    """`cp .env.example .env` leaves DATABASE_PATH= and friends empty: each means its default."""
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / ".env.example"
    (tmp_path / ".env").write_text(example.read_text())
    config = load_config()
    defaults = load_config.__globals__["AppConfig"].model_fields
    assert config.database_path == defaults["database_path"].default
    assert str(config.database_path) == "data/rotation-bot.sqlite"
    assert config.rotation_data is None and config.rotation_config is None and config.telegram_bot_token is None
    assert config.database_url is None and not config.replicated and config.replica == "main"
    assert config.telegram_webhook_url is None and config.telegram_webhook_port == 8443


def test_database_url_selects_the_server_and_never_shows_its_password(monkeypatch):
    import socket

    monkeypatch.setenv("DATABASE_URL", "postgresql://bot:hunter2@db.example:5432/rotation")
    config = load_config()
    assert config.replicated and config.database == "postgresql://bot:hunter2@db.example:5432/rotation"
    assert config.database_name == "postgresql://bot@db.example:5432/rotation"
    assert "hunter2" not in repr(config)
    assert config.replica == socket.gethostname()  # a container's own name, unless REPLICA_NAME says
    monkeypatch.setenv("REPLICA_NAME", "east-1")
    assert load_config().replica == "east-1"
    monkeypatch.setenv("DATABASE_URL", "mysql://bot@db/rotation")
    with pytest.raises(ConfigError, match="DATABASE_URL must be a postgresql:// URL"):
        load_config()


@pytest.mark.parametrize("url, shown", [
    ("postgresql://bot:hunter2@db:5432/r", "postgresql://bot@db:5432/r"),
    ("postgresql://db:5432/r?user=bot&password=hunter2", "postgresql://db:5432/r?user=bot&password=***"),
    ("postgresql://db/r?sslmode=require&PASSWORD=hunter2&x=1", "postgresql://db/r?sslmode=require&PASSWORD=***&x=1"),
    ("postgresql://bot:hun%40ter2@db/r?sslpassword=hunter2", "postgresql://bot@db/r?sslpassword=***"),
    ("postgresql://:hunter2@db/r", "postgresql://db/r"),
    ("postgresql://bot:hunter2@db:99999/r", "postgresql://bot@db:99999/r"),  # never raises on a bad port
])
def test_every_form_of_a_database_password_is_left_out(url, shown):
    from signals.database import redact_url

    assert redact_url(url) == shown and "hunter2" not in redact_url(url)


@pytest.mark.parametrize("port", ["99999", "abc", "0"])
def test_a_port_that_is_no_port_is_one_line_without_the_password(port, capsys, monkeypatch):
    from bot.runtime.cli import main

    monkeypatch.setenv("DATABASE_URL", f"postgresql://bot:hunter2@127.0.0.1:{port}/rotation")
    assert main(["db", "check"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"'{port}' is not a port number" in err[0] and "hunter2" not in err[0]


def test_db_check_and_health_never_print_a_password_given_as_a_parameter(capsys, monkeypatch, tmp_path):
    from bot.runtime.cli import main

    monkeypatch.setenv("DATABASE_URL", "postgresql://127.0.0.1:1/none?user=bot&password=hunter2&connect_timeout=2")
    for command in (["db", "check"], ["health"]):
        main(command)
        captured = capsys.readouterr()
        assert "hunter2" not in captured.out + captured.err and "password=***" in captured.out + captured.err


def test_the_parsed_folder_copy_goes_to_the_user_cache_by_default(monkeypatch, tmp_path):
    monkeypatch.delenv("ROTATION_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert load_config().cache_dir == tmp_path / "xdg" / "rotation-bot"
    monkeypatch.setenv("ROTATION_CACHE_DIR", str(tmp_path / "mine"))
    assert load_config().cache_dir == tmp_path / "mine"
