"""What every detector is: the keys it registers, the conditions it computes, how it describes an edge.

A detector is one module that ends with `DETECTOR = Detector(...)`, listed once in
`signals.detectors.DETECTORS`. From that registry come the signal keys (README's table and its
test), the topic each key belongs to, and the conditions the edge finder scans.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from signals.detectors.edges import Kind

if TYPE_CHECKING:
    from signals.metrics import Metrics
    from signals.settings import DetectorSettings

Describe = Callable[[str, int], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Condition:
    """A daily condition of one signal key: 1.0 true, 0.0 false, NaN unknown.

    `hold` (default: `values`) is what keeps a started key active: a laxer level than the one that
    starts it makes a band. `announce_end` False makes a one-off (a thrust, a new leg): its end
    only re-arms it. `limited` False exempts it from the start limit (a Fed move is news each time).
    """

    type: str
    key: str
    kind: Kind
    values: np.ndarray
    describe: Describe  # (direction, session position) -> (title, detail)
    inputs: tuple[str, ...] = ()  # the indices/ETFs it reads: a session where one was carried is unknown
    hold: np.ndarray | None = None
    announce_end: bool = True
    limited: bool = True


@dataclass(frozen=True)
class KeySpec:
    """A registered signal key: its plain name (charts, /history) and its rule in words (README, /signals)."""

    key: str
    name: str
    rule: str


@dataclass(frozen=True)
class Detector:
    """One detector module: its topic, the keys it may emit, and the function that computes them."""

    topic: str
    keys: tuple[KeySpec, ...]
    conditions: Callable[["Metrics", "DetectorSettings"], list[Condition]]


def at(frame: pd.DataFrame, position: int, *columns: str) -> dict[str, float | None]:
    """Named values of one session, rounded for humans; None where missing."""
    out: dict[str, float | None] = {}
    for column in columns:
        value = float(frame[column].iat[position])
        out[column] = None if math.isnan(value) else round(value, 4)
    return out


def signed(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:+.{digits}f}{unit}".replace("-", "\u2212")


def plain(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.{digits}f}{unit}".replace("-", "\u2212")
