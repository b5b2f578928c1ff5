"""The run worker: takes queued run requests from the state store and runs them.

One supervisor thread looks at the queue every ``options.poll`` seconds (and at once when a
request is submitted): it renews the leases of the runs it holds, cancels those someone asked
to cancel (on this server or any other: the flag is in the state store), takes over the
requests of servers that died (their lease ran out: queued again, at most three times, and run
under new run ids ``<id>-t1``, ...; models are atomic and idempotent, so running again is
safe), and claims new requests while fewer than
``options.concurrency`` run. Each run executes on its own thread, in a
:class:`~interlace.run_session.RunSession` through :func:`interlace.api.run`: the same run, state
records and events as ``interlace run`` from the command line.

A ``window`` backfill runs one run per window (``<id>``, ``<id>-w2``, ...), in order; it stops
at the first that does not succeed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from interlace.errors import InterlaceError, first_line

if TYPE_CHECKING:
    from interlace.events import Event
    from interlace.project import Project
    from interlace.run_session import RunSession
    from interlace.state.base import StateStore
    from interlace.state.run_queue import RunRequest
    from interlace.status import RunRequestStatus

    from interlace_service.service import Service

log = logging.getLogger("interlace.service.runs")

OUTCOME: dict[str, RunRequestStatus] = {
    "success": "done",
    "failed": "failed",
    "cancelled": "cancelled",
}
STOPPED = "the server stopped before the run finished"


@dataclass
class _Active:
    request: RunRequest
    thread: threading.Thread | None = None
    session: RunSession | None = None
    cancelled: bool = False
    run_ids: list[str] = field(default_factory=list)


class RunWorker:
    """See the module docstring."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._active: dict[str, _Active] = {}
        self._wake = threading.Event()
        self._taking = threading.Event()  # set while new requests may be claimed
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._store: StateStore | None = None
        self._next_renew = 0.0
        self._next_takeover = 0.0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Open the worker's own state store connection and start taking requests."""
        from interlace.opening import open_state

        self._store = open_state(self.service.project)
        self._taking.set()
        self._thread = threading.Thread(target=self._loop, name="interlace-runs", daemon=True)
        self._thread.start()

    @property
    def store(self) -> StateStore:
        if self._store is None:
            raise RuntimeError("the run worker is not started")
        return self._store

    def wake(self) -> None:
        """Look at the queue now (a request was submitted or cancelled)."""
        self._wake.set()

    @property
    def taking(self) -> bool:
        return self._taking.is_set()

    def running(self) -> list[str]:
        """Ids of the requests this server is running."""
        with self._lock:
            return list(self._active)

    def drain(self, grace: float) -> None:
        """Stop taking requests; give running ones ``grace`` seconds to finish, then cancel
        them; release what is still held; stop."""
        self._taking.clear()
        self.wake()
        deadline = time.monotonic() + max(grace, 0.0)
        for active in self._snapshot():
            if active.thread is not None:
                active.thread.join(max(deadline - time.monotonic(), 0.0))
        left = [a for a in self._snapshot() if a.thread is not None and a.thread.is_alive()]
        if left:
            log.warning("cancelling %d run(s) still going after %.0f s", len(left), grace)
            for active in left:
                self.cancel_local(active.request.id)
            for active in left:
                assert active.thread is not None
                active.thread.join(60)
        self._closed.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(30)
        if self._store is not None:
            try:
                self._store.release_run_requests(self.owner, time.time(), STOPPED)
            except Exception as exc:  # the lease runs out by itself
                log.warning("could not release the run requests: %s", first_line(exc))
            self._store.close()
            self._store = None

    def _snapshot(self) -> list[_Active]:
        with self._lock:
            return list(self._active.values())

    # ------------------------------------------------------------------ the supervisor

    def _loop(self) -> None:
        while not self._closed.is_set():
            try:
                self._tick()
            except Exception as exc:  # a lost state store connection: try again next tick
                log.warning("the run queue could not be read: %s", first_line(exc))
                if self._store is not None and self._store.is_transient(exc):
                    self._store.reconnect()
            self._wake.wait(self.service.options.poll)
            self._wake.clear()

    def _tick(self) -> None:
        options = self.service.options
        store = self.store
        now = time.time()
        if now >= self._next_renew:
            store.renew_leases(self.owner, now + options.lease)
            self._next_renew = now + options.lease / 3
        if now >= self._next_takeover:  # a dead server's runs: queued again, run here
            for taken in store.take_over_run_requests(now):
                log.warning(
                    "run %s: its server stopped (lease expired); %s",
                    taken.id,
                    "queued again"
                    if taken.status == "queued"
                    else f"{taken.status}: {taken.error}",
                )
            self._next_takeover = now + min(options.poll, options.lease / 3)
        for request_id in store.cancel_requested(self.owner):
            self.cancel_local(request_id)
        if options.reload:
            self.service.reload_if_changed()
        while self._taking.is_set():
            with self._lock:
                if len(self._active) >= options.concurrency:
                    break
            request = store.claim_run(
                self.owner, env=self.service.env, lease=options.lease, now=time.time()
            )
            if request is None:
                break
            self._start(request)

    def _start(self, request: RunRequest) -> None:
        active = _Active(request)
        thread = threading.Thread(
            target=self._execute, args=(active,), name=f"interlace-run-{request.id[:8]}"
        )
        active.thread = thread
        with self._lock:
            self._active[request.id] = active
        thread.start()

    # ------------------------------------------------------------------ cancelling

    def cancel_local(self, request_id: str) -> bool:
        """Cancel the request's run if this server runs it (thread-safe)."""
        with self._lock:
            active = self._active.get(request_id)
            if active is None:
                return False
            active.cancelled = True
            session = active.session
        if session is not None:
            session.cancel()
        return True

    # ------------------------------------------------------------------ running one request

    def _execute(self, active: _Active) -> None:
        from interlace_service.logs import RUN_ID

        request = active.request
        project = self.service.project
        store = self.store
        status: RunRequestStatus = "failed"
        error: str | None = None
        RUN_ID.set(request.id)  # this thread's log lines name the run
        log.info(
            "run %s started (selection: %s, asked by %s)",
            request.id,
            " ".join(request.selection) or "all models",
            request.requested_by,
        )
        try:
            status, error = self._run_parts(active, project)
        except InterlaceError as exc:  # before the run started: a selection gone after reload
            status, error = "failed", str(exc)
            self._failed_before_start(request, error)
        except Exception as exc:
            log.exception("run %s failed", request.id)
            status, error = "failed", f"{type(exc).__name__}: {first_line(exc)}"
            self._failed_before_start(request, error)
        finally:
            try:
                store.finish_run_request(request.id, status, at=time.time(), error=error)
                letter = request.options.get("dead_letter")
                if status == "done" and isinstance(letter, int):
                    from interlace.dead_letters import mark_retried

                    mark_retried(store, letter, time.time(), request.id)
            except Exception as exc:
                log.warning("run %s: recording its end failed: %s", request.id, first_line(exc))
            with self._lock:
                self._active.pop(request.id, None)
            self.service.feed.nudge()  # its run.ended is stored: clients hear of it at once
            log.info("run %s ended: %s%s", request.id, status, f" ({error})" if error else "")
            self.wake()

    def _run_parts(self, active: _Active, project: Project) -> tuple[RunRequestStatus, str | None]:
        from interlace.api import run
        from interlace.run_session import RunSession

        from interlace_service.logs import RUN_ID

        request = active.request
        options = request.options
        status: RunRequestStatus = "done"
        error: str | None = None
        for number, (since, until) in enumerate(self._windows(project, request), 1):
            # a request taken over from a dead server runs again under new run ids
            takeovers = int(options.get("takeovers", 0))
            base = f"{request.id}-t{takeovers}" if takeovers else request.id
            run_id = base if number == 1 else f"{base}-w{number}"
            RUN_ID.set(run_id)
            self.store.add_request_run(request.id, run_id)
            session = RunSession(
                project,
                run_id=run_id,
                breakers=self.service.breakers,
                lock_timeout=options.get("lock_timeout"),
            )
            with session:
                # the event feed reads the store at once when this run publishes (an event is
                # stored before the bus hears of it), not at its next poll
                session.bus.subscribe(self._nudge_feed)
                with self._lock:
                    active.session = session
                    cancelled = active.cancelled
                if cancelled:
                    session.cancel()
                result = asyncio.run(
                    run(
                        project,
                        list(request.selection),
                        list(request.exclusions),
                        force=bool(options.get("force")),
                        full_refresh=bool(options.get("full_refresh")),
                        since=since,
                        until=until,
                        max_workers=options.get("max_workers"),
                        session=session,
                    )
                )
            status, error = OUTCOME[result.status], result.error
            if status != "done":
                break
        return status, error

    def _nudge_feed(self, _event: Event) -> None:
        self.service.feed.nudge()

    @staticmethod
    def _windows(project: Project, request: RunRequest) -> list[tuple[str | None, str | None]]:
        from interlace.api import incremental_models
        from interlace.window import split_windows

        options = request.options
        since, until, window = options.get("since"), options.get("until"), options.get("window")
        if window and since:
            names = project.select(list(request.selection), list(request.exclusions))
            if incremental_models(project, names):
                return [(part.since, part.until) for part in split_windows(since, until, window)]
        return [(since, until)]

    def _failed_before_start(self, request: RunRequest, error: str) -> None:
        """Tell event listeners that a request ended without a run (no run.completed came)."""
        try:
            if self.store.get_run(request.id) is not None:
                return  # the run started: its own run.completed said how it ended
        except Exception:
            return
        payload: dict[str, Any] = {
            "type": "run.completed",
            "run_id": request.id,
            "at": time.time(),
            "status": "failed",
            "error": error,
            "duration": 0.0,
            "succeeded": 0,
            "failed": 0,
            "skipped": 0,
        }
        try:
            self.store.add_event(
                request.env, request.id, "run.completed", payload["at"], json.dumps(payload)
            )
        except Exception as exc:
            log.warning("run %s: the event of its failure was lost: %s", request.id, exc)
