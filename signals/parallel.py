"""Work over pieces on the machine's cores, results in order.

The pieces are numpy, pandas' C parser and file reads, which let go of the GIL on work this size, so
threads run them side by side; taking the results in the pieces' order keeps what they report (issues,
counts) as one thread would have it. Each piece writes only its own part of any shared array.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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


def streamed(work: Callable[[Piece], Result], pieces: Sequence[Piece], threads: int = THREADS) -> Iterator[Result]:
    """`in_order`'s results, each handed out as soon as it and those before it are done, so the caller
    works on one while the next are computed; at most `2 * threads` pieces run or wait ahead of the
    caller, so memory holds a few results, not all of them. Closing the iterator early cancels the rest."""
    if threads < 2 or len(pieces) < 2:
        yield from (work(piece) for piece in pieces)
        return
    queue = iter(pieces)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: deque[Future[Result]] = deque(pool.submit(work, piece) for _, piece in zip(range(2 * threads), queue))
        try:
            while pending:
                result = pending.popleft().result()
                for piece in queue:
                    pending.append(pool.submit(work, piece))
                    break
                yield result
        finally:
            for future in pending:
                future.cancel()
