"""Detector settings: documented defaults in `defaults.toml`, overridden by a user's TOML file.

Validated with pydantic so that a typo or a wrong type becomes one clear line naming the key
(`breadth.median_below_high_pct: Input should be a valid number`), not a silent default.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from signals.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalSettings(_Section):
    max_starts: int = Field(ge=1)
    starts_window_sessions: int = Field(ge=1, le=2520)
    end_after_sessions: int = Field(ge=1)
    level_move_sessions: int = Field(ge=2, le=252)
    level_start_margin_moves: float = Field(ge=0)
    level_hold_margin_moves: float = Field(ge=0)


class BreadthSettings(_Section):
    index_within_pct_of_high: float = Field(ge=0)
    median_below_high_pct: float = Field(ge=0)
    smallcap_median_below_high_pct: float = Field(ge=0)
    participation_drop_points: float = Field(gt=0)
    participation_end_drop_points: float = Field(ge=0)
    participation_index_band_pct: float = Field(ge=0)
    participation_sessions: int = Field(ge=1, le=252)
    washout_below_pct: float = Field(gt=0, lt=100)
    washout_end_above_pct: float = Field(gt=0, lt=100)
    thrust_low: float = Field(gt=0, lt=1)
    thrust_high: float = Field(gt=0, lt=1)
    thrust_sessions: int = Field(ge=1, le=252)
    equal_weight_drop_pct: float = Field(gt=0)
    equal_weight_end_drop_pct: float = Field(ge=0)
    equal_weight_sessions: int = Field(ge=1, le=252)

    @model_validator(mode="after")
    def _bands(self) -> "BreadthSettings":
        _band("breadth.washout_end_above_pct", self.washout_end_above_pct >= self.washout_below_pct)
        _band("breadth.thrust_high", self.thrust_high > self.thrust_low)
        _band("breadth.equal_weight_end_drop_pct", self.equal_weight_end_drop_pct <= self.equal_weight_drop_pct)
        _band("breadth.participation_end_drop_points",
              self.participation_end_drop_points <= self.participation_drop_points)
        return self


class BreakoutSettings(_Section):
    iwm_high_sessions: int = Field(ge=2, le=252)
    ratio_high_sessions: int = Field(ge=2, le=252)
    leg_below_sessions: int = Field(ge=1, le=1000)
    require_adx: bool
    adx_min: float = Field(ge=0, le=100)
    require_volume: bool
    volume_ratio_min: float = Field(gt=0)


class SectorSettings(_Section):
    ratio_high_sessions: int = Field(ge=2, le=252)
    average_sessions: int = Field(ge=2, le=500)


class CreditSettings(_Section):
    hy_drop_pct: float = Field(gt=0)
    hy_end_drop_pct: float = Field(ge=0)
    hy_sessions: int = Field(ge=1, le=252)

    @model_validator(mode="after")
    def _bands(self) -> "CreditSettings":
        _band("credit.hy_end_drop_pct", self.hy_end_drop_pct <= self.hy_drop_pct)
        return self


class RatesSettings(_Section):
    yield_2y_move_bp: float = Field(gt=0)
    yield_2y_hold_bp: float = Field(ge=0)
    curve_inverted_below_bp: float
    curve_positive_above_bp: float
    publication_lag_sessions: int = Field(ge=0, le=5)

    @model_validator(mode="after")
    def _bands(self) -> "RatesSettings":
        _band("rates.curve_positive_above_bp", self.curve_positive_above_bp >= self.curve_inverted_below_bp)
        _band("rates.yield_2y_hold_bp", self.yield_2y_hold_bp <= self.yield_2y_move_bp)
        return self


def _band(key: str, ordered: bool) -> None:
    """A band's exit must lie on the far side of its entry, or an episode could end as it starts."""
    if not ordered:
        raise ValueError(f"{key} must lie beyond the level that starts the episode")


class CycleSettings(_Section):
    band_pct: float = Field(gt=0, lt=100)


class DetectorSettings(_Section):
    signals: SignalSettings
    breadth: BreadthSettings
    breakout: BreakoutSettings
    sectors: SectorSettings
    credit: CreditSettings
    rates: RatesSettings
    cycle: CycleSettings


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
        if key == "signals.cooldown_sessions":
            raise ConfigError(f"{path}: signals.cooldown_sessions was replaced by max_starts and "
                              f"starts_window_sessions (a key starts at most max_starts times in any "
                              f"starts_window_sessions sessions); see defaults.toml") from exc
        where = f"{path}: " if path is not None else ""
        raise ConfigError(f"{where}invalid setting {key}: {first['msg']}") from exc
