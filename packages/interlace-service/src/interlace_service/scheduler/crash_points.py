"""Named points around a fire where a test makes the process die as ``kill -9`` would.

Set ``INTERLACE_SCHEDULER_CRASH_AT`` to one of :data:`POINTS` and the scheduler sends itself
SIGKILL when it reaches that point (no cleanup, no ``finally``, no atexit): the crash tests
restart ``interlace serve`` after it and check that every slot fired exactly once. Unset (the
normal case) it does nothing.

- ``before_transaction``: the slot is due, nothing is written yet;
- ``before_commit``: the slot row, the run request and the events are written, not committed;
- ``after_commit``: all of it is committed, nothing after it ran (the run worker was not woken).
"""

from __future__ import annotations

import os
import signal

VARIABLE = "INTERLACE_SCHEDULER_CRASH_AT"
POINTS = ("before_transaction", "before_commit", "after_commit")


def crash_point(name: str) -> None:
    """Die here (SIGKILL) when ``INTERLACE_SCHEDULER_CRASH_AT`` names this point."""
    if os.environ.get(VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
