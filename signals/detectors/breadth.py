"""Breadth divergence: the index near its high while the typical member is not."""

from __future__ import annotations

from signals.detectors.base import Condition, at, plain, signed
from signals.detectors.edges import condition
from signals.metrics import Metrics
from signals.settings import DetectorSettings
from signals.tickers import SP500_INDEX


def breadth_conditions(metrics: Metrics, settings: DetectorSettings) -> list[Condition]:
    frame = metrics.breadth
    rules = settings.breadth
    index_gap = frame["index_pct_from_52w_high"]
    median_gap = frame["median_pct_from_52w_high"]
    narrow = condition(
        (index_gap >= -rules.index_within_pct_of_high) & (median_gap <= -rules.median_below_high_pct),
        index_gap.notna() & median_gap.notna(),
    )

    def describe_narrow(direction: str, position: int) -> tuple[str, dict]:
        values = at(frame, position, "median_pct_from_52w_high", "index_pct_from_52w_high",
                    "pct_above_200dma", "rsp_spy_vs_50dma_pct", "members")
        median = values["median_pct_from_52w_high"]
        index = values["index_pct_from_52w_high"]
        numbers = (f"median member {plain(-median if median is not None else None)}% below its 52-week high "
                   f"while the S&P 500 is {plain(-index if index is not None else None)}% from its high")
        title = (f"Narrow leadership: {numbers}" if direction == "start"
                 else f"Narrow leadership over: {numbers}")
        return title, values

    sessions = rules.participation_sessions
    drop = frame["pct_above_200dma"] - frame["pct_above_200dma"].shift(sessions)
    index_change = (frame["index_close"] / frame["index_close"].shift(sessions) - 1.0) * 100.0
    falling = condition(
        (drop <= -rules.participation_drop_points) & (index_change > 0), drop.notna() & index_change.notna()
    )

    def describe_falling(direction: str, position: int) -> tuple[str, dict]:
        values = at(frame, position, "pct_above_200dma", "index_pct_from_52w_high", "members")
        values["pct_above_200dma_change"] = round(float(drop.iat[position]), 4)
        values["index_change_pct"] = round(float(index_change.iat[position]), 4)
        values["sessions"] = sessions
        numbers = (f"members above their 200-day average {signed(values['pct_above_200dma_change'])} points "
                   f"in {sessions} sessions (now {plain(values['pct_above_200dma'])}%) while the S&P 500 "
                   f"is {signed(values['index_change_pct'])}%")
        title = (f"Participation falling: {numbers}" if direction == "start"
                 else f"Participation no longer falling: {numbers}")
        return title, values

    return [
        Condition("breadth", "breadth:narrow_leadership", "state", narrow, describe_narrow, (SP500_INDEX,)),
        Condition("breadth", "breadth:participation_drop", "state", falling, describe_falling, (SP500_INDEX,)),
    ]
