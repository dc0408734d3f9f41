"""The universes, named once: from this table follow the metrics' index and ETF per universe, the labels,
the live list sources (signals/sources/universe.py), the /breadth argument, and the breadth charts."""

from __future__ import annotations

from dataclasses import dataclass

from signals.tickers import EQUAL_WEIGHT_ETF, RUSSELL_2000, SMALL_CAP_ETF, SP500_ETF, SP500_INDEX


@dataclass(frozen=True)
class Universe:
    name: str  # as in metrics paths (`universes.<name>.`) and `/breadth <name>`
    label: str
    short: str  # where columns are narrow (digests)
    index: str
    etf: str  # stands in for the index where its file is missing
    min_members: int  # the least a believable live list has
    chart: str  # its breadth chart's name
    equal_weight: str | None = None  # its equal-weight ETF: against `etf`, the typical member against cap weight


UNIVERSES: tuple[Universe, ...] = (
    Universe("sp500", "S&P 500", "S&P 500", SP500_INDEX, SP500_ETF, 400, "breadth", EQUAL_WEIGHT_ETF),
    Universe("russell2000", "Russell 2000", "R2000", RUSSELL_2000, SMALL_CAP_ETF, 1000, "russell2000"),
)
UNIVERSE_BY_NAME = {universe.name: universe for universe in UNIVERSES}
UNIVERSE_NAMES = tuple(UNIVERSE_BY_NAME)
