"""Breadth: the typical member against its index (narrow markets), washouts, thrusts, equal weight.

The rotation thesis in breadth terms: the index at records carried by a few names while most
members (and most small caps) sit far below their highs; then a washout, and a thrust of broad
buying that starts a new leg.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from signals.detectors.base import Condition, Detector, KeySpec, Part, at, known, number, part, plain, signed
from signals.detectors.edges import condition
from signals.metrics import Metrics
from signals.metrics.group import Computed
from signals.metrics.breadth import UNIVERSE_LABELS
from signals.metrics.rolling import change_pct, rolling_low, shifted
from signals.settings import BreadthSettings, DetectorSettings
from signals.tickers import EQUAL_WEIGHT_ETF, SP500_ETF, SP500_INDEX
from signals.universe_specs import UNIVERSE_NAMES

def _unknown(metrics: Metrics) -> Computed[None]:
    nothing = np.full(len(metrics.sessions), np.nan)
    return Computed(dict.fromkeys(("pct_above_200dma", "zweig_thrust_ema", "median_pct_from_52w_high",
                                   "members_with_200dma", "advances", "declines"), nothing), metrics.sessions, None)


def _universe(metrics: Metrics, name: str) -> Computed[None]:
    """A universe's breadth; all unknown when the data has no such list (its keys never fire)."""
    breadth = metrics.breadths.get(name)
    return breadth if breadth is not None else _unknown(metrics)


def breadth_conditions(metrics: Metrics, settings: DetectorSettings) -> list[Condition]:
    rules = settings.breadth
    conditions = [_narrow(metrics, settings), _participation(metrics, settings), _smallcap_narrow(metrics, settings),
                  _equal_weight(metrics, settings)]
    for name in UNIVERSE_NAMES:
        conditions.append(_washout(metrics, name, rules))
        conditions.append(_thrust(metrics, name, rules))
    return conditions


def _narrow(metrics: Metrics, settings: DetectorSettings) -> Condition:
    group = metrics.computed["breadth"]
    rules = settings.breadth
    index_gap = group.column("index_pct_from_52w_high")
    median_gap = group.column("median_pct_from_52w_high")
    index_near = index_gap >= -rules.index_within_pct_of_high
    members_behind = median_gap <= -rules.median_below_high_pct
    have = known(index_gap, median_gap)
    narrow = condition(index_near & members_behind, have)
    parts = (part("breadth.index_pct_from_52w_high", index_near, have),
             part("breadth.median_pct_from_52w_high", members_behind, have))

    def explain_end(because: tuple[str, ...], values: dict[str, Any]) -> str:
        return _narrow_end("End of \u2018narrow leadership\u2019", "the S&P 500", "the median S&P 500 member", because,
                           values["index_pct_from_52w_high"], values["median_pct_from_52w_high"],
                           "breadth.index_pct_from_52w_high", rules.index_within_pct_of_high,
                           rules.median_below_high_pct, "the typical stock catching up")

    def describe(direction: str, position: int) -> tuple[str, dict[str, Any]]:
        values = at(group, position, "median_pct_from_52w_high", "index_pct_from_52w_high",
                    "pct_above_200dma", "rsp_spy_vs_50dma_pct", "members")
        numbers = (f"the median S&P 500 member is {_below(values['median_pct_from_52w_high'])} its 52-week high "
                   f"while the index is {_below(values['index_pct_from_52w_high'])} its own")
        if direction == "start":
            return (f"Narrow leadership: {numbers}. A few giants carry the index; the rest is room for a "
                    f"rotation into the broad market", values)
        return f"Narrow leadership over: {numbers}", values

    return Condition("breadth", "breadth:narrow_leadership", "state", narrow, describe, (SP500_INDEX,),
                     parts=parts, explain_end=explain_end)


