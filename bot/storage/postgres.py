"""The server engine: one PostgreSQL database shared by any number of replicas of the bot.

Several replicas drain the outbox at once. A claim locks the rows it takes (`FOR UPDATE ... SKIP
LOCKED`), so drains never wait on each other's rows; and claims run one at a time per database (a
transaction-scoped advisory lock, held for the few milliseconds of one claim, never while
sending), because the rule that a chat's later message waits for its earlier one can only be
checked against claims already committed.
"""

from __future__ import annotations

from bot.storage.sql_store import SqlStore
from signals.database import Database, PostgresDatabase

CLAIM_LOCK = 0x636C6169  # "clai": claims of deliveries, one at a time across replicas


class PostgresStore(SqlStore):
    claim_locking = " FOR UPDATE OF outbox SKIP LOCKED"

    def __init__(self, url: str, replica: str = "main") -> None:
        super().__init__(PostgresDatabase(url, application_name=f"rotation-bot {replica}"), replica)

    def _before_claim(self, db: Database) -> None:
        db.execute("SELECT pg_advisory_xact_lock(?)", [CLAIM_LOCK])
