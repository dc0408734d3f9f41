"""Work over pieces on the machine's cores, results in order.

The pieces are numpy, pandas' C parser and file reads, which let go of the GIL on work this size, so
threads run them side by side; taking the results in the pieces' order keeps what they report (issues,
counts) as one thread would have it. Each piece writes only its own part of any shared array.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Piece = TypeVar("Piece")
Result = TypeVar("Result")

THREADS = 2  # the cores this product is sized for (a 2-core machine runs it and its CI)


def in_order(work: Callable[[Piece], Result], pieces: Sequence[Piece], threads: int = THREADS) -> list[Result]:
    """`work` over `pieces`, `threads` at a time; one piece (or one thread) runs here, without a pool."""
    if threads < 2 or len(pieces) < 2:
        return [work(piece) for piece in pieces]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(work, pieces))
