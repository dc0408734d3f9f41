"""A job that fails the same way every few seconds (a full disk under the 5-second beats) is said once
whole, then once a minute in one line, not as a traceback per turn that buries everything else."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

SAY_AGAIN_AFTER_SECONDS = 60.0


@dataclass
class _Streak:
    said_at: float
    since_said: int = 0


@dataclass
class RepeatedFailures:
    """Which failures to say: the first of a kind whole, then at most one line per minute per kind.

    A kind is a job's name and the error's type and text; a job that succeeds ends its streaks, so
    the same failure after a recovery is said whole again.
    """

    clock: Callable[[], float] = time.monotonic
    every_seconds: float = SAY_AGAIN_AFTER_SECONDS
    _streaks: dict[tuple[str, str], _Streak] = field(default_factory=dict)

    def failed(self, job: str, error: BaseException) -> tuple[str, int] | None:
        """("first", 0) to say it whole; ("again", n) to say it in a line, n failures since last said;
        None to stay quiet."""
        key = (job, f"{type(error).__name__}: {error}")
        now = self.clock()
        streak = self._streaks.get(key)
        if streak is None:
            self._streaks[key] = _Streak(said_at=now)
            return "first", 0
        streak.since_said += 1
        if now - streak.said_at < self.every_seconds:
            return None
        repeated = streak.since_said
        streak.said_at, streak.since_said = now, 0
        return "again", repeated

    def succeeded(self, job: str) -> None:
        for key in [key for key in self._streaks if key[0] == job]:
            del self._streaks[key]
