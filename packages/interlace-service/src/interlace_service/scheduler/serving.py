"""The scheduler inside ``interlace serve``: its own state store connection, its loop as a task
of the server's event loop, its fires waking the run worker, its counters in ``/metrics``.

``interlace serve --no-scheduler`` leaves it out. On a SQLite state store a second server with
the scheduler on is refused at start (:class:`~interlace_service.scheduler.SchedulerBusy`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from interlace.errors import first_line

from interlace_service.scheduler.firing import Scheduler

if TYPE_CHECKING:
    from interlace.state.base import StateStore

    from interlace_service.service import Service

log = logging.getLogger("interlace.service.scheduler")


class ServiceScheduler:
    """The scheduler of one server (see the module docstring)."""

    def __init__(self, service: Service) -> None:
        from interlace.opening import open_state

        self.service = service
        self.store: StateStore = open_state(service.project)
        self.scheduler = Scheduler(
            self.store,
            lambda: service.project,
            owner=service.worker.owner,
            on_fire=service.worker.wake,
            lease=service.options.lease,
            observers=[self._count],
        )
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Event | None = None
        metrics = service.metrics
        self._fired = metrics.counter(
            "interlace_scheduler_fires_total", "Slots the scheduler fired.", ["schedule"]
        )
        self._skipped = metrics.counter(
            "interlace_scheduler_skipped_total",
            "Slots skipped because the previous run of the same models still ran.",
            ["schedule"],
        )
        self._missed = metrics.counter(
            "interlace_scheduler_missed_total",
            "Slots missed (downtime) that the catch-up policy did not run.",
            ["schedule"],
        )
        self._lateness = metrics.histogram(
            "interlace_scheduler_lateness_seconds",
            "Seconds between a slot and its fire.",
            ["schedule"],
            (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 3600),
        )

    def _count(self, kind: str, data: dict[str, Any]) -> None:
        name = str(data["schedule"])
        if kind == "schedule.fired":
            self._fired.labels(schedule=name).inc()
            self._lateness.labels(schedule=name).observe(float(data["lateness"]))
        elif kind == "schedule.skipped":
            self._skipped.labels(schedule=name).inc()
        elif kind == "schedule.missed":
            slots: list[dt.datetime] = data["slots"]
            self._missed.labels(schedule=name).inc(len(slots))

    def start(self) -> None:
        """Register as the scheduler (blocking; raises SchedulerBusy, ConfigError)."""
        try:
            self.scheduler.start()
        except BaseException:
            self.store.close()
            raise

    def launch(self) -> None:
        """Start the loop on the running event loop."""
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(self._stopping), name="interlace-scheduler")

    async def _run(self, stopping: asyncio.Event) -> None:
        try:
            await self.scheduler.run(stopping)
        except Exception as exc:  # logged; the server keeps serving runs
            log.error("the scheduler stopped: %s", first_line(exc))

    async def halt(self) -> None:
        """Stop the loop (no fire is cut in half: a fire is one transaction)."""
        if self._stopping is not None:
            self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=30)
            self._task = None

    def close(self) -> None:
        """Give up the registration and close the connection (blocking)."""
        self.scheduler.stop()
        self.store.close()
