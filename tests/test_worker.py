"""Blocking work that a stop does not wait for: a result or an error passes through; after a stop, the
work has its grace, then is left behind."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot.runtime.worker import abandonable
from signals.errors import Cancelled


def test_a_result_and_an_error_pass_through():
    stop = threading.Event()
    assert asyncio.run(abandonable(lambda: 41 + 1, stop)) == 42

    def fails():
        raise ValueError("bad file")

    with pytest.raises(ValueError, match="bad file"):
        asyncio.run(abandonable(fails, stop))


def test_work_that_ends_within_its_grace_after_a_stop_is_waited_for():
    stop = threading.Event()

    def ends_soon():
        stop.set()
        time.sleep(0.2)
        return "done"

    assert asyncio.run(abandonable(ends_soon, stop, grace_seconds=2.0)) == "done"


def test_work_hanging_after_a_stop_is_left_behind_after_its_grace():
    stop, release = threading.Event(), threading.Event()

    async def scenario():
        loop = asyncio.get_running_loop()
        loop.call_later(0.2, stop.set)
        began = time.monotonic()
        with pytest.raises(Cancelled, match="left behind"):
            await abandonable(release.wait, stop, name="tick", grace_seconds=0.3)
        return time.monotonic() - began

    took = asyncio.run(scenario())
    release.set()
    assert 0.4 < took < 1.5
