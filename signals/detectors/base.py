"""What every detector produces: named conditions over the sessions, and how to describe an edge."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from signals.detectors.edges import Kind

Describe = Callable[[str, int], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Condition:
    """A daily condition of one signal key: 1.0 true, 0.0 false, NaN unknown."""

    type: str
    key: str
    kind: Kind
    values: np.ndarray
    describe: Describe  # (direction, session position) -> (title, detail)
    inputs: tuple[str, ...] = ()  # the indices/ETFs it reads: a session where one was carried is unknown


def at(frame: pd.DataFrame, position: int, *columns: str) -> dict[str, float | None]:
    """Named values of one session, rounded for humans; None where missing."""
    out: dict[str, float | None] = {}
    for column in columns:
        value = float(frame[column].iat[position])
        out[column] = None if math.isnan(value) else round(value, 4)
    return out


def signed(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:+.{digits}f}{unit}".replace("-", "\u2212")


def plain(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}{unit}".replace("-", "\u2212")
