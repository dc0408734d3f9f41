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

from signals.detectors.edges import Kind, condition
from signals.metrics.rolling import shifted, sma

if TYPE_CHECKING:
    from signals.metrics import Metrics
    from signals.metrics.group import Computed
    from signals.settings import DetectorSettings

Describe = Callable[[str, int], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Part:
    """One part of a condition, named by the metric path it reads (dotted, as in `metrics --json`):
    1.0 where that part holds (on the laxer level that keeps a started key active), 0.0 where it
    does not, NaN unknown. An end names the parts that no longer held: `detail.ended_because`."""

    path: str
    holds: np.ndarray


ExplainEnd = Callable[[tuple[str, ...], dict[str, Any]], str]


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
    parts: tuple[Part, ...] = ()
    explain_end: ExplainEnd | None = None  # (ended paths, detail) -> the end's title, one per cause
    end_after: int | None = None  # false sessions in a row that end it; None: [signals] end_after_sessions

    def ended_because(self, position: int) -> tuple[str, ...]:
        """The paths of the parts no longer true at `position` (an end session)."""
        return tuple(part.path for part in self.parts if part.holds[position] == 0.0)


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


def part(path: str, mask: Any, known: Any) -> Part:
    return Part(path, condition(mask, known))


# Detectors compute on a group's columns as plain arrays (`Computed.column`, never its frame): a condition
# is a dozen operations on a few thousand sessions, where pandas' per-operation overhead would cost more
# than the arithmetic.

def known(*arrays: np.ndarray) -> np.ndarray:
    """Sessions where every one of `arrays` has a value."""
    have = np.ones(len(arrays[0]), dtype=bool)
    for values in arrays:
        have &= ~np.isnan(values)
    return have


def daily_move(series: np.ndarray, sessions: int) -> np.ndarray:
    """The series' average daily move: mean absolute daily % change over `sessions` (today's included)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.abs(series / shifted(series, 1) - 1.0) * 100.0
    return sma(change, sessions)


def level_band(gap_pct: np.ndarray, move: np.ndarray, settings: "DetectorSettings") -> tuple[np.ndarray, np.ndarray]:
    """(clears, holds): the close `gap_pct` above its level by more than the start margin, and no
    further below it than the hold margin, both in average daily moves (defaults.toml [signals])."""
    rules = settings.signals
    return gap_pct > rules.level_start_margin_moves * move, gap_pct >= -rules.level_hold_margin_moves * move


def number(value: Any) -> float | None:
    """A value as a signal's detail holds it: unrounded (a title rounds once, for display), None if missing."""
    result = float(value)
    return None if math.isnan(result) else result


def at(computed: Computed[Any], position: int, *columns: str) -> dict[str, float | None]:
    """Named values of one session, unrounded; None where missing."""
    return {column: number(computed.values(column)[position]) for column in columns}


def tidy(detail: dict[str, Any]) -> dict[str, Any]:
    """A detail's floats rounded for storage and JSON, once every title has been written from the raw values:
    4 decimals, or 6 significant digits below 1 (a ratio of 0.4158 keeps its fifth and sixth)."""
    def rounded(value: Any) -> Any:
        if isinstance(value, float) and not isinstance(value, bool):
            return round(value, 4) if abs(value) >= 1 else float(f"{value:.6g}")
        if isinstance(value, dict):
            return {key: rounded(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rounded(item) for item in value]
        return value
    return rounded(detail)


def signed(value: float | None, digits: int = 1, unit: str = "") -> str:
    """+1.2, \u22120.4, and 0.0 with no sign when it rounds to zero (never "+0.0" for \u22120.04)."""
    if value is None or math.isnan(value):
        return "n/a"
    if round(value, digits) == 0:
        return f"{0:.{digits}f}{unit}"
    return f"{value:+.{digits}f}{unit}".replace("-", "\u2212")


def plain(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.{digits}f}{unit}".replace("-", "\u2212")