def _participation(metrics: Metrics, settings: DetectorSettings) -> Condition:
    group = metrics.computed["breadth"]
    rules = settings.breadth
    sessions = rules.participation_sessions
    share, index_close = group.column("pct_above_200dma"), group.column("index_close")
    drop = share - shifted(share, sessions)
    with np.errstate(divide="ignore", invalid="ignore"):
        index_change = (index_close / shifted(index_close, sessions) - 1.0) * 100.0
    band = rules.participation_index_band_pct
    dropping, index_rising = drop <= -rules.participation_drop_points, index_change > 0
    # the bands: ends on laxer levels (a fall under the end points, or the index down by the band)
    still_dropping, index_holding = drop <= -rules.participation_end_drop_points, index_change > -band
    have = known(drop, index_change)
    falling = condition(dropping & index_rising, have)
    parts = (part("breadth.pct_above_200dma_change_20d", still_dropping, have),
             part("breadth.index_change_20d_pct", index_holding, have))

    def explain_end(because: tuple[str, ...], values: dict[str, Any]) -> str:
        numbers = (f"members above their 200-day average {signed(values['pct_above_200dma_change'])} points in "
                   f"{sessions} sessions, the S&P 500 {signed(values['index_change_pct'])}%")
        if because == ("breadth.index_change_20d_pct",):
            return (f"Participation drop over because the index fell too ({numbers}): the rally ended rather "
                    f"than broadened")
        if because == ("breadth.pct_above_200dma_change_20d",):
            return f"Participation no longer falling: members are holding up again ({numbers})"
        return f"Participation drop over: the index fell and members stopped falling ({numbers})"

    def describe(direction: str, position: int) -> tuple[str, dict[str, Any]]:
        values = at(group, position, "pct_above_200dma", "index_pct_from_52w_high", "members")
        values["pct_above_200dma_change"] = number(drop[position])
        values["index_change_pct"] = number(index_change[position])
        values["sessions"] = sessions
        numbers = (f"members above their 200-day average {signed(values['pct_above_200dma_change'])} points "
                   f"in {sessions} sessions (now {plain(values['pct_above_200dma'])}%) while the S&P 500 "
                   f"is {signed(values['index_change_pct'])}%")
        if direction == "start":
            return f"Participation falling: {numbers}. The rally is narrowing to fewer names", values
        return f"Participation no longer falling: {numbers}", values

    return Condition("breadth", "breadth:participation_drop", "state", falling, describe, (SP500_INDEX,),
                     hold=condition(still_dropping & index_holding, have), parts=parts, explain_end=explain_end)


def _smallcap_narrow(metrics: Metrics, settings: DetectorSettings) -> Condition:
    rules = settings.breadth
    sp500 = metrics.computed["breadth"]
    small = _universe(metrics, "russell2000")
    index_gap = sp500.column("index_pct_from_52w_high")
    median_gap = small.column("median_pct_from_52w_high")
    index_near = index_gap >= -rules.index_within_pct_of_high
    members_behind = median_gap <= -rules.smallcap_median_below_high_pct
    have = known(index_gap, median_gap)
    narrow = condition(index_near & members_behind, have)
    parts = (part("breadth.index_pct_from_52w_high", index_near, have),
             part("universes.russell2000.median_pct_from_52w_high", members_behind, have))

    def explain_end(because: tuple[str, ...], values: dict[str, Any]) -> str:
        return _narrow_end("End of \u2018small caps left behind\u2019", "the S&P 500",
                           "the median Russell 2000 member", because,
                           values["sp500_index_pct_from_52w_high"], values["russell2000_median_pct_from_52w_high"],
                           "breadth.index_pct_from_52w_high", rules.index_within_pct_of_high,
                           rules.smallcap_median_below_high_pct, "small caps catching up")

    def describe(direction: str, position: int) -> tuple[str, dict[str, Any]]:
        values = {"russell2000_median_pct_from_52w_high": number(median_gap[position]),
                  "sp500_index_pct_from_52w_high": number(index_gap[position]),
                  "russell2000_pct_above_200dma": number(small.values("pct_above_200dma")[position])}
        numbers = (f"the median Russell 2000 member is {_below(values['russell2000_median_pct_from_52w_high'])} "
                   f"its 52-week high while the S&P 500 is {_below(values['sp500_index_pct_from_52w_high'])} its own")
        if direction == "start":
            return (f"Small caps left behind: {numbers}. Thousands of small companies near their lows with the "
                    f"index near records: the gap a rotation would close", values)
        return f"Small caps no longer left behind: {numbers}", values

    return Condition("breadth", "breadth:smallcap_narrow", "state", narrow, describe, (SP500_INDEX,),
                     parts=parts, explain_end=explain_end)


