"""What a signal is worth: small caps' return against the S&P 500 after it, next to any day's.

The forward return of a session is IWM's return minus SPY's over the next h sessions, in percent.
The base rate is its mean over every session of the span that has one; a key's excess is the mean
after its starts minus the base. Forward windows of nearby sessions overlap (two starts 10
sessions apart share 50 of their 60 sessions), so the starts are not independent draws: the
standard error adds, for every pair of starts closer than h sessions, the autocovariance of the
forward returns at that distance, estimated over every session of the span and weighted with
Newey-West's Bartlett kernel (bandwidth h). That quadratic form is positive semi-definite (the
Schur product of two PSD Toeplitz matrices), so the variance can never come out negative.
The t it gives is descriptive; whether a record is an edge is `record_trust`'s call (a placebo,
adjusted for every test made, and eras that must agree).

This is the one place that looks past a signal's date, on purpose: it grades signals, it never
produces one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from signals.record_trust import (
    AGAINST,
    ALPHA,
    EDGE,
    MIN_STARTS,
    TOO_FEW,
    eras_agree,
    graded_positions,
    graded_sessions,
)

HORIZONS = (20, 60)


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


@dataclass(frozen=True)
class Baseline:
    """One horizon's graded sessions (`graded_sessions`): their forward returns, their mean (the base
    rate) and autocovariances, worked out once for every key graded against them."""

    values: np.ndarray
    mean: float
    gamma: np.ndarray

    @classmethod
    def of(cls, forward: np.ndarray, first: int, horizon: int) -> Baseline:
        values = forward[graded_sessions(forward, first)]
        mean = float(values.mean()) if len(values) else float("nan")
        gamma = autocovariances(values, horizon - 1) if len(values) else np.zeros(horizon)
        return cls(values, mean, gamma)

    def rate(self) -> dict[str, Any]:
        """The base rate as a replay reports it: mean, sessions, share of sessions small caps led."""
        if len(self.values) == 0:
            return {"mean": None, "n": 0, "hit_rate": None}
        return {"mean": round(self.mean, 4), "n": int(len(self.values)),
                "hit_rate": round(float((self.values > 0).mean()), 4)}


def grade(positions: Iterable[int], forward: np.ndarray, first: int, horizon: int,
          baseline: Baseline | None = None) -> Grade:
    """The starts at `positions` against every session from `first` on that has a forward return.

    `baseline` is `Baseline.of` the same arguments, passed in when many keys are graded at once.
    """
    baseline = baseline or Baseline.of(forward, first, horizon)
    return grade_picks(graded_positions(list(positions), forward, first), forward, horizon, baseline)


def grade_picks(picks: np.ndarray, forward: np.ndarray, horizon: int, baseline: Baseline) -> Grade:
    """`grade` of starts already graded (`graded_positions`): a tick finds them once for the grade and the
    verdict's tests."""
    if len(picks) == 0 or len(baseline.values) == 0:
        return Grade(int(len(picks)), None, None, None, None)
    values = forward[picks]
    mean = float(values.mean())
    excess = mean - baseline.mean
    distance = np.abs(picks[:, None] - picks[None, :])
    near = distance < horizon
    weights = np.where(near, 1.0 - distance / horizon, 0.0)
    covariance = np.where(near, baseline.gamma[np.minimum(distance, horizon - 1)], 0.0)
    variance = float((weights * covariance).sum()) / len(picks) ** 2
    t = excess / math.sqrt(variance) if variance > 0 else None
    return Grade(len(picks), round(mean, 4), round(excess, 4), None if t is None else round(t, 2),
                 round(float((values > 0).mean()), 4))


def verdict_words(entry: dict[str, Any], tests: int) -> str:
    """The verdict as a subscriber reads it, never saying more than `record_trust` allows."""
    verdict, p = entry.get("verdict"), entry.get("p_adjusted")
    counted = f"{tests} test{'s' if tests != 1 else ''}"
    if verdict == TOO_FEW or verdict is None:
        return f"too few graded starts to judge ({MIN_STARTS} needed)"
    if verdict in (EDGE, AGAINST):
        side = "an edge for small caps" if verdict == EDGE else "against small caps"
        return f"{side}: p {_p(p)} after {counted}, both halves agree"
    if p is not None and p < ALPHA and not eras_agree(entry):
        return "no edge: its two halves disagree"
    return f"no edge: p {_p(p)} once {counted} are counted, could be chance"


def record_line(entry: dict[str, Any] | None, since: str, tests: int = 0) -> str:
    """One short line of a key's record for a chat: graded starts, the mean lead, the verdict in words."""
    starts = int(entry.get("starts", 0)) if entry else 0
    if not entry or not starts:
        return f"No start since {since} to judge it by."
    horizon = int(entry.get("verdict_horizon") or HORIZONS[-1]) if entry.get("verdict") in (EDGE, AGAINST) \
        else HORIZONS[-1]
    graded = int(entry.get(f"n_{horizon}d", 0))
    plural = "s" if starts != 1 else ""
    counted = f"{starts} start{plural}" + (f", {graded} graded" if graded != starts else "")
    mean = entry.get(f"mean_{horizon}d")
    if mean is None or not graded:
        return f"Since {since}: {counted}, too recent to grade."
    base = entry.get(f"base_{horizon}d")
    versus = f" (any day: {_signed(base)})" if base is not None else ""
    if round(mean, 1) == 0:  # "beat SPY by 0.0 points" reads as a contradiction
        lead = "IWM and SPY were even on average"
    else:
        lead = f"IWM {'beat' if mean > 0 else 'trailed'} SPY by {abs(mean):.1f} points on average"
    return (f"Since {since}: {counted}; over the next {horizon} sessions {lead}{versus}; "
            f"{verdict_words(entry, tests)}.")


def _p(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "< 0.001" if value < 0.001 else f"{value:.3f}" if value < 0.01 else f"{value:.2f}"


def _signed(value: float) -> str:
    return f"{value:+.1f}".replace("-", "\u2212")
