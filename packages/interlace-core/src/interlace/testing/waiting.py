"""Waiting in tests for what another thread or process does, without fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def eventually(check: Callable[[], Any], timeout: float = 60.0, step: float = 0.05) -> Any:
    """Poll ``check`` until it returns a truthy value, and return that value; an exception it
    raises counts as "not yet" (a database busy between commits). After ``timeout`` seconds,
    AssertionError with the last exception."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception as exc:
            last = exc
        else:
            if value:
                return value
        time.sleep(step)
    raise AssertionError(f"not true within {timeout} s (last error: {last!r})")
