"""The scheduler: turns the project's schedules into run requests, exactly once per slot.

It never runs anything itself: a fire is a row of the run queue (taken by a run worker of any
``interlace serve`` sharing the state store) written in one transaction with the slot's row in
``schedule_fires`` (see :mod:`interlace.state.schedule_state`), so a slot fires once even when
the process dies at any instant and even when several servers fire the same slot.

Usable without HTTP, deterministic for tests::

    scheduler = Scheduler(store, project)
    scheduler.start(now)                 # registers the scheduler, reads the schedules
    report = scheduler.tick(now)         # fires what is due at `now`
    report.fired                         # [(schedule name, slot, request id), ...]

and as a loop (``interlace serve`` runs it)::

    await scheduler.run(stopping)        # sleeps until the next due slot, fires it, ...

The loop keeps each schedule's next wake-up time in a heap and sleeps until the earliest: an
idle project of 10,000 hourly schedules costs nothing between slots but a lease renewal every
few seconds. Before firing a schedule it reads that schedule's row again, so a pause, a resume
or a fire by another server is always seen.

Why one module over 500 lines: :class:`Scheduler` is one object whose heap, lease and fire
transaction share state; the slot arithmetic (:mod:`interlace.schedules`) and the stored rows
(:mod:`interlace.state.schedule_state`) already live elsewhere.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
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
from interlace.schedules import Due, due_slots, jitter_for, next_slot
from interlace.state.run_queue import ACTIVE, RunRequest

from interlace_service.scheduler.crash_points import crash_point
from interlace_service.scheduler.definitions import ScheduleDef, project_schedules

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from interlace.project import Project
    from interlace.state.base import StateStore
    from interlace.state.schedule_state import ScheduleRecord, SchedulerLease

log = logging.getLogger("interlace.service.scheduler")

UTC = dt.UTC
REFRESH = 60.0  # seconds between full re-reads of the schedules' rows (new rows, resumes)
MAX_SLEEP = 60.0


class SchedulerBusy(InterlaceError):
    """Another process runs the scheduler of this SQLite state store."""


def _utc(moment: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(moment, UTC)


def _seconds(moment: dt.datetime | float) -> float:
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            raise ValueError("scheduler times must carry a time zone (use UTC)")
        return moment.timestamp()
    return float(moment)


@dataclass
class TickReport:
    """What one :meth:`Scheduler.tick` did: ``fired`` (name, slot, request id), ``skipped``
    (name, slot: the previous run of the same models still ran) and ``missed`` (name, slots
    the catch-up policy did not run)."""

    fired: list[tuple[str, dt.datetime, str]] = field(default_factory=list)
    skipped: list[tuple[str, dt.datetime]] = field(default_factory=list)
    missed: list[tuple[str, list[dt.datetime]]] = field(default_factory=list)


@dataclass
class SchedulerStats:
    """Counters since the scheduler started (the metrics and ``GET /api/v1/scheduler``)."""

    fires: int = 0
    skipped: int = 0
    missed: int = 0
    last_lateness: float | None = None  # seconds between a slot and its fire
    max_lateness: float = 0.0
    by_schedule: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, name: str, what: str, n: int = 1) -> None:
        entry = self.by_schedule.setdefault(name, {"fires": 0, "skipped": 0, "missed": 0})
        entry[what] += n


class Scheduler:
    """See the module docstring.

    ``project`` is the project, or a callable returning the current one (a reloading server
    swaps it); ``owner`` names this scheduler in leases; ``on_fire`` is called after a fire
    commits (the server wakes its run worker); ``lease`` is how long the registration as a
    scheduler lasts without renewal (renewed every third of it).
    """

    def __init__(
        self,
        store: StateStore,
        project: Project | Callable[[], Project],
        *,
        owner: str | None = None,
        on_fire: Callable[[], None] | None = None,
        lease: float = 30.0,
        refresh: float = REFRESH,
        observers: Iterable[Callable[[str, dict[str, Any]], None]] = (),
    ) -> None:
        self.store = store
        self._project_source = project if callable(project) else (lambda: project)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.on_fire = on_fire
        self.lease = lease
        self.refresh = refresh
        self.observers = list(observers)
        self.stats = SchedulerStats()
        self._project: Project | None = None
        self._defs: dict[str, ScheduleDef] = {}
        self._records: dict[str, ScheduleRecord] = {}
        self._wake_at: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._next_refresh = 0.0
        self._next_renew = 0.0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._nudge: asyncio.Event | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def env(self) -> str:
        return self.project.env

    @property
    def project(self) -> Project:
        return self._project if self._project is not None else self._project_source()

    @property
    def schedules(self) -> dict[str, ScheduleDef]:
        """The project's schedules by name (as of the last tick)."""
        return dict(self._defs)

    def start(self, now: dt.datetime | float | None = None) -> None:
        """Register as a scheduler of the environment and read the schedules.

        Raises :class:`SchedulerBusy` on a SQLite state store another live process schedules
        for, naming it; a :class:`~interlace.errors.ConfigError` for a schedule that names no
        model."""
        moment = time.time() if now is None else _seconds(now)
        self._renew(moment)
        with self._lock:
            self._sync(moment)

    def stop(self) -> None:
        """Give up the registration (the next server takes over at once)."""
        try:
            self.store.release_scheduler(self.env, self.owner)
        except Exception as exc:  # it expires by itself
            log.warning("could not release the scheduler lease: %s", first_line(exc))

    def _renew(self, now: float) -> None:
        holder = self.store.acquire_scheduler(self.env, self.owner, now=now, ttl=self.lease)
        if holder is not None:
            raise SchedulerBusy(
                f"the scheduler of environment {self.env} already runs in process {holder.pid} "
                f"on {holder.host} (since {_utc(holder.acquired_at):%Y-%m-%d %H:%M:%S} UTC), "
                "and a SQLite state store allows one scheduler",
                hint="stop that server, start this one with --no-scheduler, or use a "
                "PostgreSQL state store (state: {type: postgres, ...}) to run several "
                "`interlace serve` workers that share schedules and the run queue",
            )
        self._next_renew = now + self.lease / 3

    def wake(self) -> None:
        """Look at the schedules again now (a pause or resume came in). Thread-safe."""
        self._next_refresh = 0.0
        loop, nudge = self._loop, self._nudge
        if loop is not None and nudge is not None:
            loop.call_soon_threadsafe(nudge.set)

    # ------------------------------------------------------------------ reading schedules

    def _sync(self, now: float) -> None:
        """Read the project's schedules and their rows; (re)compute every wake-up time."""
        project = self._project_source()
        defs = {d.name: d for d in project_schedules(project)}
        self._project = project
        records = self.store.schedule_records(project.env)
        with self.store.transaction():  # one commit for the new and changed ones
            for name, definition in defs.items():
                record = records.get(name)
                if record is None or record.fingerprint != definition.fingerprint:
                    records[name] = self.store.sync_schedule(
                        project.env, name, definition.select, definition.fingerprint, now
                    )
        self._defs = defs
        self._records = {name: records[name] for name in defs}
        self._wake_at.clear()
        self._heap.clear()
        for name in defs:
            self._plan(name, now)
        self._next_refresh = now + self.refresh

    def _refresh(self, now: float) -> None:
        """Re-read the rows (other servers fired, someone paused or resumed); re-plan the
        schedules whose row changed."""
        records = self.store.schedule_records(self.env)
        for name in self._defs:
            record = records.get(name)
            if record is not None and record != self._records.get(name):
                self._records[name] = record
                self._plan(name, now)
        self._next_refresh = now + self.refresh

    def _due(self, definition: ScheduleDef, record: ScheduleRecord, now: float) -> Due:
        last = None if record.last_slot is None else _utc(record.last_slot)
        return due_slots(definition.spec, last, _utc(now), since=_utc(record.since))

    def _plan(self, name: str, now: float) -> None:
        """Compute when ``name`` next needs a look and put it in the heap."""
        definition, record = self._defs[name], self._records[name]
        spec = definition.spec
        if not spec.enabled:
            self._wake_at.pop(name, None)
            return
        if record.paused:
            # nothing fires; look again at the next slot, when a resume may have come
            at = next_slot(spec, _utc(now)).timestamp()
        else:
            due = self._due(definition, record, now)
            if due.fire:
                at = max(now, (due.fire[-1] + jitter_for(spec, name, due.fire[-1])).timestamp())
            elif due.missed:
                at = now
            elif due.next is not None:
                at = (due.next + jitter_for(spec, name, due.next)).timestamp()
            else:
                return
        self._wake_at[name] = at
        heapq.heappush(self._heap, (at, name))

    def next_wake(self) -> float | None:
        """When the earliest schedule needs a look (Unix seconds), ``None`` without any."""
        while self._heap and self._wake_at.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)  # superseded by a later plan
        return self._heap[0][0] if self._heap else None

    # ------------------------------------------------------------------ firing

    def tick(self, now: dt.datetime | float | None = None) -> TickReport:
        """Fire every slot due at ``now`` (default: the clock), renew the registration when
        due, pick up project reloads and row changes. Deterministic: the same state and
        ``now`` give the same fires."""
        moment = time.time() if now is None else _seconds(now)
        report = TickReport()
        with self._lock:
            if moment >= self._next_renew:
                self._renew(moment)
            if self._project is not self._project_source():
                self._sync(moment)
            elif moment >= self._next_refresh:
                self._refresh(moment)
            due: list[str] = []
            while True:
                at = self.next_wake()
                if at is None or at > moment:
                    break
                _, name = heapq.heappop(self._heap)
                self._wake_at.pop(name, None)
                due.append(name)
            if due:
                busy = self._busy_targets()
                for name in due:
                    try:
                        self._fire(name, moment, report, busy)
                    except Exception as exc:  # one schedule's trouble must not stop the rest
                        if isinstance(exc, InterlaceError) or self.store.is_transient(exc):
                            log.warning("schedule %s: %s", name, first_line(exc))
                        else:
                            log.exception("schedule %s failed to fire", name)
                        if self.store.is_transient(exc):
                            self.store.reconnect()
                        self._wake_at[name] = moment + 1.0  # try again in a second
                        heapq.heappush(self._heap, (moment + 1.0, name))
        if report.fired and self.on_fire is not None:
            self.on_fire()
        return report

    def _busy_targets(self) -> set[str]:
        """Models that a queued or running request targets."""
        return {t for r in self.store.run_requests(self.env, ACTIVE, 100_000) for t in r.targets}

    def _fire(self, name: str, now: float, report: TickReport, busy: set[str]) -> None:
        definition = self._defs[name]
        spec = definition.spec
        env = self.env
        record = self.store.schedule_record(env, name)
        if record is None or record.fingerprint != definition.fingerprint:
            record = self.store.sync_schedule(
                env, name, definition.select, definition.fingerprint, now
            )
        self._records[name] = record
        if record.paused:
            self._plan(name, now)
            return
        due = self._due(definition, record, now)
        if due.fire:
            newest = due.fire[-1]
            if now < (newest + jitter_for(spec, name, newest)).timestamp():
                self._plan(name, now)  # its jitter has not passed yet
                return
        upcoming = due.next.timestamp() if due.next is not None else None
        missed_noted = False
        if due.missed and not due.fire:
            crash_point("before_transaction")
            with self.store.transaction():
                if self.store.pass_slots(env, name, due.missed[-1].timestamp(), upcoming):
                    self._event_missed(name, due.missed, now)
                    missed_noted = True
                crash_point("before_commit")
            crash_point("after_commit")
        # the previous run still going skips the slots (overlap: skip); the slots of one
        # catch-up never skip each other, they queue
        blocked = spec.overlap == "skip" and bool(set(definition.targets) & busy)
        for index, slot in enumerate(due.fire):
            crash_point("before_transaction")
            skip = blocked
            request = None if skip else self._request(definition, slot, now)
            with self.store.transaction():
                claimed = self.store.claim_slot(
                    env,
                    name,
                    slot.timestamp(),
                    at=now,
                    outcome="skipped" if skip else "fired",
                    request_id=request.id if request else None,
                    next_slot=upcoming,
                )
                if not claimed:
                    continue  # another server fired it, or it fired before a crash
                if index == 0 and due.missed:
                    self._event_missed(name, due.missed, now)
                    missed_noted = True
                if request is None:
                    self._event(
                        "schedule.skipped",
                        f"schedule:{name}",
                        now,
                        {
                            "schedule": name,
                            "slot": slot.isoformat(),
                            "reason": "the previous run of the same models still runs",
                            "models": list(definition.targets),
                        },
                    )
                else:
                    self.store.enqueue_run(request)
                    self._event_queued(request, now)
                    self._event(
                        "schedule.fired",
                        request.id,
                        now,
                        {
                            "schedule": name,
                            "slot": slot.isoformat(),
                            "lateness": round(now - slot.timestamp(), 3),
                            "models": list(definition.targets),
                        },
                    )
                crash_point("before_commit")
            crash_point("after_commit")
            lateness = max(now - slot.timestamp(), 0.0)
            if request is None:
                report.skipped.append((name, slot))
                self.stats.skipped += 1
                self.stats.count(name, "skipped")
                self._observe("schedule.skipped", {"schedule": name, "slot": slot})
            else:
                busy |= set(definition.targets)
                report.fired.append((name, slot, request.id))
                self.stats.fires += 1
                self.stats.count(name, "fires")
                self.stats.last_lateness = lateness
                self.stats.max_lateness = max(self.stats.max_lateness, lateness)
                self._observe(
                    "schedule.fired",
                    {"schedule": name, "slot": slot, "lateness": lateness, "run_id": request.id},
                )
        if missed_noted:
            report.missed.append((name, list(due.missed)))
            self.stats.missed += len(due.missed)
            self.stats.count(name, "missed", len(due.missed))
            self._observe("schedule.missed", {"schedule": name, "slots": list(due.missed)})
        fresh = self.store.schedule_record(env, name)
        if fresh is not None:
            self._records[name] = fresh
        self._plan(name, now)

    def _request(self, definition: ScheduleDef, slot: dt.datetime | None, now: float) -> RunRequest:
        project = self.project
        return RunRequest(
            id=uuid.uuid4().hex,
            env=project.env,
            project=project.name,
            selection=definition.select,
            exclusions=definition.exclude,
            targets=definition.targets,
            options=definition.run_options(slot),
            requested_by=f"schedule:{definition.name}",
            created_at=now,
        )

    def trigger(self, name: str, *, requested_by: str, now: float | None = None) -> RunRequest:
        """Queue a run of schedule ``name`` now, outside its slots (``interlace schedule
        trigger``); the schedule's slots are unaffected."""
        return trigger_schedule(self.store, self.project, name, requested_by=requested_by, now=now)

    # ------------------------------------------------------------------ events

    def _event(self, kind: str, run_id: str, at: float, data: dict[str, Any]) -> None:
        payload = {"type": kind, "run_id": run_id, "at": at, **data}
        self.store.add_event(self.env, run_id, kind, at, json.dumps(payload, default=str))

    def _event_missed(self, name: str, slots: list[dt.datetime], now: float) -> None:
        self._event(
            "schedule.missed",
            f"schedule:{name}",
            now,
            {"schedule": name, "slots": [s.isoformat() for s in slots[-100:]], "count": len(slots)},
        )

    def _event_queued(self, request: RunRequest, now: float) -> None:
        self._event(
            "run.queued",
            request.id,
            now,
            {
                "selection": list(request.selection),
                "exclude": list(request.exclusions),
                "models": list(request.targets),
                "requested_by": request.requested_by,
                "options": request.options,
            },
        )

    def _observe(self, kind: str, data: dict[str, Any]) -> None:
        for observer in self.observers:
            try:
                observer(kind, data)
            except Exception as exc:  # metrics or alerts must never stop firing
                log.warning("a scheduler observer failed on %s: %s", kind, first_line(exc))

    # ------------------------------------------------------------------ the loop

    async def run(self, stopping: asyncio.Event | None = None) -> None:
        """Fire schedules until ``stopping`` is set (or the task is cancelled): sleep until
        the next wake-up (a slot plus its jitter, a lease renewal, a periodic re-read), fire
        what is due, repeat. Blocking state store calls run on a thread."""
        stopping = stopping or asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._nudge = asyncio.Event()
        try:
            while not stopping.is_set():
                try:
                    await asyncio.to_thread(self.tick)
                except SchedulerBusy:
                    raise
                except Exception as exc:
                    log.warning("the scheduler could not tick: %s", first_line(exc))
                    if self.store.is_transient(exc):
                        self.store.reconnect()
                now = time.time()
                wake = min(
                    self.next_wake() or now + MAX_SLEEP, self._next_renew, self._next_refresh
                )
                delay = min(max(wake - now, 0.0), MAX_SLEEP)
                self._nudge.clear()
                waiters = [
                    asyncio.ensure_future(stopping.wait()),
                    asyncio.ensure_future(self._nudge.wait()),
                ]
                try:
                    await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
        finally:
            self._loop = None
            self._nudge = None


