"""One bot per database: Telegram allows one poller per token, and two schedulers would race.

An advisory `flock` on `<database>.lock`: the kernel releases it when the process dies, so a crash
never leaves a stale lock behind. The lock sits beside the file the path resolves to: a symlink (or
`./x` beside `x`) names the same database, so it takes the same lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from signals.errors import RotationError


class AlreadyRunning(RotationError):
    pass


class InstanceLock:
    def __init__(self, database: Path) -> None:
        self.path = Path(f"{Path(database).resolve()}.lock")
        self._handle: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(handle, 32).decode(errors="replace").strip() or "unknown"
            os.close(handle)
            raise AlreadyRunning(
                f"another rotation-bot (pid {holder}) is already running on {self.path.with_suffix('')}; "
                "stop it first (Telegram allows one poller per token)"
            ) from None
        os.ftruncate(handle, 0)
        os.write(handle, str(os.getpid()).encode())
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            os.close(self._handle)
            self._handle = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.release()
