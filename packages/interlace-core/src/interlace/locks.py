"""Write locks on physical targets: two runs never write one table at once.

A model's run holds a lock on its target from re-reading its state through publish to the state
commit. The lock has two layers:

- **in this process** (:data:`PROCESS_LOCKS`): runs of one process (the service runs many) take
  turns on a target, whatever the engine;
- **in the target's own engine** (:meth:`interlace.engines.base.Session.target_lock`): other
  processes, on any machine, take turns too. PostgreSQL takes an advisory lock keyed by
  database, schema and table; MySQL a named lock (``GET_LOCK``); DuckDB needs none, because a
  process holds the whole database file while it writes (a second process waits for the file:
  :meth:`interlace.engines.duckdb.DuckDBEngine.connection`).

A run that finds a target locked waits up to its ``lock_timeout`` (``--lock-timeout``), saying
who holds it, then fails that model with :class:`LockTimeoutError`; models that do not collide
go on in parallel.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from interlace.errors import InterlaceError, RunCancelledError

if TYPE_CHECKING:
    from interlace.engines.base import Engine, Session

DEFAULT_LOCK_TIMEOUT = 600.0  # seconds: ten minutes
NOTICE_EVERY = 30.0  # seconds between "still waiting" notices


class LockTimeoutError(InterlaceError):
    """A target (or a database file) stayed locked by another run for the whole lock timeout."""


@dataclass
class LockWait:
    """How a run waits for a lock: at most ``timeout`` seconds (0: not at all), until
    ``cancelled`` is set; ``on_wait(what, holder)`` hears when it starts waiting and every
    :data:`NOTICE_EVERY` seconds after."""

    timeout: float = DEFAULT_LOCK_TIMEOUT
    cancelled: threading.Event = field(default_factory=threading.Event)
    on_wait: Callable[[str, str], None] | None = None
    holder: str = field(default_factory=lambda: describe_holder(None))

    def poll(
        self, what: str, try_lock: Callable[[], bool], who: Callable[[], str], step: float = 0.2
    ) -> None:
        """Call ``try_lock`` until it returns True; raise when the timeout passes or the run is
        cancelled. ``who`` names the holder for notices and the error."""
        if try_lock():
            return
        started = time.monotonic()
        deadline = started + self.timeout
        next_notice = started
        delay = 0.01
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise self.timed_out(what, who())
            if now >= next_notice and self.on_wait is not None:
                self.on_wait(what, who())
                next_notice = now + NOTICE_EVERY
            if self.cancelled.wait(min(delay, max(deadline - now, 0.0))):
                raise RunCancelledError(f"cancelled while waiting for {what}")
            delay = min(delay * 2, step)
            if try_lock():
                return

    def timed_out(self, what: str, holder: str) -> LockTimeoutError:
        if self.timeout <= 0:
            waited = "--no-wait was given"
            hint = "run again when that run has finished, or drop --no-wait to wait for it"
        else:
            waited = f"waited {_seconds(self.timeout)}"
            hint = "wait for that run to finish (or stop it), or raise --lock-timeout"
        return LockTimeoutError(
            f"{what} is locked by another run ({holder}); {waited}",
            hint=f"{hint}; two runs never write one table at once",
        )


def describe_holder(run_id: str | None) -> str:
    """How a lock holder is named to people waiting for it."""
    host = socket.gethostname()
    run = f"run {run_id[:12]}, " if run_id else ""
    return f"{run}pid {os.getpid()} on {host}"


def _seconds(value: float) -> str:
    whole = int(value)
    if whole >= 60 and whole % 60 == 0:
        return f"{whole // 60} min"
    return f"{value:g} s"


class ProcessLocks:
    """Locks of this process, by key; the holder's description is kept for waiters' messages.

    One instance serves the whole process (:data:`PROCESS_LOCKS`): runs of one process share
    database handles (DuckDB opens one database instance per file and process), so only a
    process-wide table can keep two of them off one target.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._holders: dict[tuple[str, ...], str] = {}
        self._releases: dict[tuple[str, ...], int] = {}
        self._clock = 0

    @property
    def generation(self) -> int:
        """Counts releases in this process: a key released after a run read this value was
        written by another run since (see :meth:`released_since`)."""
        with self._guard:
            return self._clock

    def released_since(self, key: tuple[str, ...], generation: int) -> bool:
        with self._guard:
            return self._releases.get(key, -1) >= generation

    @contextmanager
    def hold(self, key: tuple[str, ...], what: str, wait: LockWait) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        wait.poll(
            what,
            lambda: lock.acquire(blocking=False),
            lambda: self._holders.get(key, "another run of this process"),
        )
        self._holders[key] = wait.holder
        try:
            yield
        finally:
            self._holders.pop(key, None)
            with self._guard:
                self._releases[key] = self._clock
                self._clock += 1
            lock.release()


PROCESS_LOCKS = ProcessLocks()


def target_key(engine: Engine, schema: str, name: str) -> tuple[str, ...]:
    """The process-wide key of a table: its database (not the connection's name) and its name."""
    return (engine.lock_scope, schema.lower(), name.lower())


@contextmanager
def hold_target(
    engine: Engine, session: Session, schema: str, name: str, wait: LockWait
) -> Iterator[tuple[str, ...]]:
    """Hold the write lock of table ``schema.name`` (this process, then the engine) while the
    block runs; yields its :func:`target_key`. ``schema`` may name an attachment
    (``alias.schema``): those are locked in this process only (their server is reached
    through DuckDB)."""
    key = target_key(engine, schema, name)
    with PROCESS_LOCKS.hold(key, f"table {schema}.{name}", wait):
        if "." in schema:
            yield key
            return
        with session.target_lock(schema, name, wait):
            yield key


# run ids of the runs going on in this process: a run of this process that is not among them
# stopped without recording its end (its state store was unreachable), like a killed one
LIVE_RUNS: set[str] = set()