def _equal_weight(metrics: Metrics, settings: DetectorSettings) -> Condition:
    rules = settings.breadth
    group = metrics.computed["breadth"]
    sessions = rules.equal_weight_sessions
    change = change_pct(group.column("rsp_spy_ratio"), sessions)
    have = ~np.isnan(change)
    lagging = condition(change <= -rules.equal_weight_drop_pct, have)
    still = condition(change <= -rules.equal_weight_end_drop_pct, have)

    def describe(direction: str, position: int) -> tuple[str, dict[str, Any]]:
        values = {"rsp_spy_change_pct": number(change[position]), "sessions": sessions,
                  "rsp_spy_ratio": number(group.values("rsp_spy_ratio")[position])}
        numbers = f"RSP/SPY {signed(values['rsp_spy_change_pct'])}% over {sessions} sessions"
        if direction == "start":
            return (f"Equal weight lagging: {numbers}. The average S&P 500 company is falling behind the "
                    f"cap-weighted index: leadership is concentrating, not rotating", values)
        return f"Equal weight no longer lagging: {numbers}", values

    return Condition("breadth", "breadth:equal_weight_lagging", "state", lagging, describe,
                     (EQUAL_WEIGHT_ETF, SP500_ETF), hold=still, parts=(Part("breadth.rsp_spy_change_50d_pct", still),))


def _washout(metrics: Metrics, name: str, rules: BreadthSettings) -> Condition:
    group = _universe(metrics, name)
    share = group.column("pct_above_200dma")
    label = UNIVERSE_LABELS.get(name, name)
    have = ~np.isnan(share)
    washed = condition(share < rules.washout_below_pct, have)
    still = condition(share <= rules.washout_end_above_pct, have)

    def describe(direction: str, position: int) -> tuple[str, dict[str, Any]]:
        values = {"pct_above_200dma": number(share[position]),
                  **at(group, position, "members_with_200dma", "median_pct_from_52w_high")}
        numbers = f"{plain(values['pct_above_200dma'])}% of {label} members above their 200-day average"
        if direction == "start":
            return (f"{label} washout: only {numbers} (alert below {plain(rules.washout_below_pct, 0)}%). "
                    f"Selling has reached nearly every company; such lows are where new legs have begun", values)
        return (f"{label} washout over: {numbers} (above {plain(rules.washout_end_above_pct, 0)}% again)", values)

    return Condition("breadth", f"breadth:washout:{name}", "state", washed, describe, hold=still,
                     parts=(Part(f"universes.{name}.pct_above_200dma", still),))


def _thrust(metrics: Metrics, name: str, rules: BreadthSettings) -> Condition:
    group = _universe(metrics, name)
    average = group.column("zweig_thrust_ema")
    window = rules.thrust_sessions
    recent_low = rolling_low(shifted(average, 1), window)
    label = UNIVERSE_LABELS.get(name, name)
    thrust = condition((average > rules.thrust_high) & (recent_low < rules.thrust_low), known(average, recent_low))

    def describe(direction: str, position: int) -> tuple[str, dict[str, Any]]:
        start = max(0, position - window)
        lows = average[start:position]
        if len(lows) and not np.all(np.isnan(lows)):
            low_at = start + len(lows) - 1 - int(np.nanargmin(lows[::-1]))  # the latest session at the low
        else:
            low_at = position
        values = {"zweig_thrust_ema": number(average[position]), "low": number(average[low_at]),
                  "sessions_from_low": position - low_at, "thrust_low": rules.thrust_low,
                  "thrust_high": rules.thrust_high}
        title = (f"{label} breadth thrust: the 10-session average share of advancing members rose from "
                 f"{plain(values['low'], 3)} to {plain(values['zweig_thrust_ema'], 3)} in "
                 f"{values['sessions_from_low']} sessions (Zweig: below {rules.thrust_low:g} to above "
                 f"{rules.thrust_high:g} within {window}). Broad buying of this force is rare and has "
                 f"marked the start of new advances")
        return title, values

    return Condition("breadth", f"breadth:thrust:{name}", "state", thrust, describe, announce_end=False,
                     parts=(Part(f"universes.{name}.zweig_thrust_ema", thrust),))


