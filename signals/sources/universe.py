"""The universes breadth is measured over, and where each list comes from.

- `sp500`: Wikipedia's maintained list of S&P 500 companies (read with pandas);
- `russell2000`: the iShares Russell 2000 ETF (IWM) holdings file.

Each source spells share classes its own way (Wikipedia `BRK.B`, iShares `MOGA` for Moog class A);
Yahoo wants `BRK-B`, `MOG-A`. When a live source fails and nothing is cached, the dated snapshot
shipped in `signals/universes/` is used, so breadth is never unavailable because a web page is down.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import httpx
import pandas as pd

from signals.universe_specs import UNIVERSES

WIKIPEDIA_SP500 = "https://en.wikipedia.org/wiki/List_of_S%26P_500_companies"
USER_AGENT = "rotation-bot/0.1 (market breadth alerts; https://github.com/)"


ISHARES_IWM = ("https://www.ishares.com/us/products/239710/ishares-russell-2000-etf/1467271812596.ajax"
               "?fileType=csv&fileName=IWM_holdings&dataType=fund")
COLUMNS = ["ticker", "name", "sector", "sub_industry", "weight"]


class UniverseError(Exception):
    pass


@dataclass(frozen=True)
class UniverseSource:
    """One universe: its label, where the live list comes from, and the least a believable list has."""

    name: str
    label: str
    fetch: Callable[[httpx.Client | None], pd.DataFrame]
    min_members: int


@dataclass(frozen=True)
class Snapshot:
    members: pd.DataFrame
    as_of: str  # YYYY-MM-DD
    source: str


def _download(url: str, label: str, client: httpx.Client | None) -> str:
    """The page's text; any network trouble or a status other than 200 is a UniverseError naming the list."""
    own = client is None  # a client made here is closed here; a caller's stays the caller's
    http = client or httpx.Client(timeout=30.0, follow_redirects=True, headers={"User-Agent": USER_AGENT})
    try:
        response = http.get(url)
    except httpx.HTTPError as exc:
        raise UniverseError(f"{label} list: {type(exc).__name__}: {exc}") from exc
    finally:
        if own:
            http.close()
    if response.status_code != 200:
        raise UniverseError(f"{label} list: HTTP {response.status_code}")
    return response.text


def fetch_sp500(client: httpx.Client | None = None) -> pd.DataFrame:
    """ticker, name, sector, sub_industry; raises UniverseError with the reason on any failure."""
    return parse_sp500_html(_download(WIKIPEDIA_SP500, "S&P 500", client))


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
    frame["ticker"] = frame["ticker"].str.strip().map(yahoo_ticker)
    frame = frame[frame["ticker"] != ""].drop_duplicates("ticker").reset_index(drop=True)
    if len(frame) < 400:
        raise UniverseError(f"S&P 500 list: only {len(frame)} members found; refusing a partial list")
    return frame


def fetch_russell2000(client: httpx.Client | None = None) -> pd.DataFrame:
    """The IWM holdings' equities; raises UniverseError with the reason on any failure."""
    members, _ = parse_ishares_holdings(_download(ISHARES_IWM, "Russell 2000", client))
    return members


def parse_ishares_holdings(text: str, min_members: int = 1000) -> tuple[pd.DataFrame, str | None]:
    """(members, holdings date) from iShares' holdings CSV.

    The file opens with a preamble (fund name, "Fund Holdings as of", ...), then the holdings with a
    `Ticker,Name,Sector,Asset Class,...` header, then a legal footer after a blank line. Cash,
    futures and unlisted rows are mixed in; only `Asset Class == Equity` rows with a ticker count.
    iShares sometimes answers an HTML page instead: that, or a list too short to be the index, is
    refused rather than taken as the universe.
    """
    text = text.lstrip("\ufeff")
    if text.lstrip().startswith("<"):
        raise UniverseError("Russell 2000 list: iShares answered an HTML page, not the holdings CSV")
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.startswith("Ticker,")), None)
    if header_at is None:
        raise UniverseError("Russell 2000 list: no 'Ticker,...' header in the iShares file")
    as_of = None
    for line in lines[:header_at]:
        if line.lower().startswith("fund holdings as of"):
            cells = next(csv.reader([line]))
            try:
                as_of = pd.Timestamp(cells[1]).strftime("%Y-%m-%d")
            except (IndexError, ValueError):
                as_of = None
    body = []
    for line in lines[header_at:]:
        if not line.strip():
            break  # the legal footer follows a blank line
        body.append(line)
    rows = list(csv.DictReader(body))
    members = []
    for row in rows:
        if (row.get("Asset Class") or "").strip() != "Equity":
            continue
        ticker = yahoo_ticker((row.get("Ticker") or "").strip(), row.get("Name") or "")
        if not ticker or ticker == "-":
            continue
        weight = pd.to_numeric((row.get("Weight (%)") or "").replace(",", ""), errors="coerce")
        members.append((ticker, (row.get("Name") or "").strip(), (row.get("Sector") or "").strip(), "", weight))
    frame = pd.DataFrame(members, columns=COLUMNS).drop_duplicates("ticker").reset_index(drop=True)
    if len(frame) < min_members:
        raise UniverseError(f"Russell 2000 list: only {len(frame)} equities found; refusing a partial list")
    return frame, as_of


# NYSE issuers with more than one listed share class: Yahoo writes the class after a dash (MOG-A),
# iShares glues it on (MOGA). The file cannot tell these from single-class NYSE symbols that end in
# their class letter (ZETA, ACVA and CIA are "CLASS A" too), so the known bases are listed.
NYSE_CLASS_BASES = frozenset({
    "AKO", "BF", "BH", "BIO", "BRK", "CRD", "CWEN", "EBR", "GEF", "GTN", "HEI", "HVT", "JW", "LEN", "LGF",
    "MKC", "MOG", "PBR", "STZ", "TAP", "UHAL", "WSO",
})


def yahoo_ticker(ticker: str, name: str = "") -> str:
    """Yahoo's spelling: `BRK.B` / `BRK/B` -> `BRK-B`; iShares' `MOGA` ("MOOG INC CLASS A") -> `MOG-A`.

    The class letter is split off only when the base is a known multi-class NYSE issuer *and* the
    name states that class: BFC (Bank First) and BHB (Bar Harbor) share a base with BF and BH.
    """
    ticker = ticker.upper().replace(".", "-").replace("/", "-").replace(" ", "")
    if "-" not in ticker and len(ticker) >= 2 and ticker[:-1] in NYSE_CLASS_BASES \
            and f"CLASS {ticker[-1]}" in name.upper():
        return f"{ticker[:-1]}-{ticker[-1]}"
    return ticker


def snapshot(name: str) -> Snapshot:
    """The list shipped inside the package, with its date: the fallback of last resort."""
    folder = resources.files("signals") / "universes"
    info = json.loads((folder / "snapshots.json").read_text(encoding="utf-8"))[name]
    members = pd.read_csv(io.StringIO((folder / f"{name}.csv").read_text(encoding="utf-8")), dtype=str,
                          keep_default_na=False)
    for column in COLUMNS:
        if column not in members:
            members[column] = ""
    members["weight"] = pd.to_numeric(members["weight"], errors="coerce")
    return Snapshot(members[COLUMNS], info["as_of"], info["source"])


_FETCHERS = {"sp500": fetch_sp500, "russell2000": fetch_russell2000}  # where each universe's live list comes from
LIST_SOURCES: dict[str, UniverseSource] = {  # each universe's live member list
    u.name: UniverseSource(u.name, u.label, _FETCHERS[u.name], u.min_members) for u in UNIVERSES}
