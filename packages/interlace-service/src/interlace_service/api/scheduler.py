"""``/api/v1/scheduler``: the schedules of the project with their state, the servers that run
a scheduler, and pause / resume / trigger.

Reads need ``read``; pause and resume change the schedule (``write``); trigger queues a run
(``execute``), like ``POST /api/v1/runs``. Changes are written to the state store, so every
server sharing it (and ``interlace schedule list``) sees them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from interlace_http.errors import HTTPError
from interlace_http.routing import Router
from pydantic import BaseModel, Field

from interlace_service.api.common import blocking, caller
from interlace_service.scheduler.definitions import project_schedules
from interlace_service.scheduler.firing import trigger_schedule
from interlace_service.scheduler.status import schedule_view, schedule_views, set_paused
from interlace_service.schemas import Run
from interlace_service.service import Service, service_of

if TYPE_CHECKING:
    from aiohttp import web

router = Router("/api/v1", tags=["scheduler"])


class Schedule(BaseModel):
    """One schedule: its rules, what it runs, its state and slots (times in UTC, ISO 8601)."""

    name: str
    rule: str = Field(description="cron EXPR (ZONE) or every DURATION")
    cron: str | None
    every: str | None
    timezone: str
    select: list[str]
    exclude: list[str]
    models: list[str] = Field(description="The models the selection resolves to")
    model: str | None = Field(description="The model, for a model's own schedule")
    source: str = Field(description="Where it is declared")
    state: str = Field(description="active, paused or disabled")
    catch_up: str
    overlap: str
    force: bool
    full_refresh: bool
    last_slot: str | None
    last_fired_at: str | None
    last_run_id: str | None
    next_slot: str | None


class Slot(BaseModel):
    slot: str
    outcome: str = Field(description="fired, or skipped (the previous run still ran)")
    fired_at: str
    run_id: str | None


class ScheduleDetail(Schedule):
    slots: list[Slot] = Field(description="The most recent slots, newest first")


class Worker(BaseModel):
    owner: str
    host: str
    pid: int
    since: str
    expires_at: str


class SchedulerCounts(BaseModel):
    fires: int
    skipped: int
    missed: int
    last_lateness: float | None = Field(description="Seconds between the last slot and its fire")
    max_lateness: float


class SchedulerStatus(BaseModel):
    """The scheduler as seen from this server."""

    running_here: bool = Field(description="This server fires schedules (no --no-scheduler)")
    workers: list[Worker] = Field(description="Servers running a scheduler on this state store")
    counts: SchedulerCounts | None = Field(description="This server's fires since it started")
    items: list[Schedule]


def _iso(moment: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat()


def _known(service: Service, name: str) -> None:
    names = [d.name for d in project_schedules(service.project)]
    if name not in names:
        import difflib

        close = difflib.get_close_matches(name, names, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "GET /api/v1/scheduler lists them"
        raise HTTPError(404, f"no schedule '{name}' in project {service.project.name}", hint=hint)


def _status(service: Service) -> SchedulerStatus:
    store = service.store
    views = schedule_views(store, service.project)
    leases = store.schedulers(service.env, time.time())
    here = service.scheduler
    counts: dict[str, Any] | None = None
    if here is not None:
        stats = here.scheduler.stats
        counts = {
            "fires": stats.fires,
            "skipped": stats.skipped,
            "missed": stats.missed,
            "last_lateness": stats.last_lateness,
            "max_lateness": stats.max_lateness,
        }
    return SchedulerStatus(
        running_here=here is not None,
        workers=[
            Worker(
                owner=w.owner,
                host=w.host,
                pid=w.pid,
                since=_iso(w.acquired_at),
                expires_at=_iso(w.expires_at),
            )
            for w in leases
        ],
        counts=SchedulerCounts(**counts) if counts is not None else None,
        items=[Schedule(**v.as_dict()) for v in views],
    )


@router.get("/scheduler", response=SchedulerStatus)
async def scheduler_status(request: web.Request) -> SchedulerStatus:
    """Every schedule with its state, last fire and next slot, and the servers scheduling."""
    return await blocking(request, _status, service_of(request))


def _detail(service: Service, name: str) -> ScheduleDetail:
    _known(service, name)
    view = schedule_view(service.store, service.project, name)
    slots = [
        Slot(slot=_iso(f.slot), outcome=f.outcome, fired_at=_iso(f.fired_at), run_id=f.request_id)
        for f in service.store.schedule_fires(service.env, name, limit=50)
    ]
    return ScheduleDetail(**view.as_dict(), slots=slots)


@router.get("/scheduler/{name}", response=ScheduleDetail, errors=(404,))
async def schedule_detail(request: web.Request, name: str) -> ScheduleDetail:
    """One schedule and its most recent slots."""
    return await blocking(request, _detail, service_of(request), name)


def _pause(service: Service, name: str, paused: bool) -> Schedule:
    _known(service, name)
    view = set_paused(service.store, service.project, name, paused=paused)
    if service.scheduler is not None:
        service.scheduler.scheduler.wake()
    return Schedule(**view.as_dict())


@router.post("/scheduler/{name}/pause", response=Schedule, scope="write", errors=(404,))
async def pause_schedule(request: web.Request, name: str) -> Schedule:
    """Stop firing a schedule (every server sharing the state store) until it is resumed."""
    return await blocking(request, _pause, service_of(request), name, True)


@router.post("/scheduler/{name}/resume", response=Schedule, scope="write", errors=(404,))
async def resume_schedule(request: web.Request, name: str) -> Schedule:
    """Fire a paused schedule again; the slots that passed while it was paused are not run."""
    return await blocking(request, _pause, service_of(request), name, False)


def _trigger(service: Service, name: str, who: str) -> Run:
    _known(service, name)
    queued = trigger_schedule(service.store, service.project, name, requested_by=who)
    service.worker.wake()
    return Run.of(None, queued)


@router.post("/scheduler/{name}/trigger", response=Run, status=202, scope="execute", errors=(404,))
async def trigger(request: web.Request, name: str) -> Run:
    """Queue a run of the schedule now (its slots are unaffected)."""
    return await blocking(request, _trigger, service_of(request), name, caller(request))
