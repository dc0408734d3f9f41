"""FRED series without an API key: the public CSV download (`fredgraph.csv`), read with httpx.

FRED marks a day without a value with "." (or an empty cell); those are missing, not zero.
"""

from __future__ import annotations

import io

import httpx
import pandas as pd

FRED_CSV = "https://fred.stlouisfed.org/graph/fredgraph.csv"
SERIES = ("DFF", "DFEDTARL", "DFEDTARU", "DGS3MO", "DGS2", "DGS10")


class FredError(Exception):
    """FRED could not be read (network, HTTP status, or an answer that is not the expected CSV)."""


class FredClient:
    def __init__(self, client: httpx.Client | None = None, timeout: float = 20.0) -> None:
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=True)

    def fetch(self, series: str, start: str) -> pd.Series:
        """Observations of `series` from `start` on, in percent, indexed by date."""
        try:
            response = self._client.get(FRED_CSV, params={"id": series, "cosd": start})
        except httpx.HTTPError as exc:
            raise FredError(f"FRED {series}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise FredError(f"FRED {series}: HTTP {response.status_code}")
        return parse_fred_csv(response.text, series)


def parse_fred_csv(text: str, series: str) -> pd.Series:
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise FredError(f"FRED {series}: not a CSV answer ({exc})") from exc
    columns = [c.strip() for c in frame.columns]
    frame.columns = columns
    date_column = next((c for c in columns if c.lower() in ("observation_date", "date")), None)
    if date_column is None or series not in columns:
        raise FredError(f"FRED {series}: unexpected columns {columns[:4]}")
    dates = pd.to_datetime(frame[date_column].str.strip(), format="%Y-%m-%d", errors="coerce")
    values = pd.to_numeric(frame[series].str.strip().replace({".": "", "": None}), errors="coerce")
    observed = pd.Series(values.to_numpy(dtype="float64"), index=pd.DatetimeIndex(dates, name="date"), name=series)
    return observed[observed.index.notna()].dropna().sort_index()
