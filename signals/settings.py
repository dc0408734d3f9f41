"""Detector settings: documented defaults in `defaults.toml`, overridden by a user's TOML file.

Validated with pydantic so that a typo or a wrong type becomes one clear line naming the key
(`breadth.median_below_high_pct: Input should be a valid number`), not a silent default.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from signals.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalSettings(_Section):
    cooldown_sessions: int = Field(ge=0)
    end_after_sessions: int = Field(ge=1)


class BreadthSettings(_Section):
    index_within_pct_of_high: float = Field(ge=0)
    median_below_high_pct: float = Field(ge=0)
    participation_drop_points: float = Field(gt=0)
    participation_sessions: int = Field(ge=1, le=252)


class BreakoutSettings(_Section):
    iwm_high_sessions: int = Field(ge=2, le=252)
    ratio_high_sessions: int = Field(ge=2, le=252)
    require_adx: bool
    adx_min: float = Field(ge=0, le=100)
    require_volume: bool
    volume_ratio_min: float = Field(gt=0)


class RatesSettings(_Section):
    yield_2y_move_bp: float = Field(gt=0)
    publication_lag_sessions: int = Field(ge=0, le=5)


class DetectorSettings(_Section):
    signals: SignalSettings
    breadth: BreadthSettings
    breakout: BreakoutSettings
    rates: RatesSettings


def default_settings_text() -> str:
    return (Path(__file__).parent / "defaults.toml").read_text(encoding="utf-8")


def load_detector_settings(path: str | Path | None = None) -> DetectorSettings:
    """The defaults, with the sections and keys of the TOML file at `path` laid over them."""
    merged: dict[str, Any] = tomllib.loads(default_settings_text())
    if path is not None:
        file = Path(path).expanduser()
        try:
            overrides = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"settings file not found: {file}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read settings file {file}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file} is not valid TOML: {exc}") from exc
        for section, values in overrides.items():
            if section not in merged:
                raise ConfigError(f"{file}: unknown section [{section}] (known: {', '.join(merged)})")
            if not isinstance(values, dict):
                raise ConfigError(f"{file}: {section} must be a [section] of keys")
            merged[section] = {**merged[section], **values}
    try:
        return DetectorSettings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        where = f"{path}: " if path is not None else ""
        raise ConfigError(f"{where}invalid setting {key}: {first['msg']}") from exc
