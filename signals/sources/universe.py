"""The S&P 500 membership with sectors, from Wikipedia's maintained list (read with pandas).

Wikipedia writes class shares with a dot (BRK.B); Yahoo wants a dash (BRK-B).
"""

from __future__ import annotations

import io

import httpx
import pandas as pd

WIKIPEDIA_SP500 = "https://en.wikipedia.org/wiki/List_of_S%26P_500_companies"
USER_AGENT = "rotation-bot/0.1 (market breadth alerts; https://github.com/)"


class UniverseError(Exception):
    pass


def fetch_sp500(client: httpx.Client | None = None) -> pd.DataFrame:
    """ticker, name, sector, sub_industry; raises UniverseError with the reason on any failure."""
    http = client or httpx.Client(timeout=20.0, follow_redirects=True, headers={"User-Agent": USER_AGENT})
    try:
        response = http.get(WIKIPEDIA_SP500)
    except httpx.HTTPError as exc:
        raise UniverseError(f"S&P 500 list: {type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        raise UniverseError(f"S&P 500 list: HTTP {response.status_code}")
    return parse_sp500_html(response.text)


def parse_sp500_html(html: str) -> pd.DataFrame:
    try:
        tables = pd.read_html(io.StringIO(html), attrs={"id": "constituents"})
    except (ValueError, ImportError) as exc:
        raise UniverseError(f"S&P 500 list: no constituents table ({exc})") from exc
    table = tables[0]
    needed = {"Symbol": "ticker", "Security": "name", "GICS Sector": "sector", "GICS Sub-Industry": "sub_industry"}
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise UniverseError(f"S&P 500 list: the table lacks {', '.join(missing)}")
    frame = table[list(needed)].rename(columns=needed).astype(str)
    frame["ticker"] = frame["ticker"].str.strip().str.replace(".", "-", regex=False)
    frame = frame[frame["ticker"] != ""].drop_duplicates("ticker").reset_index(drop=True)
    if len(frame) < 400:
        raise UniverseError(f"S&P 500 list: only {len(frame)} members found; refusing a partial list")
    return frame
