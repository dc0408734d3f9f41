"""A failure said once whole, then once a minute in a line, per job and kind; a success ends the streak."""

from __future__ import annotations

from bot.telegram.repeats import RepeatedFailures


def test_the_first_failure_is_said_whole_then_a_line_a_minute_with_the_count():
    now = [0.0]
    failures = RepeatedFailures(clock=lambda: now[0])
    full = OSError(28, "No space left on device")
    assert failures.failed("watch", full) == ("first", 0)
    said = []
    for _ in range(24):  # every 5 s for two minutes
        now[0] += 5.0
        said.append(failures.failed("watch", full))
    assert [s for s in said if s is not None] == [("again", 12), ("again", 12)]
    assert failures.failed("deliver", full) == ("first", 0), "another job's failure is its own"
    assert failures.failed("watch", ValueError("other")) == ("first", 0), "another kind is its own"


def test_a_success_ends_the_streak():
    now = [0.0]
    failures = RepeatedFailures(clock=lambda: now[0])
    failures.failed("watch", OSError("x"))
    failures.succeeded("watch")
    assert failures.failed("watch", OSError("x")) == ("first", 0)
