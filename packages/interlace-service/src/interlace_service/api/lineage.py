"""``/api/v1/lineage`` and ``/api/v1/plan``: column lineage and what a run would do (SPEC §13)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from interlace_http.routing import Router
from pydantic import BaseModel, Field

from interlace_service.api.common import blocking, model_or_404
from interlace_service.schemas import Query
from interlace_service.service import service_of

if TYPE_CHECKING:
    from aiohttp import web

router = Router("/api/v1", tags=["lineage"])


class LineageQuery(Query):
    column: str | None = Field(default=None, description="One column (else every column)")
    direction: Literal["upstream", "downstream", "both"] = "both"


class LineageOut(BaseModel):
    """Where each column of the model comes from and what reads it."""

    model: str
    status: str = Field(description="known, partial or unknown")
    reason: str | None = None
    origin: str = Field(description="sql, ibis (recorded at run time), declared or none")
    columns: list[dict[str, Any]]
    edges: list[list[str]] = Field(description="[from, to] column edges, as model.column")


@router.get("/lineage/{model}", query=LineageQuery, response=LineageOut, errors=(404, 422))
async def model_lineage(request: web.Request, model: str, query: LineageQuery) -> LineageOut:
    """The column lineage of a model (a column that does not exist is a 422 listing them)."""
    from interlace.project_lineage import lineage_data, project_lineage, require_column

    service = service_of(request)
    spec = model_or_404(service.project, model)

    def compute() -> dict[str, Any]:
        found = project_lineage(service.project, service.store)
        own = found[spec.name]
        columns = (
            [require_column(own, query.column).name]
            if query.column
            else [c.name for c in own.columns]
        )
        direction = None if query.direction == "both" else query.direction
        return lineage_data(found, spec.name, columns, direction)

    return LineageOut(**await blocking(request, compute))


class PlanQuery(Query):
    select: list[str] = Field(default_factory=list, description="Selectors, as for runs")
    exclude: list[str] = Field(default_factory=list)
    state_env: str | None = Field(default=None, description="For state: selectors")
    force: bool = False
    full_refresh: bool = False


class PlanOut(BaseModel):
    """Per model: run, may_run or skip and why; schema changes; breaking changes."""

    env: str
    selection: list[str]
    summary: dict[str, int]
    models: list[dict[str, Any]]
    notes: list[str]


@router.get("/plan", query=PlanQuery, response=PlanOut, errors=(422,))
async def plan(request: web.Request, query: PlanQuery) -> PlanOut:
    """What a run of the selection would do now, like ``interlace plan --format json``."""
    from interlace.plan import plan_project

    service = service_of(request)
    result = await blocking(
        request,
        plan_project,
        service.project,
        query.select,
        query.exclude,
        force=query.force,
        full_refresh=query.full_refresh,
        state_env=query.state_env,
    )
    return PlanOut(**result.to_dict())
