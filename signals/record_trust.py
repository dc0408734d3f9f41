"""How far a key's record can be trusted: a placebo p-value, adjusted for every test made, and eras.

A record is one test among many: every key at every horizon is graded over the same span, so one
|t| >= 2 among 18 tests is what chance gives. Three checks stand between a record and the word "edge":

- **a placebo**: all of a key's starts shifted together, circularly, over the graded sessions (their
  spacing, and so the overlap of their forward windows, kept), and the key's |excess| compared with
  every shifted copy's. No distribution is assumed, and clustering is priced in by construction.
  Shifts shorter than the horizon are left out: those windows are mostly the real ones.
- **Holm's adjustment** over every (key, horizon) test made (those with enough graded starts), which
  holds the chance of one false edge in the whole table at 5%;
- **eras**: the graded sessions split in two halves, each with its own base rate. A key whose halves
  disagree in sign never reads as an edge, however small its p: an effect that reverses is no effect
  a subscriber can use.

Verdicts: "edge" (small caps beat the base rate after it), "against" (they trailed it), "no edge",
"too few" (fewer than `MIN_STARTS` graded starts at every horizon: nothing was tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

MIN_STARTS = 5  # fewer graded starts than this at a horizon: it is not tested
ALPHA = 0.05  # an adjusted p below this, with eras of one sign, is an edge
PLACEBO_SHIFTS = 1000  # shifted copies per test at most (evenly spaced): p resolves to about 0.001
ERAS = 2

EDGE, AGAINST, NO_EDGE, TOO_FEW = "edge", "against", "no edge", "too few"


@dataclass(frozen=True)
class Test:
    """One (key, horizon) record: where its graded starts are, and its placebo p."""

    key: str
    horizon: int
    picks: np.ndarray  # session positions of the graded starts
    p: float | None


def graded_sessions(forward: np.ndarray, first: int) -> np.ndarray:
    """The sessions a record is graded on: from `first` on, those that have a forward return."""
    return np.flatnonzero(~np.isnan(forward[first:])) + first


def graded_positions(positions: Sequence[int], forward: np.ndarray, first: int) -> np.ndarray:
    """The starts that have a forward return at this horizon, from `first` on, in order."""
    picks = np.sort(np.asarray(positions, dtype=np.int64))
    picks = picks[(picks >= first) & (picks < len(forward))]
    return picks[~np.isnan(forward[picks])]


class Placebo:
    """The shifted copies of one horizon's graded sessions, worked out once for every key graded on them.

    The shift runs over the sessions that have a forward return (a gap in the data is closed up),
    so every shifted start is an ordinary session of the same span. No test when the span is too
    short for 20 shifts outside the horizon.
    """

    def __init__(self, forward: np.ndarray, first: int, horizon: int, shifts: int = PLACEBO_SHIFTS) -> None:
        self.usable = graded_sessions(forward, first)
        count = len(self.usable)
        candidates = np.arange(horizon, count - horizon + 1)
        if len(candidates) > shifts:  # evenly spaced, at least one apart: rounding keeps them distinct
            candidates = np.linspace(horizon, count - horizon, shifts).round().astype(np.int64)
        self.candidates = candidates
        self.values = forward[self.usable]
        self.base = float(self.values.mean()) if count else float("nan")
        self.around = np.concatenate([self.values, self.values])  # a shift past the end reads from the start

    def p(self, picks: np.ndarray) -> float | None:
        """Two-sided: the share of circular shifts of all starts together whose |excess| is at least the
        real one's; None without starts or without 20 shifts."""
        return self.ps({"": picks})[""]

    def ps(self, picks: Mapping[str, np.ndarray]) -> dict[str, float | None]:
        """`p` of each key's starts, every key's shifted copies gathered at once (one key at a time cost more
        in numpy's setting up than in its arithmetic). A key's sums run over its own rows in order, as
        its mean alone would: the same numbers."""
        found: dict[str, float | None] = {key: None for key in picks}
        tested = {key: mine for key, mine in picks.items() if len(mine)}
        if not tested or len(self.candidates) < 20:
            return found
        where = np.searchsorted(self.usable, np.concatenate(list(tested.values())))
        counts = np.array([len(mine) for mine in tested.values()])
        bounds = np.r_[0, np.cumsum(counts)[:-1]]
        observed = np.abs(np.add.reduceat(self.values[where], bounds) / counts - self.base)
        shifted = np.add.reduceat(self.around[where[:, None] + self.candidates[None, :]], bounds, axis=0)
        shifted = shifted / counts[:, None] - self.base
        at_least = (np.abs(shifted) >= observed[:, None] - 1e-12).sum(axis=1)
        for key, count in zip(tested, at_least):
            found[key] = (1 + int(count)) / (1 + len(self.candidates))
        return found


def placebo_p(picks: np.ndarray, forward: np.ndarray, first: int, horizon: int,
              shifts: int = PLACEBO_SHIFTS) -> float | None:
    """One key's placebo p at one horizon (`Placebo` for many keys on the same sessions)."""
    return Placebo(forward, first, horizon, shifts).p(picks)