def _narrow_end(headline: str, index: str, member: str, because: tuple[str, ...], index_gap: float | None,
               member_gap: float | None, index_path: str, index_band: float, member_band: float,
               catching_up: str) -> str:
    """An end of "index near its high while the typical member is far below its own", by its cause:
    the index falling out of its band is the gap closing from above, the opposite story of breadth
    catching up."""
    if because == (index_path,):
        return (f"{headline}: {index} fell {_below(index_gap)} its high (more than {index_band:g}%); {member} "
                f"is still {_below(member_gap)} its own: the gap closed from above, not by {catching_up}")
    if index_path not in because:
        who = member[0].upper() + member[1:]
        return (f"{headline}: breadth caught up. {who} is now {_below(member_gap)} its 52-week "
                f"high (within {member_band:g}%) with {index} {_below(index_gap)} its own")
    return (f"{headline}: {index} fell {_below(index_gap)} its high and {member} recovered to "
            f"{_below(member_gap)} its own")



def _below(gap: float | None) -> str:
    """-11.3 -> "11.3% below"; 0 -> "at"."""
    if gap is None:
        return "an unknown distance from"
    if gap >= -0.05:
        return "at"
    return f"{plain(-gap)}% below"


_UNIVERSE_KEYS = tuple(
    spec for name in UNIVERSE_NAMES for spec in (
        KeySpec(f"breadth:washout:{name}", f"{UNIVERSE_LABELS[name]} washout",
                f"fewer than {{breadth.washout_below_pct:g}}% of {UNIVERSE_LABELS[name]} members above their "
                f"200-day average; ends above {{breadth.washout_end_above_pct:g}}%"),
        KeySpec(f"breadth:thrust:{name}", f"{UNIVERSE_LABELS[name]} breadth thrust",
                f"Zweig breadth thrust over {UNIVERSE_LABELS[name]} members: the 10-session EMA of A/(A+D) from "
                f"below {{breadth.thrust_low:g}} to above {{breadth.thrust_high:g}} within "
                f"{{breadth.thrust_sessions}} sessions (news once, no end)"),
    ))

DETECTOR = Detector(
    topic="breadth",
    keys=(
        KeySpec("breadth:narrow_leadership", "narrow leadership",
                "S&P 500 within {breadth.index_within_pct_of_high:g}% of its 252-session high, median S&P 500 "
                "member {breadth.median_below_high_pct:g}% or more below its own"),
        KeySpec("breadth:participation_drop", "participation falling",
                "% of S&P 500 members above their 200-day falls {breadth.participation_drop_points:g}+ points "
                "over {breadth.participation_sessions} sessions while the index rises; ends when the fall is under "
                "{breadth.participation_end_drop_points:g} points or the index is down "
                "{breadth.participation_index_band_pct:g}%"),
        KeySpec("breadth:smallcap_narrow", "small caps left behind",
                "S&P 500 within {breadth.index_within_pct_of_high:g}% of its high, median Russell 2000 member "
                "{breadth.smallcap_median_below_high_pct:g}% or more below its own"),
        KeySpec("breadth:equal_weight_lagging", "equal weight lagging",
                "RSP/SPY down {breadth.equal_weight_drop_pct:g}% or more over {breadth.equal_weight_sessions} "
                "sessions; ends when the drop is under {breadth.equal_weight_end_drop_pct:g}%"),
        *_UNIVERSE_KEYS,
    ),
    conditions=breadth_conditions,
)
