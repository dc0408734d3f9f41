"""Blocking work off the event loop that a stop does not wait for.

A tick reads the network (Yahoo, FRED, the index lists) in a worker thread. Cancelling it stops it at
its next check, but a read that hangs (a proxy that accepts and never answers) only ends at its own
timeout, and `asyncio.to_thread`'s pool thread would hold the stop (and the interpreter's exit) until
then: Ctrl-C ignored for a minute. Here the work runs in a daemon thread; once a stop is asked, it
gets `grace_seconds` to end at its next check, then is left behind and the stop goes on. Leaving it
is safe: every store write is a transaction (an exit mid-way rolls it back) and a run it leaves
unfinished is marked interrupted, and evaluated again, at the next start.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

from signals.errors import Cancelled

T = TypeVar("T")
STOP_GRACE_SECONDS = 1.0
_LOOK_EVERY_SECONDS = 0.1


async def abandonable(work: Callable[[], T], stop_requested: threading.Event, name: str = "worker",
                      grace_seconds: float = STOP_GRACE_SECONDS) -> T:
    """`work()` in a daemon thread; Cancelled `grace_seconds` after `stop_requested` if still running."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not done.done():
            outcome()

    def run() -> None:
        try:
            result = work()
        except BaseException as exc:  # handed to the awaiting coroutine, whatever it is
            error = exc
            _call_soon(loop, lambda: settle(lambda: done.set_exception(error)))
        else:
            _call_soon(loop, lambda: settle(lambda: done.set_result(result)))

    threading.Thread(target=run, name=name, daemon=True).start()
    stopped_at: float | None = None
    while not done.done():
        await asyncio.wait([done], timeout=_LOOK_EVERY_SECONDS)
        if done.done() or not stop_requested.is_set():
            continue
        stopped_at = stopped_at if stopped_at is not None else loop.time()
        if loop.time() - stopped_at >= grace_seconds:
            done.cancel()  # a late result or error of the abandoned thread goes nowhere
            raise Cancelled(f"stopped on request; the {name} still waiting on the network was left behind")
    return done.result()


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    try:
        loop.call_soon_threadsafe(callback)
    except RuntimeError:  # the loop closed while the abandoned thread worked: nobody waits for it
        pass
