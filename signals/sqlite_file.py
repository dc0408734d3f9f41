"""Opening the project's SQLite file: private (0600), WAL, shareable between the loop and a worker thread."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def connect_private(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), the file and its WAL readable by us only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    connection.execute("PRAGMA journal_mode = WAL")
    for suffix in ("", "-wal", "-shm"):
        companion = Path(f"{path}{suffix}")
        if companion.exists():
            companion.chmod(0o600)
    return connection
