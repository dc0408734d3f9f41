"""The one settings object, built at start from the environment, `.env` and command-line flags.

pydantic-settings reads the variables of DESIGN.md (and a `.env` file) and validates them, so a
malformed `ADMIN_CHAT_IDS` is a clear error at start rather than a surprise at the first /run.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.delivery.channels import ChannelTarget, parse_channels
from signals.database import is_postgres_url, redact_url, url_port_problem
from signals.errors import ConfigError

if TYPE_CHECKING:  # the listener (tornado, telegram) is loaded only in webhook mode
    from bot.telegram.webhook import WebhookSettings


class AppConfig(BaseSettings):
    """Frozen: every part of the program receives this object and none can change it."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True,
                                      case_sensitive=False)

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str | None = None
    admin_chat_ids: Annotated[tuple[int, ...], NoDecode] = ()
    database_path: Path = Field(default=Path("data/rotation-bot.sqlite"))
    database_url: SecretStr | None = None  # postgresql://...: the state on a server that replicas share
    replica_name: str | None = Field(default=None, min_length=1, max_length=100)  # default: see `replica`
    telegram_webhook_url: str | None = None  # https://...: Telegram posts updates here instead of being polled
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = Field(default=8443, gt=0, lt=65536)
    telegram_webhook_secret: SecretStr | None = None  # Telegram sends it back in a header: other posts are refused
    rotation_data: Path | None = None
    rotation_config: Path | None = None
    log_level: str = "INFO"
    evaluation_delay_minutes: float = Field(default=20.0, ge=0, le=600)
    stale_retry_minutes: float = Field(default=15.0, gt=0, le=600)
    stale_give_up_minutes: float = Field(default=180.0, ge=0, le=1440)
    outbox_retention_days: float = Field(default=30.0, gt=0, le=3650)
    polling_give_up_seconds: float = Field(default=180.0, gt=0, le=3600)  # 401/409 while polling this long: exit
    delivery_window_hours: float = Field(default=24.0, gt=0, le=24 * 14)  # an alert's news value, after its session
    rotation_cache_dir: Path | None = None  # the parsed copy of an offline folder; default the user's cache
    telegram_channels: Annotated[tuple[ChannelTarget, ...], NoDecode] = ()
    telegram_paid_broadcast: bool = False
    webapp_port: int | None = Field(default=None, ge=0, lt=65536)  # the dashboard Mini App; None: no page
    webapp_host: str = "127.0.0.1"  # behind a reverse proxy on the same machine
    webapp_url: str | None = None  # the public https address of WEBAPP_PORT that Telegram opens
    webapp_auth_max_age_seconds: int = Field(default=86_400, gt=0, le=7 * 86_400)  # initData's auth_date bound

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        """`DATABASE_PATH=` (as `.env.example` has it) means the default, never "the current folder"."""
        if isinstance(value, str) and not value.strip() and info.field_name is not None:
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not is_postgres_url(value.get_secret_value()):
            raise ValueError("DATABASE_URL must be a postgresql:// URL (leave it empty for SQLite at DATABASE_PATH)")
        problem = url_port_problem(value.get_secret_value()) if value is not None else None
        if problem is not None:  # said here, in one line: the driver would raise deep inside with a traceback
            raise ValueError(f"DATABASE_URL: {problem}")
        return value

    @field_validator("telegram_webhook_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"TELEGRAM_WEBHOOK_URL must be the https:// address Telegram posts to, got {value!r}")
        return value

    @field_validator("webapp_url")
    @classmethod
    def _webapp_https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError(f"WEBAPP_URL must be the https:// address Telegram opens (Telegram refuses others), "
                             f"got {value!r}")
        return value

    @property
    def database(self) -> str | Path:
        """Where the state is: the server's URL when DATABASE_URL is set, else the SQLite file."""
        return self.database_url.get_secret_value() if self.database_url is not None else self.database_path

    @property
    def database_name(self) -> str:
        """The database for messages and logs: the file, or the server's address without a password."""
        return redact_url(self.database_url.get_secret_value()) if self.database_url else str(self.database_path)

    @property
    def replica(self) -> str:
        """This process's name among replicas: REPLICA_NAME, else the host's name on a server (a container's
        is its own), else "main" (a file has one bot)."""
        if self.replica_name:
            return self.replica_name
        return socket.gethostname() if self.replicated else "main"

    @property
    def replicated(self) -> bool:
        """Several `run` may share the state: one leads, the others stand by."""
        return self.database_url is not None

    @property
    def cache_dir(self) -> Path:
        if self.rotation_cache_dir is not None:
            return self.rotation_cache_dir
        base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
        return Path(base) / "rotation-bot"

    @field_validator("admin_chat_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            try:
                return tuple(int(part) for part in parts)
            except ValueError as exc:
                raise ValueError(f"ADMIN_CHAT_IDS must be comma-separated chat ids, got {value!r}") from exc
        return value

    @field_validator("telegram_channels", mode="before")
    @classmethod
    def _channels(cls, value: Any) -> Any:
        return parse_channels(value) if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {value!r}")
        return level


def load_config(**overrides: Any) -> AppConfig:
    """The environment and `.env`, with explicit overrides (command-line flags) on top."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return AppConfig(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]).upper()
        raise ConfigError(f"invalid setting {name}: {first['msg']}") from exc


def webhook_settings(config: AppConfig) -> WebhookSettings:
    """Where the webhook listener listens and what it tells Telegram (TELEGRAM_WEBHOOK_*)."""
    from urllib.parse import urlsplit

    from bot.telegram.webhook import WebhookSettings

    url = config.telegram_webhook_url
    assert url is not None
    secret = config.telegram_webhook_secret.get_secret_value() if config.telegram_webhook_secret else None
    return WebhookSettings(listen=config.telegram_webhook_listen, port=config.telegram_webhook_port,
                           url_path=urlsplit(url).path.lstrip("/"), webhook_url=url, secret_token=secret)
