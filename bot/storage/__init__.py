"""The bot's state behind one seam: the `Store` protocol and its two engines.

`open_store` picks the engine from the target: a `postgresql://` URL (DATABASE_URL) for a server
that replicas share, otherwise a file path for the embedded default. The bot's state is written
here only; the price cache (signals/sources/price_cache.py) keeps its own tables, and the leader's
advisory lock (bot/runtime/leadership.py) is one statement on a connection of its own.
"""

from __future__ import annotations

from pathlib import Path

from bot.storage.protocol import ALIVE_WITHIN_SECONDS, Delivery, Replica, Store
from signals.database import is_postgres_url

__all__ = ["ALIVE_WITHIN_SECONDS", "Delivery", "Replica", "Store", "damage_line", "open_store"]


def open_store(target: str | Path, replica: str = "main") -> Store:
    if is_postgres_url(target):
        from bot.storage.postgres import PostgresStore

        return PostgresStore(str(target), replica)
    from bot.storage.sqlite import SqliteStore

    return SqliteStore(Path(target), replica)


def damage_line(database: str | Path, damage: list[str]) -> str:
    """What `Store.integrity` found, as one line that names the database, what is wrong, and what to do."""
    more = f" (and {len(damage) - 1} more)" if len(damage) > 1 else ""
    return (f"the database {database} is damaged: {damage[0]}{more}; stop the bot and restore it from a backup, "
            f"or recover it as README's 'A damaged database' says (`rotation-bot db check` lists every problem)")