def holm(pvalues: Mapping[tuple[str, int], float]) -> dict[tuple[str, int], float]:
    """Holm's step-down adjustment: the family-wise error held at the level, for any dependence."""
    order = sorted(pvalues, key=lambda name: pvalues[name])
    family = len(order)
    adjusted: dict[tuple[str, int], float] = {}
    running = 0.0
    for rank, name in enumerate(order):
        running = max(running, min(1.0, (family - rank) * pvalues[name]))
        adjusted[name] = running
    return adjusted


class Eras:
    """One horizon's graded sessions in `ERAS` spans with equal numbers of them, each span's base rate and
    first date worked out once for every key graded on them."""

    def __init__(self, forward: np.ndarray, first: int, sessions: pd.DatetimeIndex) -> None:
        self.forward = forward
        self.spans: list[tuple[int, int, float, str]] = []  # [begin, stop), base rate, first date
        usable = graded_sessions(forward, first)
        if len(usable) < ERAS:
            return
        cuts = [int(usable[len(usable) * k // ERAS]) for k in range(ERAS)]
        for k, begin in enumerate(cuts):
            stop = cuts[k + 1] if k + 1 < ERAS else len(sessions)
            span = forward[begin:stop]
            self.spans.append((begin, stop, float(span[~np.isnan(span)].mean()), sessions[begin].strftime("%Y-%m-%d")))

    def of(self, picks: np.ndarray) -> list[dict[str, Any]]:
        """Each era's first date, graded starts and mean excess over that era's own base rate (points)."""
        out: list[dict[str, Any]] = []
        for begin, stop, base, first in self.spans:
            inside = picks[(picks >= begin) & (picks < stop)]
            excess = float(self.forward[inside].mean()) - base if len(inside) else None
            out.append({"first": first, "starts": int(len(inside)),
                        "mean_excess": None if excess is None else round(excess, 4)})
        return out


def judge(by_key: dict[str, dict[str, Any]], starts: Mapping[str, Sequence[int]],
          forward: Mapping[int, np.ndarray], first: int, sessions: pd.DatetimeIndex,
          graded: Mapping[tuple[str, int], np.ndarray] | None = None) -> int:
    """Add `verdict`, `p_<h>d`, `p_adjusted`, `verdict_horizon` and `eras` to each entry; the tests made.

    `by_key[key]` must already carry `excess_<h>d` (the graded mean minus the base rate); `graded`, when
    the caller has them, each (key, horizon)'s `graded_positions` of `starts`.
    """
    picks = {(key, horizon): graded[(key, horizon)] if graded is not None
             else graded_positions(starts.get(key, ()), series, first)
             for key in by_key for horizon, series in forward.items()}
    found: dict[tuple[str, int], float | None] = {}
    for horizon, series in forward.items():
        placebo = Placebo(series, first, horizon)
        ps = placebo.ps({key: picks[(key, horizon)] for key in by_key if len(picks[(key, horizon)]) >= MIN_STARTS})
        found.update({(key, horizon): p for key, p in ps.items()})
    tests: dict[tuple[str, int], Test] = {}
    for key in by_key:
        for horizon in forward:
            p = found.get((key, horizon))
            tests[(key, horizon)] = Test(key, horizon, picks[(key, horizon)], p)
            by_key[key][f"p_{horizon}d"] = None if p is None else round(p, 4)
    made = {name: test.p for name, test in tests.items() if test.p is not None}
    adjusted = holm(made)  # None filtered out above
    spans = {horizon: Eras(series, first, sessions) for horizon, series in forward.items()}
    longest = max(forward) if forward else 0
    for key, entry in by_key.items():
        mine = {horizon: adjusted[(key, horizon)] for horizon in forward if (key, horizon) in adjusted}
        horizon = min(mine, key=lambda h: (mine[h], -h)) if mine else longest
        entry["p_adjusted"] = round(mine[horizon], 4) if mine else None
        entry["verdict_horizon"] = horizon
        test = tests.get((key, horizon))
        entry["eras"] = spans[horizon].of(test.picks) if test else []
        entry["verdict"] = _verdict(entry, horizon, bool(mine))
    return len(made)


def _verdict(entry: dict[str, Any], horizon: int, tested: bool) -> str:
    if not tested:
        return TOO_FEW
    excess = entry.get(f"excess_{horizon}d")
    if entry["p_adjusted"] is None or excess is None or entry["p_adjusted"] >= ALPHA:
        return NO_EDGE
    signs = [era["mean_excess"] for era in entry["eras"]]
    if len(signs) < ERAS or any(value is None or np.sign(value) != np.sign(excess) for value in signs):
        return NO_EDGE
    return EDGE if excess > 0 else AGAINST


def eras_agree(entry: Mapping[str, Any]) -> bool:
    """Whether every era has graded starts and the sign of the whole record."""
    horizon = entry.get("verdict_horizon")
    excess = entry.get(f"excess_{horizon}d")
    values = [era.get("mean_excess") for era in entry.get("eras", [])]
    return (excess is not None and len(values) >= ERAS
            and all(value is not None and np.sign(value) == np.sign(excess) for value in values))
