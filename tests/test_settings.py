"""Detector settings: documented defaults, partial overrides, errors that name the key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from signals.errors import ConfigError
from signals.settings import load_detector_settings


def test_defaults_are_the_documented_ones():
    settings = load_detector_settings()
    assert (settings.signals.max_starts, settings.signals.starts_window_sessions) == (2, 60)
    assert settings.rates.curve_inverted_below_bp == -10.0 and settings.rates.curve_positive_above_bp == 10.0
    assert settings.breadth.washout_below_pct == 20.0 and settings.breadth.thrust_high == 0.615
    assert settings.credit.hy_drop_pct == 3.0 and settings.sectors.ratio_high_sessions == 60
    assert settings.breadth.index_within_pct_of_high == 3.0
    assert settings.breadth.median_below_high_pct == 10.0
    assert settings.breadth.participation_drop_points == 10.0
    assert settings.breakout.iwm_high_sessions == 252
    assert settings.breakout.ratio_high_sessions == 60
    assert settings.rates.yield_2y_move_bp == 40.0


def test_a_file_overrides_only_what_it_names(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("[breadth]\nmedian_below_high_pct = 12.5\n[signals]\nmax_starts = 1\n")
    settings = load_detector_settings(path)
    assert settings.breadth.median_below_high_pct == 12.5
    assert settings.signals.max_starts == 1
    assert settings.signals.starts_window_sessions == 60
    assert settings.breadth.index_within_pct_of_high == 3.0


@pytest.mark.parametrize(
    "text, message",
    [
        ("[breadth]\nmedian_below_high_pct = 'ten'\n", "invalid setting breadth.median_below_high_pct"),
        ("[breadth]\nmedian_below_hi = 10\n", "invalid setting breadth.median_below_hi"),
        ("[signals]\nmax_starts = 0\n", "invalid setting signals.max_starts"),
        ("[signals]\ncooldown_sessions = 20\n", "replaced by max_starts and starts_window_sessions"),
        ("[rates]\ncurve_positive_above_bp = -20\n", "rates.curve_positive_above_bp must lie beyond"),
        ("[breadth]\nthrust_high = 0.3\n", "breadth.thrust_high must lie beyond"),
        ("[nonsense]\nx = 1\n", "unknown section [nonsense]"),
        ("[breadth\n", "is not valid TOML"),
        ("breadth = 3\n", "breadth must be a [section]"),
    ],
)
def test_invalid_settings_name_the_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_detector_settings(path)
    assert message in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="settings file not found"):
        load_detector_settings(tmp_path / "absent.toml")


def test_settings_are_frozen():
    settings = load_detector_settings()
    with pytest.raises(ValidationError):
        settings.breadth.median_below_high_pct = 1.0  # type: ignore[misc]
