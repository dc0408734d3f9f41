"""The tickers the detectors watch, named once."""

SP500_INDEX = "^GSPC"
SP500_ETF = "SPY"  # stands in for ^GSPC when the index file is missing
EQUAL_WEIGHT_ETF = "RSP"
SMALL_CAP_ETF = "IWM"
RUSSELL_2000 = "^RUT"
YIELD_3M = "^IRX"  # Yahoo's 13-week T-bill yield, percent
YIELD_10Y = "^TNX"  # Yahoo's 10-year Treasury yield, percent

# Yahoo's yield "tickers" are rates in percent: zero and negative values are real, not bad data.
YIELD_TICKERS = frozenset({"^IRX", "^FVX", "^TNX", "^TYX"})

# The indices and ETFs the detectors read: a session on which one of them jumps by half in a day is
# suspect (a bad print), and one that lacks the last session degrades its detector.
WATCHED = (SP500_INDEX, SP500_ETF, EQUAL_WEIGHT_ETF, SMALL_CAP_ETF, RUSSELL_2000)

# Rotation themes beyond the indices: cyclical sectors against technology, regional banks, credit.
CYCLICAL_SECTORS = ("XLI", "XLF", "XLY")  # industrials, financials, consumer discretionary
TECH_SECTOR = "XLK"
REGIONAL_BANKS = "KRE"
HIGH_YIELD = "HYG"
TREASURIES_7_10Y = "IEF"

# The indices whose history the live cache keeps from 1987 (Yahoo has ^RUT from 1987-09): the index-level
# keys' records come from it; the (session x member) grid still starts at the live history's start.
INDEX_HISTORY = (SP500_INDEX, RUSSELL_2000, YIELD_3M, YIELD_10Y, "^VIX")
