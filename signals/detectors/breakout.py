"""Technical breakout: IWM above its 52-week high, small caps out-running the S&P 500, a new leg."""

from __future__ import annotations

from typing import Any

import numpy as np

from signals.detectors.base import (
    Condition,
    Detector,
    KeySpec,
    at,
    daily_move,
    known,
    level_band,
    number,
    part,
    plain,
    signed,
)
from signals.detectors.edges import condition
from signals.metrics import Metrics
from signals.metrics.group import Computed
from signals.metrics.rolling import pct_from, prior_high, rolling_sum, shifted
from signals.settings import BreakoutSettings, DetectorSettings
from signals.tickers import SMALL_CAP_ETF, SP500_ETF


def breakout_conditions(metrics: Metrics, settings: DetectorSettings) -> list[Condition]:
    group = metrics.computed["breakout"]
    rules = settings.breakout
    confirmed, confirmation_known = _confirmation(group, rules)
    small, large = (metrics.stand_ins.get(t, t) for t in (SMALL_CAP_ETF, SP500_ETF))  # ^RUT, ^GSPC before the ETFs
    pair = f"{small}/{large}"

    moves = settings.signals.level_move_sessions
    iwm = group.column("iwm_close")
    iwm_level = prior_high(iwm, rules.iwm_high_sessions)
    iwm_move = daily_move(iwm, moves)
    iwm_clears, iwm_holds = level_band(pct_from(iwm, iwm_level), iwm_move, settings)
    iwm_known = known(iwm, iwm_level, iwm_move)
    iwm_break = condition(iwm_clears & confirmed, iwm_known & confirmation_known)
    iwm_parts = (part("breakout.iwm_pct_vs_prior_252d_high", iwm_holds, iwm_known),)

    def describe_iwm(direction: str, position: int) -> tuple[str, dict[str, Any]]:
        values = at(group, position, "iwm_close", "iwm_adx_14", "iwm_volume_ratio_50d")
        level = float(iwm_level[position])
        values["prior_high"] = number(level)
        gap = (values["iwm_close"] or np.nan) / level * 100 - 100
        values["pct_vs_prior_high"] = number(gap)
        values["daily_move_pct"] = number(iwm_move[position])
        values.update(_confirmation_detail(group, rules, position))
        sessions = rules.iwm_high_sessions
        if direction == "start":
            title = (f"{small} breakout: closed at {plain(values['iwm_close'], 2)}, above its prior {sessions}-session "
                     f"closing high of {plain(level, 2)} ({signed(values['pct_vs_prior_high'])}%, more than "
                     f"{settings.signals.level_start_margin_moves:g} of its average daily move of "
                     f"{plain(values['daily_move_pct'], 2)}%){_confirmation_text(values)}. Small caps at a new "
                     f"high: the rotation in price")
        else:
            title = (f"{small} breakout faded: {plain(values['iwm_close'], 2)} is "
                     f"{signed(values['pct_vs_prior_high'])}% from its prior {sessions}-session high, more than "
                     f"{settings.signals.level_hold_margin_moves:g} average daily moves "
                     f"({plain(values['daily_move_pct'], 2)}% each) below it")
        return title, values

    ratio = group.column("iwm_spy_ratio")
    ratio_level = prior_high(ratio, rules.ratio_high_sessions)
    ratio_average = group.column("iwm_spy_200d_avg")
    ratio_move = daily_move(ratio, moves)
    high_clears, high_holds = level_band(pct_from(ratio, ratio_level), ratio_move, settings)
    average_clears, average_holds = level_band(pct_from(ratio, ratio_average), ratio_move, settings)
    ratio_known = known(ratio, ratio_level, ratio_average, ratio_move)
    ratio_break = condition(high_clears & average_clears & confirmed, ratio_known & confirmation_known)
    ratio_parts = (part("breakout.iwm_spy_pct_vs_prior_60d_high", high_holds, ratio_known),
                   part("breakout.iwm_spy_pct_vs_200d_avg", average_holds, ratio_known))

    def describe_ratio(direction: str, position: int) -> tuple[str, dict[str, Any]]:
        values = at(group, position, "iwm_spy_ratio", "iwm_spy_200d_avg", "iwm_spy_pct_vs_200d_avg",
                    "iwm_adx_14", "iwm_volume_ratio_50d")
        level = float(ratio_level[position])
        values["prior_high"] = number(level)
        values.update(_confirmation_detail(group, rules, position))
        sessions = rules.ratio_high_sessions
        if direction == "start":
            title = (f"Small caps leading: {pair} at {plain(values['iwm_spy_ratio'], 4)}, above its prior "
                     f"{sessions}-session high ({plain(level, 4)}) and "
                     f"{signed(values['iwm_spy_pct_vs_200d_avg'])}% vs its 200-day average"
                     f"{_confirmation_text(values)}. Small caps beating the S&P 500, not just rising with it")
        else:
            title = (f"Small-cap lead faded: {pair} at {plain(values['iwm_spy_ratio'], 4)}, "
                     f"{signed(values['iwm_spy_pct_vs_200d_avg'])}% vs its 200-day average")
        return title, values

    def explain_ratio_end(because: tuple[str, ...], values: dict[str, Any]) -> str:
        ratio_now = plain(values["iwm_spy_ratio"], 4)
        gap = values["iwm_spy_pct_vs_200d_avg"]
        vs_average = signed(gap)
        if "breakout.iwm_spy_pct_vs_200d_avg" in because:
            return (f"Small-cap lead over: {pair} ({ratio_now}) fell back under its 200-day average "
                    f"({vs_average}%): small caps are trailing the S&P 500 again")
        slipped = (f"Small-cap lead paused: {pair} ({ratio_now}) slipped back from its prior "
                   f"{rules.ratio_high_sessions}-session high")
        if gap is not None and round(gap, 1) > 0:  # as shown: "+0.0%" is not above
            return (f"{slipped} but is still {vs_average}% vs its 200-day average: the trend stands, the breakout "
                    f"did not carry")
        return (f"{slipped} and is {vs_average}% vs its 200-day average, within the "
                f"{settings.signals.level_hold_margin_moves:g} daily moves below it that the trend may dip: "
                f"the trend is in doubt, the breakout did not carry")

    # "Below" is every close that did not clear the average's band: a close a hair above the average,
    # inside half a daily move, is noise and does not restart the count (it hid real legs whose first
    # crossings were marginal).
    move_known = known(ratio_move)
    below = condition(np.where(move_known, ~average_clears, ratio < ratio_average), known(ratio, ratio_average))
    run = rules.leg_below_sessions
    long_below = rolling_sum(shifted(below, 1), run) == run
    leg = condition(average_clears & long_below, ratio_known)

    def describe_leg(direction: str, position: int) -> tuple[str, dict[str, Any]]:
        values = at(group, position, "iwm_spy_ratio", "iwm_spy_200d_avg", "iwm_spy_pct_vs_200d_avg")
        before = below[:position]
        cleared = np.flatnonzero(before != 1.0)  # a cleared close, or no data
        values["sessions_below"] = int(position - (cleared[-1] + 1 if len(cleared) else 0))
        margin = f"{settings.signals.level_start_margin_moves:g}"
        title = (f"New small-cap leg: {pair} crossed above its 200-day average "
                 f"({signed(values['iwm_spy_pct_vs_200d_avg'], 2)}%, clearing it by more than "
                 f"{margin} of its average daily move) after {values['sessions_below']} sessions below it "
                 f"(closes within {margin} of a daily move above it counted as below). The end of a long "
                 f"underperformance is where past small-cap cycles turned")
        return title, values

    return [
        Condition("breakout", "breakout:iwm_52w_high", "state", iwm_break, describe_iwm, (SMALL_CAP_ETF,),
                  hold=condition(iwm_holds, iwm_known), parts=iwm_parts),
        Condition("breakout", "breakout:iwm_spy_ratio", "state", ratio_break, describe_ratio,
                  (SMALL_CAP_ETF, SP500_ETF), hold=condition(high_holds & average_holds, ratio_known),
                  parts=ratio_parts, explain_end=explain_ratio_end),
        Condition("breakout", "breakout:smallcap_leg", "state", leg, describe_leg, (SMALL_CAP_ETF, SP500_ETF),
                  announce_end=False, parts=(part("breakout.iwm_spy_pct_vs_200d_avg", average_clears & long_below,
                                                  ratio_known),)),
    ]



