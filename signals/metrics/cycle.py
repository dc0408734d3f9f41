"""The small-cap cycle: which of small and large caps leads, by a causal swing rule on their ratio.

The ratio is IWM/SPY (the closes the breadth is computed on), or ^RUT/^GSPC where the ETFs are
absent; where both exist but the ETFs start later, the index ratio is chain-linked to the ETF ratio
at the ETFs' first common session (percent moves, all the rule reads, are kept).

The rule, with a band (default 8%): from the last turn, track the ratio's lowest and highest close.
A close at least the band above the lowest close since the last turn means small caps lead since
that low's session (the phase is *confirmed* on this session); a close at least the band below the
highest close since the last turn means large caps lead since that high's session. Before the first
turn both are tracked (a rise is checked first) and the leader is unknown. Each session's state uses
only closes up to it: the phase start is dated back to the turn, but it is known only once confirmed.
"""

from __future__ import annotations

from typing import Any

import statistics
from dataclasses import dataclass

import numpy as np

from signals.market_data import MarketData
from signals.metrics.carry import Carry, Progress
from signals.metrics.group import Columns, Computed, MetricGroup, MetricInputs
from signals.tickers import RUSSELL_2000, SMALL_CAP_ETF, SP500_ETF, SP500_INDEX

SMALL, LARGE = 1.0, -1.0  # the `leader` column; NaN: not known yet
GAP_SESSIONS = 21  # more sessions than this without a close (a gap in the history): the cycle starts over
ETF_PAIR, INDEX_PAIR = f"{SMALL_CAP_ETF}/{SP500_ETF}", f"{RUSSELL_2000}/{SP500_INDEX}"


@dataclass(frozen=True)
class Pair:
    """Which ratio the cycle reads, and where an index ratio was linked in front of the ETF ratio."""

    name: str | None  # "IWM/SPY", "^RUT/^GSPC", or None when neither exists
    inputs: tuple[str, ...]
    linked_before: str | None = None  # the first session of the ETF ratio, when the index ratio precedes it


def cycle_ratio(data: MarketData, notes: list[str]) -> tuple[np.ndarray, Pair]:
    close = data.close
    sessions = len(close.index)
    etfs = data.has(SMALL_CAP_ETF) and data.has(SP500_ETF)
    indices = data.has(RUSSELL_2000) and data.has(SP500_INDEX)
    with np.errstate(divide="ignore", invalid="ignore"):
        etf = close[SMALL_CAP_ETF].to_numpy(dtype="float64") / close[SP500_ETF].to_numpy(dtype="float64") \
            if etfs else np.full(sessions, np.nan)
        index = close[RUSSELL_2000].to_numpy(dtype="float64") / close[SP500_INDEX].to_numpy(dtype="float64") \
            if indices else np.full(sessions, np.nan)
    if not etfs and not indices:
        notes.append(f"cycle: neither {ETF_PAIR} nor {INDEX_PAIR} has data; the small-cap cycle is unavailable")
        return np.full(sessions, np.nan), Pair(None, ())
    if not etfs:
        return index, Pair(INDEX_PAIR, (RUSSELL_2000, SP500_INDEX))
    first = int(np.flatnonzero(~np.isnan(etf))[0])
    if indices and first > 0 and not np.isnan(index[first]) and np.any(~np.isnan(index[:first])):
        linked = etf.copy()
        linked[:first] = index[:first] * (etf[first] / index[first])
        day = close.index[first].strftime("%Y-%m-%d")
        return linked, Pair(ETF_PAIR, (SMALL_CAP_ETF, SP500_ETF, RUSSELL_2000, SP500_INDEX), day)
    return etf, Pair(ETF_PAIR, (SMALL_CAP_ETF, SP500_ETF))


COLUMNS = ("leader", "since", "confirmed", "completed", "median_sessions")


@dataclass(frozen=True)
class SwingProgress(Progress):
    """The swing rule after the ratio in `inputs`: its rows so far (sessions x `COLUMNS`) and its state."""

    band_pct: float
    rows: np.ndarray
    leader: float
    since: int
    confirmed: int
    low: tuple[float, int] | None  # (close, position) since the last turn
    high: tuple[float, int] | None
    missing: int
    lengths: dict[float, list[int]]  # each leader's finished phases
    medians: dict[float, float]


