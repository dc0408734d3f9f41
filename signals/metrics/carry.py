"""What a live engine keeps between ticks for the recursions that read a history session by session
(Wilder's sums in ADX, the cycle's swing rule): their state after the sessions they have read, so a
tick reads the new session instead of the whole history again.

A recursion resumes only where the inputs it read are, bit for bit, the start of the ones it is given
now (a check of a few microseconds): the same loaded history cut at a later session, or with sessions
appended. Anything else (an earlier cut, other bars, another window) starts over. Resumed or not, the
same operations run in the same order, so the numbers are the same bits (tests/test_carry.py).
A saved state is never changed in place: a resumed run copies what it extends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np


@dataclass(frozen=True)
class Progress:
    """A recursion's inputs so far; subclasses add the state it had reached after them."""

    inputs: tuple[np.ndarray, ...]

    def continues(self, inputs: tuple[np.ndarray, ...]) -> bool:
        """Whether `inputs` begin with the inputs read so far (and are at least as long)."""
        return len(inputs) == len(self.inputs) and all(
            len(new) >= len(old) and np.array_equal(new[:len(old)], old, equal_nan=True)
            for old, new in zip(self.inputs, inputs))


Kept = TypeVar("Kept", bound=Progress)


class Carry:
    """Each recursion's last progress by name, for one engine; empty for a one-off computation."""

    def __init__(self) -> None:
        self._kept: dict[str, Progress] = {}

    def resume(self, name: str, kind: type[Kept], inputs: tuple[np.ndarray, ...]) -> Kept | None:
        """The progress saved under `name`, if it is a `kind` and `inputs` continue what it read."""
        kept = self._kept.get(name)
        return kept if isinstance(kept, kind) and kept.continues(inputs) else None

    def keep(self, name: str, progress: Progress) -> None:
        self._kept[name] = progress