def _confirmation(group: Computed[None], rules: BreakoutSettings) -> tuple[np.ndarray, np.ndarray]:
    """The filters that settings make required: (passes, known). Unrequired filters always pass."""
    passes = np.ones(len(group.index), dtype=bool)
    have = np.ones(len(group.index), dtype=bool)
    if rules.require_adx:
        adx = group.column("iwm_adx_14")
        passes &= adx >= rules.adx_min
        have &= ~np.isnan(adx)
    if rules.require_volume:
        volume = group.column("iwm_volume_ratio_50d")
        passes &= volume >= rules.volume_ratio_min
        have &= ~np.isnan(volume)
    return passes, have


def _confirmation_detail(group: Computed[None], rules: BreakoutSettings, position: int) -> dict[str, Any]:
    adx = float(group.values("iwm_adx_14")[position])
    volume = float(group.values("iwm_volume_ratio_50d")[position])
    return {
        "adx_confirmed": None if np.isnan(adx) else bool(adx >= rules.adx_min),
        "volume_confirmed": None if np.isnan(volume) else bool(volume >= rules.volume_ratio_min),
        "adx_min": rules.adx_min,
        "volume_ratio_min": rules.volume_ratio_min,
    }


def _confirmation_text(values: dict[str, Any]) -> str:
    parts = []
    if values.get("iwm_adx_14") is not None:
        parts.append(f"ADX {plain(values['iwm_adx_14'])}{' ✓' if values['adx_confirmed'] else ''}")
    if values.get("iwm_volume_ratio_50d") is not None:
        parts.append(f"volume {plain(values['iwm_volume_ratio_50d'], 2)}x its 50-day average"
                     f"{' ✓' if values['volume_confirmed'] else ''}")
    return f"; {', '.join(parts)}" if parts else ""



DETECTOR = Detector(
    topic="breakout",
    keys=(
        KeySpec("breakout:iwm_52w_high", "IWM breakout",
                "IWM closes above its prior {breakout.iwm_high_sessions}-session closing high by "
                "{signals.level_start_margin_moves:g} of its average daily move; ends "
                "{signals.level_hold_margin_moves:g} daily moves below it"),
        KeySpec("breakout:iwm_spy_ratio", "small caps leading",
                "IWM/SPY above its prior {breakout.ratio_high_sessions}-session high "
                "while above its 200-session average, each by {signals.level_start_margin_moves:g} of its "
                "average daily move; ends {signals.level_hold_margin_moves:g} daily moves below either"),
        KeySpec("breakout:smallcap_leg", "new small-cap leg",
                "IWM/SPY crosses above its 200-session average by {signals.level_start_margin_moves:g} of its "
                "average daily move after {breakout.leg_below_sessions}+ sessions below it, a close that does not "
                "clear the average by that margin counting as below (news once, no end)"),
    ),
    conditions=breakout_conditions,
)
