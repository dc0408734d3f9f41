"""What a signal is worth: small caps' return against the S&P 500 after it, next to any day's.

The forward return of a session is IWM's return minus SPY's over the next h sessions, in percent.
The base rate is its mean over every session of the span that has one; a key's excess is the mean
after its starts minus the base. Forward windows of nearby sessions overlap (two starts 10
sessions apart share 50 of their 60 sessions), so the starts are not independent draws: the
standard error adds, for every pair of starts closer than h sessions, the autocovariance of the
forward returns at that distance, estimated over every session of the span and weighted with
Newey-West's Bartlett kernel (bandwidth h). That quadratic form is positive semi-definite (the
Schur product of two PSD Toeplitz matrices), so the variance can never come out negative.

This is the one place that looks past a signal's date, on purpose: it grades signals, it never
produces one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HORIZONS = (20, 60)
SIGNIFICANT_T = 2.0  # |t| at or above this: unlikely (about 5%) if starts were ordinary days
MIN_STARTS = 5  # fewer graded starts than this: no verdict either way


def forward_relative(iwm: np.ndarray, spy: np.ndarray, horizon: int) -> np.ndarray:
    """Per session, IWM's return minus SPY's over the next `horizon` sessions (percent); NaN at the end."""
    out = np.full(len(iwm), np.nan)
    if len(iwm) > horizon:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:-horizon] = (iwm[horizon:] / iwm[:-horizon] - spy[horizon:] / spy[:-horizon]) * 100.0
    return out


@dataclass(frozen=True)
class Grade:
    n: int
    mean: float | None
    excess: float | None
    t: float | None
    hit_rate: float | None


def autocovariances(values: np.ndarray, max_lag: int) -> np.ndarray:
    """Biased (divide by N) sample autocovariances at lags 0 .. max_lag: a PSD sequence."""
    centred = values - values.mean()
    count = len(centred)
    return np.array([float(centred[: count - lag] @ centred[lag:]) / count if lag < count else 0.0
                     for lag in range(max_lag + 1)])


@dataclass
class Tally:
    """One key's starts (session positions) and ends over a span: all that grading it needs."""

    type: str
    starts: list[int] = field(default_factory=list)
    ends: int = 0


def base_autocovariances(forward: np.ndarray, first: int, horizon: int) -> np.ndarray:
    """The autocovariances `grade` weighs, from every session from `first` on: one set for all keys."""
    span = forward[first:]
    base = span[~np.isnan(span)]
    return autocovariances(base, horizon - 1) if len(base) else np.zeros(horizon)


def grade(positions: Iterable[int], forward: np.ndarray, first: int, horizon: int,
          gamma: np.ndarray | None = None) -> Grade:
    """The starts at `positions` against every session from `first` on that has a forward return.

    `gamma` is `base_autocovariances` of the same arguments, passed in when many keys are graded at once.
    """
    span = forward[first:]
    usable = ~np.isnan(span)
    base = span[usable]
    picks = np.array(sorted(p for p in positions if p >= first and not math.isnan(forward[p])), dtype=np.int64)
    if len(picks) == 0 or len(base) == 0:
        return Grade(int(len(picks)), None, None, None, None)
    values = forward[picks]
    mean = float(values.mean())
    excess = mean - float(base.mean())
    if gamma is None:
        gamma = autocovariances(base, horizon - 1)
    distance = np.abs(picks[:, None] - picks[None, :])
    near = distance < horizon
    weights = np.where(near, 1.0 - distance / horizon, 0.0)
    covariance = np.where(near, gamma[np.minimum(distance, horizon - 1)], 0.0)
    variance = float((weights * covariance).sum()) / len(picks) ** 2
    t = excess / math.sqrt(variance) if variance > 0 else None
    return Grade(len(picks), round(mean, 4), round(excess, 4), None if t is None else round(t, 2),
                 round(float((values > 0).mean()), 4))


def base_rate(forward: np.ndarray, first: int) -> dict[str, Any]:
    span = forward[first:]
    base = span[~np.isnan(span)]
    if len(base) == 0:
        return {"mean": None, "n": 0, "hit_rate": None}
    return {"mean": round(float(base.mean()), 4), "n": int(len(base)), "hit_rate": round(float((base > 0).mean()), 4)}


def significant(entry: dict[str, Any]) -> bool:
    """Whether either horizon's excess is distinguishable from any day's (|t| >= 2 over 5+ starts)."""
    return any(entry.get(f"t_{h}d") is not None and abs(entry[f"t_{h}d"]) >= SIGNIFICANT_T
               and entry.get(f"n_{h}d", 0) >= MIN_STARTS for h in HORIZONS)


def verdict(entry: dict[str, Any]) -> str:
    """"edge", "no edge" or why there is no verdict, for tables and chat lines."""
    if max(entry.get(f"n_{h}d", 0) for h in HORIZONS) < MIN_STARTS:
        return f"too few starts (< {MIN_STARTS})"
    return "edge" if significant(entry) else "no edge (t within ±2)"


def record_line(entry: dict[str, Any] | None, since: str, horizon: int = 60) -> str:
    """One short line of a key's record for a chat: starts, the mean lead over `horizon`, the verdict."""
    starts = int(entry.get("starts", 0)) if entry else 0
    if not starts:
        return f"No start since {since} to judge it by."
    plural = "s" if starts != 1 else ""
    mean = entry.get(f"mean_{horizon}d")  # type: ignore[union-attr]
    if mean is None:
        return f"Since {since}: {starts} start{plural}, too recent to grade."
    t = entry.get(f"t_{horizon}d")  # type: ignore[union-attr]
    if entry.get(f"n_{horizon}d", starts) < MIN_STARTS:  # type: ignore[union-attr]
        judged = "too few to judge"
    elif t is None or abs(t) < SIGNIFICANT_T:
        judged = "not significant"
    else:
        judged = f"significant (t {_signed(t)})"
    base = entry.get(f"base_{horizon}d")  # type: ignore[union-attr]
    versus = f" (any day: {_signed(base)})" if base is not None else ""
    if round(mean, 1) == 0:  # "beat SPY by 0.0 points" reads as a contradiction
        lead = "IWM and SPY were even on average"
    else:
        lead = f"IWM {'beat' if mean > 0 else 'trailed'} SPY by {abs(mean):.1f} points on average"
    return f"Since {since}: {starts} start{plural}; over the next {horizon} sessions {lead}{versus}, {judged}."


def _signed(value: float) -> str:
    return f"{value:+.1f}".replace("-", "\u2212")
