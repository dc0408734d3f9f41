"""Shared fixtures. The real development data set is read from ROTATION_MARKET_DATA, by default
`../shared/data/market` beside the project's root; tests that need it skip when it is absent."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from signals.market_data import MarketData
from signals.sources.folder import load_folder

# parsed copies of the tests' data folders go to a throw-away place, never the user's cache
if "ROTATION_CACHE_DIR" not in os.environ:
    _CACHE = tempfile.mkdtemp(prefix="rotation-bot-test-cache-")
    os.environ["ROTATION_CACHE_DIR"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

ROOT = Path(__file__).resolve().parent.parent
MARKET_DATA = Path(os.environ.get("ROTATION_MARKET_DATA", ROOT.parent / "shared" / "data" / "market"))
LONG_DATA = Path(os.environ.get("ROTATION_LONG_DATA", ROOT.parent / "shared" / "data" / "long"))


class Clock:
    """An injected clock: tests move time instead of sleeping through backoffs and windows."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 1, 8, 21, 30, tzinfo=timezone.utc))  # a Monday, after the close


@pytest.fixture(scope="session")
def market_path() -> Path:
    if not (MARKET_DATA / "prices").is_dir():
        pytest.skip(f"real market data not found at {MARKET_DATA} (set ROTATION_MARKET_DATA to its folder)")
    return MARKET_DATA


@pytest.fixture(scope="session")
def real_market(market_path: Path) -> MarketData:
    return load_folder(market_path)


@pytest.fixture(scope="session")
def long_path() -> Path:
    if not (LONG_DATA / "prices").is_dir():
        pytest.skip(f"the index history 1987-2006 is not at {LONG_DATA} (set ROTATION_LONG_DATA)")
    return LONG_DATA


@pytest.fixture(scope="session")
def decades(long_path: Path, market_path: Path, tmp_path_factory: pytest.TempPathFactory) -> MarketData:
    """The 1987-2006 index history joined with the development set's indices and rates (bench_decades)."""
    from benchmarks.bench_decades import joined_folder

    return load_folder(joined_folder(long_path, market_path, tmp_path_factory.mktemp("decades")))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A small data folder whose last session is quiet (tests/bot_harness.py: `announce_cut` makes news)."""
    from tests.bot_harness import make_folder

    return make_folder(tmp_path / "data")


@pytest.fixture
def fake():
    """The fake Bot API server the real python-telegram-bot client talks to (tests/fake_telegram.py)."""
    from tests.fake_telegram import FakeTelegram

    with FakeTelegram() as server:
        yield server


# PostgreSQL: the machine's server (TEST_DATABASE_URL overrides); each test gets a database of its
# own, created and dropped here, so tests never see each other's rows.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    try:
        import psycopg

        psycopg.connect(TEST_DATABASE_URL, connect_timeout=3).close()
    except Exception as exc:  # ImportError, OperationalError: no server answers here
        pytest.skip(f"no PostgreSQL server at {TEST_DATABASE_URL} ({type(exc).__name__}); set TEST_DATABASE_URL")
    return TEST_DATABASE_URL


@pytest.fixture
def postgres_url(postgres_server: str):
    """The URL of a fresh, empty database on the test server; dropped after the test."""
    from tests.pg import scratch_database

    with scratch_database(postgres_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request, tmp_path: Path):
    """Where a store lives, once per engine: the contract suite runs on both."""
    if request.param == "sqlite":
        return tmp_path / "state" / "bot.sqlite"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_target):
    from bot.storage import open_store

    opened = open_store(store_target)
    yield opened
    opened.close()
