"""Breadth: how the typical member of a universe (S&P 500, Russell 2000) is doing, next to its index.

A rotation out of a few mega-caps shows first here: the index near its high while the median
member is far from its own, fewer members above their averages, equal weight lagging cap weight.
Computed over the whole (session x member) frame at once.

Survivorship: the universe lists are today's membership, so historical breadth over them is biased
towards the survivors (strongly so for the Russell 2000, whose members list and delist often).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from signals.universe_specs import UNIVERSE_BY_NAME, UNIVERSES
from signals.market_data import MarketData
from signals.metrics.rolling import (
    FEW_ROWS,
    change_pct,
    ema,
    pct_from,
    rolling_high,
    share_pct,
    shifted,
    sma,
    window_extremes,
)
from signals.metrics.group import Computed, MetricGroup
from signals.parallel import THREADS, in_order
from signals.tickers import EQUAL_WEIGHT_ETF, SP500_ETF, SP500_INDEX

YEAR = 252
SHORT_AVERAGE = 20
FAST_AVERAGE = 50
SLOW_AVERAGE = 200
AVERAGES = ((SHORT_AVERAGE, "20dma"), (FAST_AVERAGE, "50dma"), (SLOW_AVERAGE, "200dma"))
HIGH_LOW_SESSIONS = 10  # StockCharts' High-Low Index: a 10-session average of the record high percent
MCCLELLAN_FAST, MCCLELLAN_SLOW = 19, 39
ZWEIG_SPAN = 10
TREND_SESSIONS = 20


def universe_breadth(data: MarketData, universe: str, notes: list[str],
                     aggregates: Aggregates | None = None) -> Computed[None]:
    """Breadth over one universe's members beside that universe's index (^GSPC, ^RUT) and, where the
    universe has one, its equal-weight ETF against its cap-weighted one (RSP/SPY); columns documented in
    README.md (percentages in percent).

    The (session x member) work is `member_aggregates`; a live engine that already has it for the
    earlier sessions passes `aggregates` in, and only the cheap per-session series are built here.
    """
    columns = _universe_columns(data, universe, notes, aggregates)
    spec = UNIVERSE_BY_NAME.get(universe)
    if spec is not None and spec.equal_weight is not None:
        columns.update(_equal_weight_columns(data, spec.equal_weight, spec.etf, notes))
    return Computed(columns, data.close.index, None)


def _equal_weight_columns(data: MarketData, equal: str, cap: str, notes: list[str]) -> dict[str, np.ndarray]:
    prefix = f"{equal.lower()}_{cap.lower()}"
    if data.has(equal) and data.has(cap):
        ratio = data.close[equal].to_numpy(dtype="float64") / data.close[cap].to_numpy(dtype="float64")
    else:
        notes.append(f"breadth: {equal} or {cap} has no data; {equal}/{cap} is unavailable")
        ratio = np.full(len(data.close.index), np.nan)
    return {f"{prefix}_ratio": ratio,
            f"{prefix}_vs_50dma_pct": pct_from(ratio, sma(ratio, FAST_AVERAGE)),
            f"{prefix}_change_50d_pct": change_pct(ratio, FAST_AVERAGE)}


def _universe_columns(data: MarketData, universe: str, notes: list[str],
                      aggregates: Aggregates | None) -> dict[str, np.ndarray]:
    """The columns of `universe_breadth`."""
    members = data.universe_members(universe)
    if not members:
        notes.append(f"breadth: no {universe} members with prices; its breadth metrics are unavailable")
    count = aggregates if aggregates is not None else aggregate_rows(
        data.close.loc[:, list(members)].to_numpy(dtype="float64"), sectors=universe_sectors(data, universe)[1])
    out: dict[str, np.ndarray] = {}
    out["members"] = count["members"]
    out["pct_above_20dma"] = share_pct(count["above_20dma"], count["with_20dma"])
    out["pct_above_50dma"] = share_pct(count["above_50dma"], count["with_50dma"])
    out["pct_above_200dma"] = share_pct(count["above_200dma"], count["with_200dma"])
    out["members_with_200dma"] = count["with_200dma"]
    out["median_pct_from_52w_high"] = count["median_pct_from_52w_high"]
    out["new_highs"] = count["new_highs"]
    out["new_lows"] = count["new_lows"]
    out["net_new_highs"] = count["new_highs"] - count["new_lows"]
    out["high_low_index"] = high_low_index(count["new_highs"], count["new_lows"],
                                           ~np.isnan(count["median_pct_from_52w_high"]))

    advances = count["advances"].astype("float64")
    declines = count["declines"].astype("float64")
    out["advances"] = count["advances"]
    out["declines"] = count["declines"]
    out["ad_line"] = np.cumsum(advances - declines)
    moving = advances + declines
    active = np.where(moving > 0, moving, np.nan)
    ratio_adjusted = (advances - declines) / active * 1000.0
    fast, slow = ema(ratio_adjusted, MCCLELLAN_FAST), ema(ratio_adjusted, MCCLELLAN_SLOW)
    out["mcclellan_oscillator"] = fast - slow
    out["mcclellan_summation"] = summation_level(fast, slow)
    out["zweig_thrust_ema"] = ema(advances / active, ZWEIG_SPAN)

    index_close = _index_close(data, universe, notes).to_numpy(dtype="float64")
    out["index_close"] = index_close
    out["index_pct_from_52w_high"] = pct_from(index_close, rolling_high(index_close, YEAR))
    out["index_change_20d_pct"] = change_pct(index_close, TREND_SESSIONS)
    out["pct_above_200dma_change_20d"] = out["pct_above_200dma"] - shifted(out["pct_above_200dma"], TREND_SESSIONS)
    none = np.zeros(len(count["members"]), dtype=np.int64)  # a sector without members' columns
    for number, sector in enumerate(universe_sectors(data, universe)[0]):
        out[f"sector_{slug(sector)}_pct_above_50dma"] = share_pct(count.get(f"sector{number}_above_50dma", none),
                                                                   count.get(f"sector{number}_with_50dma", none))
    return out


def high_low_index(highs: np.ndarray, lows: np.ndarray, defined: np.ndarray) -> np.ndarray:
    """StockCharts' High-Low Index: the 10-session simple average of the record high percent,
    new highs / (new highs + new lows) x 100, a session with neither counting 50; NaN before any
    member has a year of history (no 52-week high or low exists yet)."""
    total = (highs + lows).astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        record_high = np.where(total > 0, highs / total * 100.0, 50.0)
    record_high = np.where(defined, record_high, np.nan)
    return sma(record_high, HIGH_LOW_SESSIONS)


def summation_level(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """The Ratio-Adjusted Summation Index as a level that does not depend on where the data starts.

    The running sum of the oscillator, summed from the first session of data, carries a seed term
    for ever: with both EMAs seeded by the first session's value x0, sum(EMA19 - EMA39) telescopes to
    19 x EMA39 - 9 x EMA19 - 10 x x0, so the level moves by thousands with the first day of data.
    McClellan's non-cumulative form drops it: oscillator - (10 x EMA19 - 20 x EMA39), which is
    19 x EMA39 - 9 x EMA19 (the running sum had every session before the data been flat). The EMAs
    forget their seed (0.95^n), so two histories that start a year apart agree to a fraction of a
    point. Ratio-adjusted, it has no +1,000 base: zero is neutral, +/-500 the usual strong readings
    (StockCharts ChartSchool "McClellan Summation Index"; thinkorswim's non-cumulative mode).
    """
    return (MCCLELLAN_SLOW_WEIGHT * slow) - (MCCLELLAN_FAST_WEIGHT * fast)


# The weights of the non-cumulative Summation: 1/alpha - 1 for alpha = 2/(19+1) and 2/(39+1).
MCCLELLAN_FAST_WEIGHT = (MCCLELLAN_FAST + 1) / 2 - 1
MCCLELLAN_SLOW_WEIGHT = (MCCLELLAN_SLOW + 1) / 2 - 1


# iShares names a few GICS sectors its own way; breadth by sector uses the GICS names.
_SECTOR_NAMES = {"communication": "Communication Services", "telecommunication services": "Communication Services",
                 "information technology": "Information Technology", "it": "Information Technology"}


def sector_name(raw: object) -> str:
    text = str(raw or "").strip()
    return _SECTOR_NAMES.get(text.lower(), text)


def slug(name: str) -> str:
    """"Health Care" -> "health_care": a sector as a metric path's part."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def sector_order(data: MarketData) -> list[str]:
    """The GICS sectors, those small caps are heaviest in first (by the Russell 2000 list's weights, or
    its member counts), then any the small-cap list lacks."""
    weights: dict[str, float] = {}
    small = data.universe_lists.get("russell2000")
    if small is not None and len(small) and "sector" in small:
        sectors = small["sector"].map(sector_name)
        weight = pd.to_numeric(small["weight"], errors="coerce") if "weight" in small else None
        if weight is not None and weight.notna().any():
            weights = weight.groupby(sectors).sum().to_dict()
        else:
            weights = sectors.value_counts().astype(float).to_dict()
    others: dict[str, int] = {}
    for listing in data.universe_lists.values():
        if "sector" in listing:
            for name, number in listing["sector"].map(sector_name).value_counts().items():
                others[name] = others.get(name, 0) + int(number)
    ranked = sorted((name for name in weights if name), key=lambda name: -weights[name])
    return ranked + sorted((name for name in others if name and name not in weights), key=lambda name: -others[name])


def universe_sectors(data: MarketData, universe: str) -> tuple[list[str], np.ndarray]:
    """(the sectors of the universe's members, in `sector_order`; each member's sector number, -1 if none).

    Worked out once per loaded history: the lists do not change between a tick's slices."""
    key = ("sectors", universe)
    if key not in data.shared:
        data.shared[key] = _universe_sectors(data, universe)
    return data.shared[key]  # type: ignore[return-value]  # the cache holds what the line above put there


def _universe_sectors(data: MarketData, universe: str) -> tuple[list[str], np.ndarray]:
    listing = data.constituents if universe == "sp500" else data.universe_lists.get(universe)
    members = data.universe_members(universe)
    if listing is None or "sector" not in listing or not len(listing):
        return [], np.full(len(members), -1)
    of = dict(zip(listing["ticker"], listing["sector"].map(sector_name)))
    present = {of.get(member, "") for member in members} - {""}
    names = [name for name in sector_order(data) if name in present]
    number = {name: position for position, name in enumerate(names)}
    return names, np.array([number.get(of.get(member, ""), -1) for member in members], dtype=np.int64)


AGGREGATE_LOOKBACK = YEAR  # rows before the first wanted one that `member_aggregates` needs
_BLOCK = 512  # members per block of integer window sums (5,000 x 25 years in bounded memory)


@dataclass(frozen=True)
class WindowSums:
    """Each member's window sums (price micro-units) and gap counts for every average's window, ending at
    the last row aggregated. With them the next row costs its own bars and the bars leaving each window,
    not the 200 rows of the longest one: integers, so the same numbers whichever way they are reached."""

    sums: dict[int, np.ndarray]  # window -> per member, int64
    gaps: dict[int, np.ndarray]  # window -> per member, sessions without a close


def _units(values: np.ndarray, have: np.ndarray) -> np.ndarray:
    """Closes as integer micro-units (0 where missing): window sums of these are exact."""
    scaled = np.where(have, values, 0.0)
    np.clip(scaled, 0.0, 1e8, out=scaled)
    scaled *= 1e6
    return np.rint(scaled, out=scaled).astype(np.int64)


def _count_above_averages(values: np.ndarray, first: int, sectors: np.ndarray | None = None,
                          running: WindowSums | None = None) -> tuple[dict[str, np.ndarray], WindowSums]:
    """Members above their 20/50/200-session average, and members that have one, in rows `first`..; with
    `sectors` (one-hot, members x sectors), also per sector for the 50-session average. Also the window
    sums at the last row, for `running` on the next: given those of the row before the one row wanted
    (with a full window of rows before it), that row is counted from them.

    Window sums are exact integer sums: running sums differenced over a long span, each window
    summed on its own for the few rows a tick wants (the same integers either way).
    """
    counts: dict[str, np.ndarray] = {}
    rows = np.arange(first, len(values))
    resumed = running is not None and len(rows) == 1 and first >= SLOW_AVERAGE \
        and all(window in running.sums for window, _ in AVERAGES)  # sums of an empty aggregation are none
    start = first if resumed else max(0, first - SLOW_AVERAGE)  # no window reaches further back
    have = ~np.isnan(values[start:])  # the rows read, not the year before a tick's one row
    units, gaps = _units(values[start:], have), ~have
    few = len(rows) <= FEW_ROWS
    shape = (len(rows), values.shape[1])
    # one set of buffers for the three averages: fresh memory is most of this function's cost
    window_sum, window_gaps = np.empty(shape, dtype=np.int64), np.empty(shape, dtype=np.int32)
    scaled, defined, above = np.empty(shape, dtype=np.int64), np.empty(shape, dtype=bool), np.empty(shape, dtype=bool)
    if not few:
        sums, gap_sums = np.cumsum(units, axis=0), np.cumsum(gaps, axis=0, dtype=np.int32)
    last = WindowSums({}, {})
    for window, name in AVERAGES:
        if resumed and running is not None:
            leaving = first - window  # the row that leaves the window as the new one enters it
            had = ~np.isnan(values[leaving])
            window_sum[0] = running.sums[window] + units[0] - _units(values[leaving], had)
            window_gaps[0] = running.gaps[window] + gaps[0] - ~had
        elif few:
            for at, row in enumerate(rows):
                window_sum[at] = units[max(0, row - start - window + 1):row - start + 1].sum(axis=0)
                window_gaps[at] = gaps[max(0, row - start - window + 1):row - start + 1].sum(axis=0)
        else:
            # the running sums' row just before each window: for the rows from `full` on, a run of rows
            full = min(len(rows), max(0, window + start - first))  # rows whose window starts at the first row
            before, at = first + full - window - start, first - start
            for target, running_sums in ((window_sum, sums), (window_gaps, gap_sums)):
                target[:full] = running_sums[at:at + full]
                np.subtract(running_sums[at + full:], running_sums[before:before + len(rows) - full], out=target[full:])
        if len(rows):
            last.sums[window], last.gaps[window] = window_sum[-1].copy(), window_gaps[-1].astype(np.int64)
        np.equal(window_gaps, 0, out=defined)
        defined &= have[first - start:]
        defined[rows < window - 1] = False
        np.multiply(units[first - start:], window, out=scaled)
        np.greater(scaled, window_sum, out=above)
        above &= defined
        counts[f"above_{name}"] = above.sum(axis=1)
        counts[f"with_{name}"] = defined.sum(axis=1)
        if sectors is not None and window == FAST_AVERAGE:
            counts["sector_above_50dma"] = above.astype(np.int64) @ sectors
            counts["sector_with_50dma"] = defined.astype(np.int64) @ sectors
    return counts, last


def _block_aggregates(values: np.ndarray, first: int, sectors: np.ndarray | None,
                      gap_from_high: np.ndarray,
                      running: WindowSums | None) -> tuple[dict[str, np.ndarray], WindowSums]:
    """One block of members: its counts (to be summed over blocks), its columns of `gap_from_high` and
    its members' window sums at the last row."""
    counts, last = _count_above_averages(values, first, sectors, running)
    with np.errstate(invalid="ignore", divide="ignore"):
        high, low = window_extremes(values, YEAR, first)
        part = values[first:]
        np.divide(part, high, out=gap_from_high)
        gap_from_high -= 1.0
        gap_from_high *= 100.0
        counts["new_highs"] = (part >= high).sum(axis=1)
        counts["new_lows"] = (part <= low).sum(axis=1)
    return counts, last


Aggregates = Mapping[str, np.ndarray]  # one array per column of `member_aggregates`, one row per session


def member_aggregates(close: pd.DataFrame, first: int = 0, sectors: np.ndarray | None = None) -> pd.DataFrame:
    """`aggregate_rows` of a (session x member) frame, as a frame indexed by its sessions from `first` on."""
    return pd.DataFrame(aggregate_rows(close.to_numpy(dtype="float64"), first, sectors), index=close.index[first:])


def aggregate_rows(values: np.ndarray, first: int = 0, sectors: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """`aggregate_rows_resumed` without window sums to start from."""
    return aggregate_rows_resumed(values, first, sectors)[0]


def aggregate_rows_resumed(values: np.ndarray, first: int = 0, sectors: np.ndarray | None = None,
                           running: WindowSums | None = None) -> tuple[dict[str, np.ndarray], WindowSums]:
    """Per session from row `first` on, counts and the median over the members (the columns of `values`):
    the only (session x member) work.

    `sectors` (one sector number per member, -1 for none) adds each sector's members above their
    50-session average and members that have one: columns `sector<k>_above_50dma`, `sector<k>_with_50dma`.

    Each row depends on that row and the `AGGREGATE_LOOKBACK` rows before it, and on nothing
    else, bit for bit: the averages are exact integer window sums (prices in micro-units), not a
    running float sum whose rounding depends on where the series starts, and highs and lows are
    exact. So the last session computed from a year-long tail equals the same session computed
    over all history, and the live tick's numbers equal the replay's. A tick wants one row: the
    rows before `first` are read, never aggregated.

    Blocks of members bound the integer temporaries (5,000 x 25 years in bounded memory); over a
    whole history they run side by side (signals/parallel.py), each writing its own columns; their counts
    are integers, summed in block order.

    Also each member's window sums at the last row: a live engine passes them back as `running` with
    the next session's row, which then reads that row and the rows leaving the windows, not 200 rows.
    """
    wanted = len(values) - first
    one_hot = None
    if sectors is not None:
        groups = int(sectors.max()) + 1 if len(sectors) else 0
        one_hot = np.zeros((len(sectors), groups), dtype=np.int64)
        one_hot[np.flatnonzero(sectors >= 0), sectors[sectors >= 0]] = 1
    threads = THREADS if wanted > FEW_ROWS else 1
    # a tick's few rows: every member in one block (a year of rows is small); a history: at least a block a thread
    size = max(1, values.shape[1] if threads == 1 else min(_BLOCK, -(-values.shape[1] // threads)))
    blocks = [slice(column, column + size) for column in range(0, values.shape[1], size)]
    gap_from_high = np.empty((wanted, values.shape[1]))

    def block_counts(block: slice) -> tuple[dict[str, np.ndarray], WindowSums]:
        mine = None if running is None else WindowSums({w: sums[block] for w, sums in running.sums.items()},
                                                       {w: gaps[block] for w, gaps in running.gaps.items()})
        return _block_aggregates(values[:, block], first,
                                 None if one_hot is None else one_hot[block], gap_from_high[:, block], mine)

    done = in_order(block_counts, blocks, threads)
    parts = [counts for counts, _ in done]
    lasts = [last for _, last in done]
    windows = lasts[0].sums if lasts else {}
    last = WindowSums({w: np.concatenate([part.sums[w] for part in lasts]) for w in windows},
                      {w: np.concatenate([part.gaps[w] for part in lasts]) for w in windows})

    out: dict[str, np.ndarray] = {"members": np.count_nonzero(~np.isnan(values[first:]), axis=1).astype("int64")}
    for _, name in AVERAGES:
        for kind in ("above", "with"):
            out[f"{kind}_{name}"] = _summed(parts, f"{kind}_{name}", wanted)
    if one_hot is not None:
        for kind in ("above_50dma", "with_50dma"):
            per_sector = _summed(parts, f"sector_{kind}", (wanted, one_hot.shape[1]))
            for group in range(per_sector.shape[1]):
                out[f"sector{group}_{kind}"] = per_sector[:, group]
    step = max(1, -(-wanted // threads))  # the rows in a part a core each
    parts_of_rows = [slice(row, row + step) for row in range(0, wanted, step)]
    medians = in_order(lambda part: row_medians(gap_from_high[part]), parts_of_rows, threads)
    out["median_pct_from_52w_high"] = np.concatenate(medians) if medians else np.empty(0)
    out["new_highs"] = _summed(parts, "new_highs", wanted)
    out["new_lows"] = _summed(parts, "new_lows", wanted)
    out["advances"], out["declines"] = _advances_declines(values, first)
    return out, last


_ROWS_AT_ONCE = 64  # rows compared per step: the masks stay in the cache instead of spanning the history


def _advances_declines(values: np.ndarray, first: int) -> tuple[np.ndarray, np.ndarray]:
    """Members whose close rose, and fell, from the session before, in rows `first`..: a close above
    the one before is a positive change (a gap on either side is neither), compared a few rows at a
    time rather than through a difference of the whole history and masks as large."""
    advances, declines = np.zeros(len(values) - first, dtype=np.int64), np.zeros(len(values) - first, dtype=np.int64)
    for start in range(max(first, 1), len(values), _ROWS_AT_ONCE):
        today = values[start:start + _ROWS_AT_ONCE]
        before = values[start - 1:start - 1 + len(today)]
        rows = slice(start - first, start - first + len(today))
        advances[rows] = np.count_nonzero(today > before, axis=1)
        declines[rows] = np.count_nonzero(today < before, axis=1)
    return advances, declines


def row_medians(values: np.ndarray) -> np.ndarray:
    """Each row's median over its defined values (NaN for a row with none): `np.nanmedian(axis=1)`'s
    numbers, the middle value or the mean of the two middle ones, from one sort of the rows (NaN sorts
    last) instead of a selection per row (half the time over a history, and a sort runs on a core per part)."""
    if not values.shape[1]:
        return np.full(len(values), np.nan)
    ordered = np.sort(values, axis=1)
    counts = values.shape[1] - np.isnan(values).sum(axis=1)
    rows = np.arange(len(values))
    low = ordered[rows, np.maximum(counts - 1, 0) // 2]
    high = ordered[rows, np.minimum(counts // 2, values.shape[1] - 1)]
    medians = np.where(counts % 2 == 1, low, (low + high) / 2)
    medians[counts == 0] = np.nan
    return medians


def _summed(parts: list[dict[str, np.ndarray]], name: str, shape: int | tuple[int, int]) -> np.ndarray:
    total = np.zeros(shape, dtype=np.int64)
    for part in parts:
        total += part[name]
    return total


# Each universe's own index, and the ETF that stands in for it when the index file is missing.
UNIVERSE_INDEX = {u.name: (u.index, u.etf) for u in UNIVERSES}
UNIVERSE_LABELS = {u.name: u.label for u in UNIVERSES}


def _index_close(data: MarketData, universe: str, notes: list[str]) -> pd.Series:
    """The universe's index; its ETF stands in (with a note) when the index file is missing."""
    index, etf = UNIVERSE_INDEX.get(universe, (SP500_INDEX, SP500_ETF))
    if data.has(index):
        return data.close[index]
    if data.has(etf):
        notes.append(f"breadth: {index} has no data; {etf} stands in for it")
        return data.close[etf]
    notes.append(f"breadth: neither {index} nor {etf} has data; {universe} index metrics are unavailable")
    return pd.Series(np.nan, index=data.close.index)


# The S&P 500's breadth is its universe's (the universes are computed before any group: they are the
# one (session x member) pass); the breadth conditions read the index and RSP/SPY.
GROUP = MetricGroup("breadth", reads=(SP500_INDEX, SP500_ETF, EQUAL_WEIGHT_ETF),
                    compute=lambda inputs: inputs.breadths["sp500"])
