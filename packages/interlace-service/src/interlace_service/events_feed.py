"""The live event feed behind ``GET /api/v1/events``: one poller of the state store's numbered
events, fanned out to every connected client.

Events come from the state store, not only this process's bus, so a client also sees runs of
``interlace run`` in a terminal and of other servers sharing the store, in one order (the
store's ids), and a reconnecting client replays what it missed from the same table.

Public event types (what SSE clients filter on) are derived from the stored core types:

==================  ==========================================================
stored              sent as
==================  ==========================================================
run.queued          run.queued
run.started         run.running
run.completed       run.completed / run.failed / run.cancelled (by its status)
request.ended       run.ended: the run request (every window of it) ended and its final
                    ``status`` (done / failed / cancelled) is recorded: the last event of a
                    run submitted to a server
task.queued ...     task.queued, task.running, task.completed, task.failed,
                    task.skipped (unchanged)
task.retrying       task.progress (``phase: retrying``)
lock.waiting        task.progress (``phase: waiting``), run.progress without a model
check.completed     check.completed (``status``: passed / failed / error)
schedule.*          schedule.fired, schedule.skipped, schedule.missed (unchanged)
==================  ==========================================================
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from interlace.state.run_queue import REQUEST_ENDED

if TYPE_CHECKING:
    from interlace.state.base import StoredEvent

    from interlace_service.service import Service

log = logging.getLogger("interlace.service.events")

OVERLAP = 64  # ids re-read each poll: a PostgreSQL transaction may commit a lower id later
FRAMES = 4096  # encoded events kept for the clients still to be sent them
_RUN_END = {"success": "run.completed", "failed": "run.failed", "cancelled": "run.cancelled"}


def public_type(stored: StoredEvent) -> str:
    """The type an SSE client sees for a stored event (see the module docstring)."""
    kind = stored.type
    if kind == "run.started":
        return "run.running"
    if kind == "run.completed":
        return _RUN_END.get(str(stored.data.get("status")), "run.completed")
    if kind == REQUEST_ENDED:
        return "run.ended"
    if kind == "task.retrying":
        return "task.progress"
    if kind == "lock.waiting":
        return "task.progress" if stored.data.get("model") else "run.progress"
    return kind


def public_event(stored: StoredEvent) -> dict[str, Any]:
    """The JSON an SSE client receives: the event's fields, its public ``type``, the stored
    type as ``event`` and its ``id`` and ``env``."""
    data = dict(stored.data)
    if stored.type == "task.retrying":
        data["phase"] = "retrying"
    elif stored.type == "lock.waiting":
        data["phase"] = "waiting"
    return {**data, "id": stored.id, "type": public_type(stored), "event": stored.type,
            "env": stored.env, "run_id": stored.run_id, "at": stored.at}  # fmt: skip


class Subscriber:
    """One client's queue of new events (``None`` ends it: the server is stopping, or the
    client fell too far behind and must reconnect with ``Last-Event-ID``)."""

    def __init__(self, limit: int = 10_000) -> None:
        self.queue: asyncio.Queue[StoredEvent | None] = asyncio.Queue(maxsize=limit)


class EventFeed:
    """Polls the state store for events after the last one seen and hands them to every
    :class:`Subscriber`. Started and stopped with the app."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.cursor = 0  # the highest id handed out
        self._subscribers: set[Subscriber] = set()
        self._seen: collections.deque[int] = collections.deque(maxlen=4 * OVERLAP)
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fresh: asyncio.Event | None = None
        self._frames: collections.OrderedDict[int, bytes] = collections.OrderedDict()

    async def start(self) -> None:
        self.cursor = await self.service.io(self.service.store.latest_event_id)
        self._loop = asyncio.get_running_loop()
        self._fresh = asyncio.Event()
        self._task = asyncio.create_task(self._poll(), name="interlace-event-feed")

    def nudge(self) -> None:
        """Read the store now rather than at the next poll (thread-safe): a run of this
        server published an event, which is stored before listeners hear of it. Events of
        other processes are picked up by the poll."""
        loop, fresh = self._loop, self._fresh
        if loop is None or fresh is None or fresh.is_set():
            return
        try:
            loop.call_soon_threadsafe(fresh.set)
        except RuntimeError:  # the loop closed: the server stops
            pass

    async def stop(self) -> None:
        for subscriber in list(self._subscribers):
            self._end(subscriber)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def encoded(self, event: StoredEvent) -> bytes:
        """The event as SSE bytes, encoded once for all the clients it goes to."""
        frame = self._frames.get(event.id)
        if frame is None:
            from interlace_http.sse import encode_event

            frame = encode_event(public_event(event), event=public_type(event), id=event.id)
            self._frames[event.id] = frame
            while len(self._frames) > FRAMES:
                self._frames.popitem(last=False)
        return frame

    @property
    def listeners(self) -> int:
        """How many clients are connected."""
        return len(self._subscribers)

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def _end(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        with contextlib.suppress(asyncio.QueueFull):
            subscriber.queue.put_nowait(None)
        if subscriber.queue.full():  # make room for the end mark: the client reconnects
            with contextlib.suppress(asyncio.QueueEmpty, asyncio.QueueFull):
                subscriber.queue.get_nowait()
                subscriber.queue.put_nowait(None)

    def _count(self, event: StoredEvent) -> None:
        """Feed the server's metrics (never let a metric stop the feed)."""
        try:
            self.service.metrics.observe(event)
        except Exception as exc:
            log.warning("event %s was not counted in the metrics: %s", event.id, exc)

    async def _poll(self) -> None:
        store = self.service.store
        while True:
            try:
                events = await self.service.io(
                    store.events, max(self.cursor - OVERLAP, 0), None, 1000
                )
            except Exception as exc:
                log.warning("reading events from the state store failed: %s", exc)
                events = []
            fresh = [e for e in events if e.id not in self._seen and e.env == self.service.env]
            for event in events:
                if event.id not in self._seen:
                    self._seen.append(event.id)
                self.cursor = max(self.cursor, event.id)
            for event in fresh:
                self._count(event)
                for subscriber in list(self._subscribers):
                    try:
                        subscriber.queue.put_nowait(event)
                    except asyncio.QueueFull:
                        self._end(subscriber)
            if len(events) < 1000:
                await self._wait(self.service.options.poll)

    async def _wait(self, seconds: float) -> None:
        """Until the next poll, or a nudge."""
        fresh = self._fresh
        if fresh is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fresh.wait(), seconds)
        fresh.clear()
