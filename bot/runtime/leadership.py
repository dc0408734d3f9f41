"""Who leads among replicas: the one that polls Telegram and runs the schedule.

On a server, leading is holding a PostgreSQL session advisory lock on a connection of its own. The
server lets go of it the moment that session ends: a killed process closes its socket at once, and
a lost network is noticed by TCP keepalives within seconds (signals/database.py). A standby asks for
the lock every `LEADERSHIP_POLL_SECONDS`; the leader checks its connection as often, and a leader
that cannot is no leader: it stops polling before the server can have handed the lock to another
(the server needs its keepalive time to notice; the leader's check takes one round trip).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from signals.database import connect_postgres, redact_url

if TYPE_CHECKING:
    from signals.database import PgConnection

log = logging.getLogger(__name__)

LEADER_LOCK = 0x6C656164  # "lead": the advisory lock the leader of one database holds
LEADERSHIP_POLL_SECONDS = 2.0


class Leadership(Protocol):
    def try_lead(self) -> bool:
        """Lead if nobody does; True while this process leads. Blocking: call it off the event loop."""

    def still_leading(self) -> bool:
        """Whether the lead is still held (the lock's connection answers). Blocking."""

    def release(self) -> None: ...


class AdvisoryLock:
    """The leader's lock on a PostgreSQL server."""

    def __init__(self, url: str, replica: str, key: int = LEADER_LOCK) -> None:
        self._url = url
        self._replica = replica
        self._key = key
        self._connection: PgConnection | None = None
        self._held = False

    def try_lead(self) -> bool:
        if self._held:
            return self.still_leading()
        try:
            if self._connection is None or self._connection.broken or self._connection.closed:
                self._connection = connect_postgres(self._url, f"rotation-bot {self._replica} (leader lock)")
            row = self._connection.execute("SELECT pg_try_advisory_lock(%s) AS held", [self._key]).fetchone()
        except Exception as exc:  # psycopg.Error: the server is away; stay a standby and ask again
            log.warning("cannot reach the database %s to ask for the lead: %s", redact_url(self._url), exc)
            self._drop()
            return False
        self._held = row is not None and bool(row["held"])
        return self._held

    def still_leading(self) -> bool:
        if not self._held or self._connection is None:
            return False
        try:
            self._connection.execute("SELECT 1")
            return True
        except Exception as exc:  # the session is gone, and with it the lock
            log.error("lost the database connection that holds the lead: %s", exc)
            self._drop()
            return False

    def release(self) -> None:
        if self._held and self._connection is not None and not self._connection.broken:
            try:
                self._connection.execute("SELECT pg_advisory_unlock(%s)", [self._key])
            except Exception:  # closing the session below releases it anyway
                log.debug("unlock failed; the session's end releases the lock", exc_info=True)
        self._drop()

    def _drop(self) -> None:
        self._held = False
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # already broken
                log.debug("closing the lock's connection failed", exc_info=True)
        self._connection = None
