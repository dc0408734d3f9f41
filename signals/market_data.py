"""The market data model: wide (date x ticker) frames, built once and sliced by date.

Every metric reads its inputs from a `MarketData`, and `MarketData.as_of` is the one place where
the future is cut off: a metric computed on `data.as_of(day)` cannot see a bar after `day`, so no
metric author has to remember to guard against look-ahead.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from signals.errors import DataError


@dataclass(frozen=True)
class DataIssue:
    """A problem found in the input, reported to the user instead of being silently absorbed."""

    file: str
    row: int | None  # 1-based line number in the file (the header is line 1); None for whole-file issues
    message: str
    severity: str = "warning"  # "warning": data was skipped or degraded; "error": a file was unusable

    def __str__(self) -> str:
        where = f"{self.file}:{self.row}" if self.row is not None else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class MarketData:
    """Daily market history as wide frames sharing one session index.

    `close` is the adjusted close where the source has `Adj Close`, else the close; `high` and `low`
    are scaled by the same adjustment factor so that range-based indicators (ADX) stay consistent
    with it. The index is the NYSE's sessions (`signals/sources/align.py` puts every source on it):
    `carried` marks closes that were missing and carried forward, `suspect` says why a session may
    not fire a detector. `members` are the S&P 500 constituents that have price data;
    `missing_members` are listed but have none (reported, never treated as zero). `universes`
    holds each universe's members with data (`sp500` is `members`), `universe_lists` its list.
    """

    close: pd.DataFrame
    high: pd.DataFrame
    low: pd.DataFrame
    volume: pd.DataFrame
    rates: pd.DataFrame  # date x FRED series, percent, on the source's own dates
    constituents: pd.DataFrame  # ticker, name, sector, ...
    members: tuple[str, ...]
    missing_members: tuple[str, ...] = ()
    issues: tuple[DataIssue, ...] = field(default=(), compare=False)
    source: str = ""
    carried: pd.DataFrame | None = field(default=None, compare=False)  # bool, like close; None: nothing carried
    suspect: pd.Series | None = field(default=None, compare=False)  # session -> reason, "" when fine
    universes: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    universe_lists: dict[str, pd.DataFrame] = field(default_factory=dict, compare=False)
    price_basis: str = "close (adjustment not stated)"  # "adjusted": Adj Close wherever a source has it
    # Identity of the loaded history: `as_of` slices keep it, so an engine that has seen a longer or
    # shorter slice of the same history knows the bars it already used are the same.
    origin: object = field(default_factory=object, compare=False, repr=False)
    # What is worked out once per loaded history and holds for every `as_of` slice of it (each ticker's
    # first close, so `has` is a lookup; each universe's sectors). Any other `replace` (appended
    # sessions) starts without it: init=False fields are not copied.
    _shared: dict[object, object] | None = field(default=None, init=False, compare=False, repr=False)
    _last_slice: tuple[int, MarketData] | None = field(default=None, init=False, compare=False, repr=False)

    def universe_members(self, name: str) -> tuple[str, ...]:
        """The members with data of a universe; `sp500` is the constituents file."""
        if name == "sp500":
            return self.members
        return self.universes.get(name, ())

    @property
    def universe_names(self) -> tuple[str, ...]:
        return ("sp500", *(name for name in self.universes if name != "sp500"))

    def was_carried(self, ticker: str) -> np.ndarray:
        """Per session, whether `ticker`'s close there was carried forward (a missing bar)."""
        if self.carried is None or ticker not in self.carried.columns:
            return np.zeros(len(self.close.index), dtype=bool)
        return self.carried[ticker].to_numpy()

    @property
    def sessions(self) -> pd.DatetimeIndex:
        return self.close.index

    @property
    def last_session(self) -> pd.Timestamp:
        if len(self.close.index) == 0:
            raise DataError(f"no price data in {self.source or 'the market data'}")
        return self.close.index[-1]

    def has(self, ticker: str) -> bool:
        """Whether `ticker` has at least one close (asked two dozen times a tick)."""
        position = self.first_closes().get(ticker)
        return position is not None and position < len(self.close.index)

    def coverage(self) -> dict[str, object]:
        """What the metrics of this slice stand on, for `data` in `metrics --json` and the snapshot: the price
        basis, the listed constituents, those with a close on or before the last session (a member whose
        bars all come later has no price yet), and those with none at all."""
        return {"price_basis": self.price_basis, "constituents": len(self.constituents),
                "with_prices": sum(self.has(member) for member in self.members),
                "missing": list(self.missing_members)}

    def gap_around(self, session: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """The first and last session of the gap in the data that `session` falls in (no file has a bar of
        its own there), or None. Metrics of such a session would be made of nothing."""
        own = self.close.notna().to_numpy()
        if self.carried is not None:
            own = own & ~self.carried.to_numpy()
        blank = ~own.any(axis=1)
        row = int(self.sessions.get_loc(session))
        if not blank[row]:
            return None
        begin = row
        while begin > 0 and blank[begin - 1]:
            begin -= 1
        end = row
        while end + 1 < len(blank) and blank[end + 1]:
            end += 1
        return self.sessions[begin], self.sessions[end]

    def session_with_data(self, day: str | pd.Timestamp | None) -> pd.Timestamp:
        """`resolve_session`, refusing a session inside a gap in the data (one line, not a table of nulls)."""
        session = self.resolve_session(day)
        gap = self.gap_around(session)
        if gap is not None:
            raise DataError(f"{session.date()} is inside a gap in the data: no file has a bar from {gap[0].date()} "
                            f"to {gap[1].date()} (ask for a session before or after it)")
        return session

    def resolve_session(self, day: str | pd.Timestamp | None) -> pd.Timestamp:
        """The last session on or before `day` (a weekend or holiday maps to the session before it)."""
        if day is None:
            return self.last_session
        try:
            stamp = pd.Timestamp(day)
        except (ValueError, TypeError) as exc:
            raise DataError(f"not a date: {day!r} (use YYYY-MM-DD)") from exc
        if stamp.tzinfo is not None:
            stamp = stamp.tz_localize(None)
        position = self.sessions.searchsorted(stamp, side="right")
        if position == 0:
            first = self.sessions[0].date() if len(self.sessions) else "none"
            raise DataError(f"{stamp.date()} is before the first session in the data ({first})")
        return self.sessions[position - 1]

    def as_of(self, day: str | pd.Timestamp | None) -> MarketData:
        """Only the bars up to and including `day`: the single guard against look-ahead.

        Rows are cut by position, which pandas (copy-on-write) serves as views of the same
        buffers, so slicing every day of a replay costs no copy of the history. The last slice is kept
        by the history it was cut from: a tick asks for its session's three times (0.5 ms each).
        """
        session = self.resolve_session(day)
        end = self.sessions.searchsorted(session, side="right")
        last = self._last_slice  # read once: another thread may cut another session meanwhile
        if last is not None and last[0] == end:
            return last[1]
        self.first_closes()  # of this whole history, before the slice shares it
        rates_end = self.rates.index.searchsorted(session, side="right")
        sliced = replace(
            self,
            close=self.close.iloc[:end],
            high=self.high.iloc[:end],
            low=self.low.iloc[:end],
            volume=self.volume.iloc[:end],
            rates=self.rates.iloc[:rates_end],
            carried=None if self.carried is None else self.carried.iloc[:end],
            suspect=None if self.suspect is None else self.suspect.iloc[:end],
        )
        object.__setattr__(sliced, "_shared", self.shared)
        object.__setattr__(self, "_last_slice", (end, sliced))
        return sliced

    def __getstate__(self) -> dict[str, object]:
        """Pickled (the folder's parsed copy) without the last `as_of` slice: views of the same bars."""
        state = dict(self.__dict__)
        state["_last_slice"] = None
        return state

    def first_closes(self) -> dict[str, int]:
        """Each ticker's first close (its position): the same for every slice, so `as_of` computes it on the
        whole history and its slices share it (and a folder's parsed copy keeps it: see load_folder)."""
        if "first_close" not in self.shared:
            self.shared["first_close"] = _first_closes(self.close)
        return self.shared["first_close"]  # type: ignore[return-value]  # put there by the line above

    @property
    def shared(self) -> dict[object, object]:
        """A cache for what depends on the loaded history's lists, not on its bars (shared by `as_of` slices)."""
        if self._shared is None:
            object.__setattr__(self, "_shared", {})
        return self._shared  # type: ignore[return-value]  # set just above (a frozen dataclass's lazy field)


def _first_closes(close: pd.DataFrame) -> dict[str, int]:
    """Each column's first row with a close (the frame's length for a column with none)."""
    have = close.notna().to_numpy()
    first = np.where(have.any(axis=0), have.argmax(axis=0), len(close.index))
    return dict(zip(close.columns, first.tolist()))
