"""The one settings object, built at start from the environment, `.env` and command-line flags.

pydantic-settings reads the variables of DESIGN.md (and a `.env` file) and validates them, so a
malformed `ADMIN_CHAT_IDS` is a clear error at start rather than a surprise at the first /run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.channels import ChannelTarget, parse_channels
from signals.errors import ConfigError


class AppConfig(BaseSettings):
    """Frozen: every part of the program receives this object and none can change it."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True,
                                      case_sensitive=False)

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str | None = None
    admin_chat_ids: Annotated[tuple[int, ...], NoDecode] = ()
    database_path: Path = Field(default=Path("data/rotation-bot.sqlite"))
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

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        """`DATABASE_PATH=` (as `.env.example` has it) means the default, never "the current folder"."""
        if isinstance(value, str) and not value.strip():
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)
        return value

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
