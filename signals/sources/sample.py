"""The packaged sample: the last two years of the development set, shipped inside the package.

`rotation-bot demo` runs on it with nothing beside the package: no data folder, no network. The
bars are stored as the folder parser's own rows (`ParsedPrices`), so loading it skips only the CSV
parsing: alignment, bad-print and stale rules, universe lists and rates go through the same code
as a data folder (`folder.assemble`).

Storage (`prices.npz`, about 4 MB): per ticker, its rows in date order, each column as integers
compressed with LZMA. Closes in 1/10,000 of a dollar and day numbers as differences from the row
before (small numbers compress well), the Adj Close / Close factor in millionths (it changes only
on ex-dividend days), High and Low as hundred-thousandths of the close, Volume on a log scale with
0.2% steps. That is exact enough for every metric (prices to 4 decimals, as Yahoo shows them) and
small enough to ship; the sample's README says where the data comes from.
"""

from __future__ import annotations

import argparse
import lzma
import shutil
from pathlib import Path

import numpy as np

from signals.market_data import MarketData
from signals.sources.csv_prices import ParsedChunk, ParsedPrices, parse_paths
from signals.tickers import YIELD_TICKERS

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample"
PRICES_FILE = "prices.npz"
_PRICE = 10_000  # units per dollar
_FACTOR = 1_000_000
_RANGE = 100_000  # High/Low: units of the close
_VOLUME = 500.0  # log-volume steps per unit: 0.2%
_NONE = -1  # a missing cell
_ZERO_VOLUME = -2
_NO_RANGE = -(2**31)


def sample_available(root: Path = SAMPLE_DIR) -> bool:
    return (root / PRICES_FILE).is_file()


def load_sample(root: Path = SAMPLE_DIR) -> MarketData:
    """The sample as a `MarketData`, through the data folder's own assembly (same rules, same warnings)."""
    from signals.sources.folder import assemble

    return assemble(root, read_prices(root / PRICES_FILE), source="the packaged sample")


def read_prices(path: Path) -> ParsedPrices:
    with np.load(path, allow_pickle=False) as stored:
        tickers = [str(t) for t in stored["tickers"]]
        start = np.datetime64(str(stored["start"]), "D")
        columns = {name: np.frombuffer(lzma.decompress(stored[name].tobytes()), dtype=stored[f"{name}_dtype"].item())
                   for name in ("codes", "days", "close", "factor", "high", "low", "volume")}
    codes = np.cumsum(columns["codes"].astype(np.int64)).astype(np.int32)
    first = np.r_[True, codes[1:] != codes[:-1]] if len(codes) else np.zeros(0, dtype=bool)
    days = _undelta(columns["days"], first)
    close = _undelta(columns["close"], first) / _PRICE
    factor = _undelta(columns["factor"], first)
    volume = columns["volume"].astype(np.float64)
    values = {
        "Close": close,
        "Adj Close": np.where(factor == _NONE, np.nan, close * factor / _FACTOR),
        "High": _range(columns["high"], close),
        "Low": _range(columns["low"], close),
        "Volume": np.where(volume == _NONE, np.nan,
                           np.where(volume == _ZERO_VOLUME, 0.0, np.rint(np.exp(volume / _VOLUME)))),
    }
    dates = (start + days.astype("timedelta64[D]")).astype("datetime64[ns]")
    return ParsedPrices(tickers, [ParsedChunk(codes, dates, values)], [])


