"""Stream-triggered runs: after a commit, queue a run of the models that read the stream.

:class:`Trigger` turns commits into run requests in the state store's run queue (the same queue
``POST /api/v1/runs`` and the scheduler fill), at most one per ``debounce`` seconds: the first
commit after a quiet time queues at once, later ones within the interval are folded into one
request at its end, and a request still waiting in the queue already covers new commits.
Readers declare ``cursor="_stream_offset"`` and so read only the events they have not seen.

Inside ``interlace serve`` the service's run worker executes the requests; the standalone
server and ``interlace stream run`` execute them with :class:`LocalRunWorker`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING

from interlace_stream.kind import readers_of

if TYPE_CHECKING:
    from interlace.project import Project
    from interlace.state.base import StateStore

log = logging.getLogger("interlace.stream.trigger")


class Trigger:
    """Queues runs of a stream's readers after commits (see the module docstring)."""

    def __init__(
        self,
        project: Project,
        store: StateStore,
        *,
        debounce: float = 1.0,
        requested_by: str = "stream",
    ) -> None:
        self.project = project
        self.store = store
        self.debounce = debounce
        self.requested_by = requested_by
        self.queued: list[str] = []  # ids of the requests it made, newest last (bounded)
        self._streams: set[str] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last = 0.0
        self.on_queued: list[object] = []

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="stream-trigger")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def notify(self, stream: str) -> None:
        """A commit of ``stream`` happened (safe to call from any thread)."""
        if not readers_of(self.project, [stream]):
            return
        with self._lock:
            self._streams.add(stream)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            wait = self._last + self.debounce - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            with self._lock:
                streams, self._streams = self._streams, set()
            if not streams:
                continue
            self._last = time.monotonic()
            try:
                await asyncio.to_thread(self.enqueue, sorted(streams))
            except Exception as exc:
                log.error("could not queue the runs of stream readers: %s", exc)

    def enqueue(self, streams: list[str]) -> str | None:
        """Queue a run of the readers of ``streams`` and the models downstream of them, unless
        one is already waiting; returns the new request's id (blocking)."""
        from interlace.state.run_queue import RunRequest

        readers = readers_of(self.project, streams)
        if not readers:
            return None
        # the readers and what is built from them: a published event reaches the marts too
        # (models whose inputs did not change are skipped by the run)
        downstream = set(readers)
        for name in readers:
            downstream |= self.project.graph.descendants(name)
        targets = tuple(sorted(downstream))
        env = self.project.env
        for waiting in self.store.run_requests(env=env, statuses=("queued",), limit=1000):
            if set(targets) <= set(waiting.targets):
                return None  # it has not started: it will read these events too
        request = RunRequest(
            id=uuid.uuid4().hex,
            env=env,
            project=self.project.name,
            selection=targets,
            targets=targets,
            requested_by=f"{self.requested_by}:{','.join(streams)}",
            created_at=time.time(),
        )
        self.store.enqueue_run(request)
        self.queued = [*self.queued[-99:], request.id]
        log.info("queued run %s of %s after commits to %s", request.id, targets, streams)
        return request.id


class LocalRunWorker:
    """Executes queued run requests in this process (the standalone stream server): one at a
    time, each in a thread of its own with its own event loop, as ``interlace serve`` does."""

    def __init__(self, project: Project, store: StateStore, *, poll: float = 0.2) -> None:
        self.project = project
        self.store = store
        self.poll = poll
        self.owner = f"stream-{uuid.uuid4().hex[:12]}"
        self.lease = 300.0
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.last_error: str | None = None

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="stream-run-worker")

    async def stop(self, grace: float = 60.0) -> None:
        """Take no more requests; let a running one finish (within ``grace`` seconds)."""
        if self._task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(self._task, grace)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                ran = await asyncio.to_thread(self.run_one)
            except Exception as exc:
                self.last_error = str(exc)
                log.error("running a queued stream run failed: %s", exc)
                ran = False
            if not ran:
                try:
                    await asyncio.wait_for(self._stopping.wait(), self.poll)
                except TimeoutError:
                    pass

    def run_one(self) -> bool:
        """Claim and run one queued request; False when there was none (blocking)."""
        store = self.store
        request = store.claim_run(
            self.owner, env=self.project.env, lease=self.lease, now=time.time()
        )
        if request is None:
            return False
        from interlace.api import run

        status, error = "failed", None
        try:
            store.add_request_run(request.id, request.id)
            result = asyncio.run(run(self.project, list(request.selection), run_id=request.id))
            status = "done" if result.status == "success" else "failed"
            error = result.error
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            store.finish_run_request(request.id, status, at=time.time(), error=error)  # type: ignore[arg-type]
        return True
