"""The window operations the metrics share: where they compute on arrays for speed, they must give
pandas' numbers exactly (a detector compares a close with its prior high, so one bit decides an edge)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from signals.metrics.rolling import ema, prior_high, rolling_high, rolling_low, rolling_sum, sma


def pandas_rolling(values: np.ndarray, window: int, how: str) -> np.ndarray:
    return getattr(pd.Series(values, dtype="float64").rolling(window, min_periods=window), how)().to_numpy()


def test_array_extremes_equal_pandas_on_any_input():
    """Gaps, infinities (pandas reads them as gaps), windows longer than the data, a window of one."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    cell = st.one_of(st.floats(-1e6, 1e6), st.just(np.nan), st.just(np.inf), st.just(-np.inf))

    @settings(max_examples=1500, deadline=None)
    @given(st.lists(cell, max_size=90), st.integers(1, 40))
    def check(cells, window):
        values = np.array(cells, dtype="float64")
        assert np.array_equal(rolling_high(values, window), pandas_rolling(values, window, "max"), equal_nan=True)
        assert np.array_equal(rolling_low(values, window), pandas_rolling(values, window, "min"), equal_nan=True)

    check()


def test_means_and_sums_equal_pandas_bit_for_bit_on_any_input():
    """The averages, sums and exponential averages run pandas' own loops without its Series: with gaps,
    infinities and windows longer than the data, the same bits as `Series.rolling` and `Series.ewm`."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    cell = st.one_of(st.floats(-1e9, 1e9), st.just(np.nan), st.just(np.inf), st.just(-np.inf))

    @settings(max_examples=1500, deadline=None)
    @given(st.lists(cell, max_size=90), st.integers(1, 40))
    def check(cells, window):
        values = np.array(cells, dtype="float64")
        for ours, how in ((sma, "mean"), (rolling_sum, "sum")):
            expected = pandas_rolling(values, window, how)
            assert np.array_equal(ours(values, window), expected, equal_nan=True)
        expected = pd.Series(values, dtype="float64").ewm(span=window, adjust=False).mean().to_numpy()
        assert np.array_equal(ema(values, window), expected, equal_nan=True)

    check()
    long = np.random.default_rng(4).normal(100, 5, 3000)  # a history's length: the loop's running sum drifts
    long[::97] = np.nan
    for window in (20, 200):
        assert np.array_equal(sma(long, window), pandas_rolling(long, window, "mean"), equal_nan=True)
        assert np.array_equal(ema(long, window), pd.Series(long).ewm(span=window, adjust=False).mean().to_numpy(),
                              equal_nan=True)


def test_window_extremes_equal_pandas_column_by_column():
    """`window_extremes`, over a whole history (the breadth's 52-week highs and lows of every member) and
    over a tick's few rows: gaps, infinities, columns shorter than the window, from any first row."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from signals.metrics.rolling import FEW_ROWS, window_extremes

    cell = st.one_of(st.floats(-1e6, 1e6), st.just(np.nan), st.just(np.inf), st.just(-np.inf))

    @settings(max_examples=500, deadline=None)
    @given(st.integers(1, FEW_ROWS + 80), st.integers(1, 4), st.integers(1, 90), st.data())
    def check(rows, columns, window, data):
        values = np.array(data.draw(st.lists(cell, min_size=rows * columns, max_size=rows * columns))).reshape(
            rows, columns)
        first = data.draw(st.integers(0, rows))  # more than FEW_ROWS wanted: the whole-history way
        high, low = window_extremes(values, window, first)
        for column in range(columns):
            assert np.array_equal(high[:, column], pandas_rolling(values[:, column], window, "max")[first:],
                                  equal_nan=True)
            assert np.array_equal(low[:, column], pandas_rolling(values[:, column], window, "min")[first:],
                                  equal_nan=True)

    check()


def test_a_prior_high_excludes_today_and_needs_a_full_window():
    values = np.array([1.0, 3.0, 2.0, np.nan, 5.0, 4.0, 6.0])
    expected = [np.nan, np.nan, np.nan, 3.0, np.nan, np.nan, np.nan]  # a gap leaves three windows short
    assert np.array_equal(prior_high(values, 3), expected, equal_nan=True)


def test_row_medians_equal_numpy_nanmedian_on_any_input():
    """The breadth's median member: gaps, rows without a value, odd and even counts, no members at all."""
    import warnings

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from signals.metrics.breadth import row_medians

    cell = st.one_of(st.floats(-1e3, 1e3), st.just(np.nan))

    @settings(max_examples=800, deadline=None)
    @given(st.integers(0, 6), st.integers(0, 9), st.data())
    def check(rows, columns, data):
        values = np.array(data.draw(st.lists(cell, min_size=rows * columns, max_size=rows * columns)),
                          dtype="float64").reshape(rows, columns)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # numpy warns on a row without values
            expected = np.nanmedian(values, axis=1) if columns else np.full(rows, np.nan)
        assert np.array_equal(row_medians(values), expected, equal_nan=True)

    check()