def swing_cycle(ratio: np.ndarray, band_pct: float) -> dict[str, np.ndarray]:
    """Per session: `leader` (SMALL, LARGE, NaN), `since` and `confirmed` (positions, NaN before the
    first turn), and for the current leader `completed` (its finished phases so far) and
    `median_sessions` (their median length in sessions, a phase ending where the next begins)."""
    return swing_resumed(ratio, band_pct)[0]


def swing_resumed(ratio: np.ndarray, band_pct: float,
                  progress: SwingProgress | None = None) -> tuple[dict[str, np.ndarray], SwingProgress]:
    """`swing_cycle` and where the rule got to; given the `progress` of a start of this ratio, the rule
    goes on from it (signals/metrics/carry.py) instead of from the first session."""
    band = band_pct / 100.0
    values = ratio.tolist()
    nan = float("nan")
    earlier = np.empty((0, len(COLUMNS)))  # the rows of the sessions read before
    if progress is not None and progress.band_pct == band_pct and progress.continues((ratio,)):
        earlier = progress.rows
        done = len(earlier)
        leader, since, confirmed = progress.leader, progress.since, progress.confirmed
        low, high, missing = progress.low, progress.high, progress.missing
        lengths = {side: list(finished) for side, finished in progress.lengths.items()}
        medians = dict(progress.medians)
    else:
        done, leader, since, confirmed, low, high, missing = 0, 0.0, -1, -1, None, None, 0
        lengths = {SMALL: [], LARGE: []}
        medians = {SMALL: nan, LARGE: nan}
    # rows as Python tuples and each median taken when a phase ends: storing into numpy and taking the
    # median session by session cost a millisecond a tick
    rows: list[tuple[float, float, float, float, float]] = []
    for t in range(done, len(values)):
        x = values[t]
        missing = missing + 1 if x != x else 0
        if missing > GAP_SESSIONS:  # a gap in the data: the phase is cut, unfinished, and the rule starts over
            leader, since, confirmed, low, high = 0.0, -1, -1, None, None
        elif x != x:  # no close: the state holds
            pass
        elif low is None or high is None:
            low = high = (x, t)
        elif leader != SMALL and x >= low[0] * (1.0 + band):  # a rise is checked first
            if leader == LARGE:
                lengths[LARGE].append(low[1] - since)
                medians[LARGE] = statistics.median(lengths[LARGE])
            leader, since, confirmed = SMALL, low[1], t
            segment = ratio[since:t + 1]
            peak = since + int(np.nanargmax(segment))
            high, low = (values[peak], peak), (values[since], since)
        elif leader != LARGE and x <= high[0] * (1.0 - band):
            if leader == SMALL:
                lengths[SMALL].append(high[1] - since)
                medians[SMALL] = statistics.median(lengths[SMALL])
            leader, since, confirmed = LARGE, high[1], t
            segment = ratio[since:t + 1]
            trough = since + int(np.nanargmin(segment))
            low, high = (values[trough], trough), (values[since], since)
        else:
            if x < low[0]:
                low = (x, t)
            if x > high[0]:
                high = (x, t)
        if leader:
            rows.append((leader, since, confirmed, len(lengths[leader]), medians[leader]))
        else:
            rows.append((nan, nan, nan, nan, nan))
    table = np.concatenate([earlier, np.array(rows, dtype="float64").reshape(len(rows), len(COLUMNS))])
    reached = SwingProgress((ratio,), band_pct, table, leader, since, confirmed, low, high, missing, lengths, medians)
    return dict(zip(COLUMNS, np.ascontiguousarray(table.T))), reached