def trigger_schedule(
    store: StateStore,
    project: Project,
    name: str,
    *,
    requested_by: str,
    now: float | None = None,
) -> RunRequest:
    """Queue a run of schedule ``name`` of ``project`` now (a manual trigger: no slot is
    claimed, the schedule's own slots are unaffected). Raises an
    :class:`~interlace.errors.InterlaceError` naming the schedules for an unknown name."""
    definition = find_schedule(project, name)
    moment = time.time() if now is None else now
    request = RunRequest(
        id=uuid.uuid4().hex,
        env=project.env,
        project=project.name,
        selection=definition.select,
        exclusions=definition.exclude,
        targets=definition.targets,
        options={**definition.run_options(None), "manual": True},
        requested_by=requested_by,
        created_at=moment,
    )
    with store.transaction():
        store.enqueue_run(request)
        for kind, data in (
            (
                "run.queued",
                {
                    "selection": list(request.selection),
                    "exclude": list(request.exclusions),
                    "models": list(request.targets),
                    "requested_by": requested_by,
                    "options": request.options,
                },
            ),
            (
                "schedule.fired",
                {"schedule": name, "slot": None, "manual": True, "models": list(request.targets)},
            ),
        ):
            payload = {"type": kind, "run_id": request.id, "at": moment, **data}
            store.add_event(project.env, request.id, kind, moment, json.dumps(payload))
    return request


def find_schedule(project: Project, name: str) -> ScheduleDef:
    """The schedule ``name`` of ``project``, or an error listing the close names."""
    import difflib

    from interlace.errors import SelectionError

    defs = {d.name: d for d in project_schedules(project)}
    if name in defs:
        return defs[name]
    close = difflib.get_close_matches(name, list(defs), n=3)
    raise SelectionError(
        f"no schedule '{name}' in project {project.name}",
        hint=(f"did you mean {', '.join(close)}? " if close else "")
        + (
            "`interlace schedule list` lists them"
            if defs
            else "no model or config declares a "
            "schedule: add schedule={...} to a model or a schedules: section to the config"
        ),
    )


def lease_holders(store: StateStore, env: str) -> list[SchedulerLease]:
    """The processes whose scheduler registration on ``env`` is live."""
    return store.schedulers(env, time.time())
