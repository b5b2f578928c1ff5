"""``/api/v1/runs``: trigger runs (through the run queue), follow them, cancel them, page
through the history.

A run triggered here is the same run as one from ``interlace run``: the same state records
(``runs``, ``model_runs``) and events, read by the same commands and pages.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

from interlace.state.run_queue import ACTIVE
from interlace_http.errors import HTTPError
from interlace_http.routing import Router
from pydantic import BaseModel, Field

from interlace_service.api.common import blocking, caller
from interlace_service.schemas import Body, IsoDateTime, Query, Run, RunPage, Task, TaskList
from interlace_service.service import Service, service_of
from interlace_service.submission import cancel_run_request, submit_run

if TYPE_CHECKING:
    from aiohttp import web

router = Router("/api/v1", tags=["runs"])


class TriggerRun(Body):
    """What to run, and how. Every field is optional: ``{}`` runs the whole project."""

    select: list[str] = Field(
        default_factory=list,
        description="Selectors: NAME, +NAME (with ancestors), NAME+ (with descendants), tag:X",
        max_length=1000,
    )
    exclude: list[str] = Field(default_factory=list, max_length=1000)
    force: bool = Field(default=False, description="Run models even if nothing changed")
    full_refresh: bool = Field(default=False, description="Rebuild tables from scratch")
    since: str | None = Field(default=None, description="Backfill from (inclusive)", max_length=64)
    until: str | None = Field(default=None, description="Process up to (exclusive)", max_length=64)
    window: str | None = Field(
        default=None, description="Split since..until into runs of this size (1d)", max_length=32
    )
    max_workers: int | None = Field(default=None, ge=1, le=256)
    lock_timeout: float | None = Field(
        default=None, ge=0, le=86_400, description="Seconds a model waits for a locked table"
    )
    reload: bool = Field(
        default=False,
        description="Load the project from disk first when its files changed (as "
        "`interlace run` does when it submits to the server)",
    )
    on_conflict: Literal["queue", "reject"] | None = Field(
        default=None,
        description="When a queued or running run targets the same models: wait for it "
        "(queue) or answer 409 (reject). Default: the server's setting",
    )


@router.post("/runs", body=TriggerRun, response=Run, status=202, scope="execute", errors=(409,))
async def trigger_run(request: web.Request, body: TriggerRun) -> Run:
    """Queue a run; the server starts it as soon as no other run targets its models."""
    service = service_of(request)
    queued = await blocking(
        request,
        submit_run,
        service,
        select=body.select,
        exclude=body.exclude,
        options={
            "force": body.force,
            "full_refresh": body.full_refresh,
            "since": body.since,
            "until": body.until,
            "window": body.window,
            "max_workers": body.max_workers,
            "lock_timeout": body.lock_timeout,
            "reload": body.reload,
        },
        requested_by=caller(request),
        on_conflict=body.on_conflict,
    )
    return Run.of(None, queued)


class RunFilter(Query):
    status: Literal["running", "success", "failed", "cancelled", "killed"] | None = None
    since: IsoDateTime | None = Field(default=None, description="Started at or after")
    until: IsoDateTime | None = Field(default=None, description="Started before")
    model: str | None = Field(default=None, description="Runs that ran this model")
    limit: int = Field(default=20, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=10**9)


def _epoch(value: dt.datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def _history(service: Service, query: RunFilter) -> RunPage:
    store = service.store
    records, total = store.search_runs(
        env=service.env,
        status=query.status,
        since=_epoch(query.since),
        until=_epoch(query.until),
        model=query.model,
        limit=query.limit,
        offset=query.offset,
    )
    items = [Run.of(record, store.get_run_request(record.run_id)) for record in records]
    return RunPage(items=items, total=total, limit=query.limit, offset=query.offset)


@router.get("/runs", query=RunFilter, response=RunPage)
async def run_history(request: web.Request, query: RunFilter) -> RunPage:
    """Runs that started (from any server or the CLI), newest first, filtered and paged."""
    return await blocking(request, _history, service_of(request), query)


class RunList(BaseModel):
    items: list[Run]


@router.get("/runs/queue", response=RunList)
async def run_queue(request: web.Request) -> RunList:
    """Runs waiting for their turn or running on a server, oldest first."""
    service = service_of(request)
    requests = await blocking(request, service.store.run_requests, service.env, ACTIVE, 1000)
    return RunList(items=[Run.of(None, r) for r in requests])


def _run(service: Service, run_id: str) -> Run:
    store = service.store
    request = store.get_run_request(run_id)
    record = store.get_run(run_id)
    if request is None and record is None:
        raise HTTPError(404, f"no run '{run_id}'", hint="GET /api/v1/runs lists the runs")
    return Run.of(record, request)


@router.get("/runs/{run_id}", response=Run, errors=(404,))
async def get_run(request: web.Request, run_id: str) -> Run:
    """One run: its status, what it targets, counts and error."""
    return await blocking(request, _run, service_of(request), run_id)


def _tasks(service: Service, run_id: str) -> TaskList:
    store = service.store
    request = store.get_run_request(run_id)
    if request is None and store.get_run(run_id) is None:
        raise HTTPError(404, f"no run '{run_id}'", hint="GET /api/v1/runs lists the runs")
    run_ids = list(request.run_ids) if request and request.run_ids else [run_id]
    tasks = [Task.of(r) for rid in run_ids for r in reversed(store.model_runs(rid, limit=10_000))]
    return TaskList(items=tasks)


@router.get("/runs/{run_id}/tasks", response=TaskList, errors=(404,))
async def run_tasks(request: web.Request, run_id: str) -> TaskList:
    """Each model's part in the run (every window's, for a window backfill)."""
    return await blocking(request, _tasks, service_of(request), run_id)


@router.post("/runs/{run_id}/cancel", response=Run, status=202, scope="execute", errors=(404, 409))
async def cancel_run(request: web.Request, run_id: str) -> Run:
    """Cancel a run: a queued one at once; a running one is stopped by the server that runs
    it (running statements are interrupted; the models that did not finish are reported
    cancelled)."""
    service = service_of(request)
    cancelled = await blocking(request, cancel_run_request, service, run_id)
    record = await blocking(request, service.store.get_run, run_id)
    return Run.of(record, cancelled)