def compute_cycle(data: MarketData, notes: list[str], band_pct: float,
                  carry: Carry | None = None) -> tuple[Columns, Pair]:
    """The cycle's columns (one value per session) and the pair it reads."""
    ratio, pair = cycle_ratio(data, notes)
    carry = carry or Carry()
    state, progress = swing_resumed(ratio, band_pct, carry.resume("cycle", SwingProgress, (ratio,)))
    carry.keep("cycle", progress)
    positions = np.arange(len(ratio))
    since = state["since"]
    start_ratio = np.full(len(ratio), np.nan)
    known = ~np.isnan(since)
    start_ratio[known] = ratio[since[known].astype(np.int64)]
    with np.errstate(divide="ignore", invalid="ignore"):
        change = (ratio / start_ratio - 1.0) * 100.0
    columns = {
        "ratio": ratio,
        "leader": state["leader"],
        "since_position": since,
        "confirmed_position": state["confirmed"],
        "sessions": np.where(known, positions - since, np.nan),
        "ratio_change_pct": change,
        "completed": state["completed"],
        "median_sessions": state["median_sessions"],
    }
    return columns, pair


def cycle_snapshot(computed: Computed[Pair], position: int) -> dict[str, Any]:
    """One session's cycle as `metrics --json` shows it (DESIGN's contract), with the phases so far."""
    pair = computed.facts
    sessions = computed.index
    row = {name: computed.values(name)[position] for name in computed.names}
    leader = row["leader"]

    def day(value: float) -> str | None:
        return None if np.isnan(value) else sessions[int(value)].strftime("%Y-%m-%d")

    def number(value: float, digits: int = 4) -> float | int | None:
        if np.isnan(value):
            return None
        return int(value) if float(value).is_integer() and digits == 0 else round(float(value), digits)

    return {
        "pair": pair.name,
        "linked_before": pair.linked_before,
        "leader": None if np.isnan(leader) else ("small" if leader == SMALL else "large"),
        "since": day(row["since_position"]),
        "confirmed": day(row["confirmed_position"]),
        "sessions": number(row["sessions"], 0),
        "ratio_change_pct": number(row["ratio_change_pct"]),
        "completed": number(row["completed"], 0),
        "median_sessions": number(row["median_sessions"], 1),
        "phases": phases(computed, position + 1),
    }


def phases(computed: Computed[Pair], end: int | None = None) -> list[dict[str, Any]]:
    """Every phase before session `end` (all, by default): leader, since, confirmed, sessions (to the next
    phase's start, or to the last session for the current one), the ratio's change over it, and whether
    it ended."""
    since = computed.column("since_position")[:end]
    leader = computed.column("leader")[:end]
    ratio = computed.column("ratio")[:end]
    changed = np.ones(len(since), dtype=bool)
    changed[1:] = since[1:] != since[:-1]  # NaN differs from everything, itself included
    starts = np.flatnonzero(~np.isnan(since) & changed).tolist()
    out = []
    sessions = computed.index
    for number, confirmed in enumerate(starts):
        begin = int(since[confirmed])
        following = starts[number + 1] if number + 1 < len(starts) else len(since)
        cut = np.isnan(since[confirmed:following])  # a gap in the data ended the phase unfinished
        if cut.any():
            last = confirmed + int(np.flatnonzero(cut)[0]) - 1
            end = max(begin, last - int(np.isnan(ratio[begin:last + 1][::-1]).argmin()))  # its last close
            ended = False
        else:
            end = int(since[following]) if following < len(since) else len(since) - 1
            ended = following < len(since)
        out.append({"leader": "small" if leader[confirmed] == SMALL else "large",
                    "since": sessions[begin].strftime("%Y-%m-%d"),
                    "confirmed": sessions[confirmed].strftime("%Y-%m-%d"),
                    "sessions": end - begin,
                    "ratio_change_pct": round(float((ratio[end] / ratio[begin] - 1.0) * 100.0), 2),
                    "ended": bool(ended), "cut_by_gap": bool(cut.any())})
    return out


def _computed(inputs: MetricInputs) -> Computed[Pair]:
    columns, pair = compute_cycle(inputs.data, inputs.notes, inputs.settings.cycle.band_pct, inputs.carry)
    return Computed(columns, inputs.data.close.index, pair)


# A phase, not a row of numbers: its snapshot is the leader, the dates and the phases so far.
GROUP = MetricGroup("cycle", reads=(SMALL_CAP_ETF, SP500_ETF, RUSSELL_2000, SP500_INDEX), compute=_computed,
                    snapshot=cycle_snapshot)