def _undelta(deltas: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Per ticker running sums: each ticker's first row holds its value, the others the step from the row before."""
    running = np.cumsum(deltas.astype(np.int64))
    starts = np.flatnonzero(first)
    before = running[starts] - deltas[starts]
    return running - np.repeat(before, np.diff(np.r_[starts, len(deltas)]))


def _range(units: np.ndarray, close: np.ndarray) -> np.ndarray:
    return np.where(units == _NO_RANGE, np.nan, close * (1.0 + units / _RANGE))


def _delta(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    steps = np.diff(values, prepend=0)
    steps[first] = values[first]
    return steps


def write_sample(folder: Path, start: str, out: Path = SAMPLE_DIR) -> int:
    """Build the sample from a data folder's rows on or after `start`; returns the bytes of prices.npz."""
    paths = sorted((folder / "prices").glob("*.csv"))
    parsed = parse_paths([(p, f"prices/{p.name}") for p in paths], YIELD_TICKERS, [])
    cut = np.datetime64(start, "D")
    rows: dict[str, list[np.ndarray]] = {name: [] for name in ("codes", "dates", "Close", "Adj Close", "High",
                                                               "Low", "Volume")}
    for chunk in parsed.chunks:
        keep = chunk.dates >= cut
        rows["codes"].append(chunk.codes[keep])
        rows["dates"].append(chunk.dates[keep])
        for name in ("Close", "Adj Close", "High", "Low", "Volume"):
            column = chunk.values.get(name)
            rows[name].append(column[keep] if column is not None else np.full(int(keep.sum()), np.nan))
    joined = {name: np.concatenate(parts) for name, parts in rows.items()}
    order = np.lexsort((joined["dates"], joined["codes"]))
    joined = {name: values[order] for name, values in joined.items()}
    codes, close = joined["codes"].astype(np.int64), joined["Close"]
    if np.isnan(close).any():
        raise ValueError("a parsed row without a close: the parser should have dropped it")
    first = np.r_[True, codes[1:] != codes[:-1]]
    days = (joined["dates"].astype("datetime64[D]") - cut).astype(np.int64)
    price = np.rint(close * _PRICE).astype(np.int64)
    adjusted = joined["Adj Close"]
    factor = np.where(np.isnan(adjusted), _NONE, np.rint(adjusted / close * _FACTOR)).astype(np.int64)
    volume = joined["Volume"]
    with np.errstate(divide="ignore", invalid="ignore"):
        volume_units = np.where(np.isnan(volume), _NONE,
                                np.where(volume <= 0, _ZERO_VOLUME, np.rint(np.log(np.maximum(volume, 1.0)) * _VOLUME)))
        high = np.where(np.isnan(joined["High"]), _NO_RANGE, np.rint((joined["High"] / close - 1.0) * _RANGE))
        low = np.where(np.isnan(joined["Low"]), _NO_RANGE, np.rint((joined["Low"] / close - 1.0) * _RANGE))
    exact = {  # each column as integers, then narrowed to the smallest type that holds it exactly
        "codes": (np.diff(codes, prepend=0), np.int8),
        "days": (_delta(days, first), np.int16),
        "close": (_delta(price, first), np.int32),
        "factor": (_delta(factor, first), np.int32),
        "high": (high, np.int32),
        "low": (low, np.int32),
        "volume": (volume_units, np.int16),
    }
    columns = {name: values.astype(kind) for name, (values, kind) in exact.items()}
    for name, (values, _) in exact.items():
        if not np.array_equal(columns[name], values):
            raise ValueError(f"{name} does not fit {columns[name].dtype}: widen its column")
    out.mkdir(parents=True, exist_ok=True)
    stored: dict[str, np.ndarray] = {"tickers": np.array(parsed.tickers), "start": np.array(start)}
    for name, values in columns.items():
        stored[name] = np.frombuffer(lzma.compress(values.tobytes(), preset=9 | lzma.PRESET_EXTREME), dtype=np.uint8)
        stored[f"{name}_dtype"] = np.array(values.dtype.str)
    np.savez(out / PRICES_FILE, **stored)  # type: ignore[arg-type]  # numpy's stub types **kwds as its bool flag
    lists = [folder / "constituents.csv", *sorted((folder / "universes").glob("*.csv"))]
    for path in (p for p in lists if p.is_file()):  # the folder's optional files, where it has them
        target = out / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    if (folder / "rates.csv").is_file():
        _write_rates(folder / "rates.csv", out / "rates.csv", start)
    return (out / PRICES_FILE).stat().st_size


def _write_rates(source: Path, target: Path, start: str) -> None:
    lines = source.read_text(encoding="utf-8").splitlines()
    kept = [lines[0], *(line for line in lines[1:] if line[:10] >= start)]
    target.write_text("\n".join(kept) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the packaged sample from the development set.")
    parser.add_argument("folder", type=Path, help="the development data folder (../shared/data/market)")
    parser.add_argument("--start", default="2022-03-01", help="first date kept (default: two years before its end)")
    args = parser.parse_args(argv)
    size = write_sample(args.folder, args.start)
    print(f"wrote {SAMPLE_DIR / PRICES_FILE}: {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
