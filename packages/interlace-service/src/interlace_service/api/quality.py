"""``/api/v1/quality``: stored quality check results (of runs and of ``run --quality-only``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from interlace_http.routing import Router
from pydantic import BaseModel, Field

from interlace_service.api.common import blocking
from interlace_service.schemas import Query, when
from interlace_service.service import service_of

if TYPE_CHECKING:
    from aiohttp import web

router = Router("/api/v1", tags=["quality"])


class QualityFilter(Query):
    model: str | None = None
    run_id: str | None = None
    status: Literal["passed", "failed", "error"] | None = None
    severity: Literal["error", "warn"] | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class QualityResult(BaseModel):
    run_id: str
    model: str
    name: str
    check_type: str
    severity: Literal["error", "warn"]
    status: Literal["passed", "failed", "error"]
    failing_rows: int
    sample: list[dict[str, Any]] = Field(description="Some failing rows")
    sql: str | None = None
    message: str | None = None
    created_at: dt.datetime | None


class QualityResults(BaseModel):
    items: list[QualityResult] = Field(description="Newest first")


@router.get("/quality", query=QualityFilter, response=QualityResults)
async def quality_results(request: web.Request, query: QualityFilter) -> QualityResults:
    """Quality check results, newest first."""
    service = service_of(request)
    stored = await blocking(
        request,
        service.store.quality_results,
        service.env,
        query.model,
        query.run_id,
        query.limit if query.status is None and query.severity is None else 10_000,
    )
    items = [
        QualityResult(
            run_id=s.run_id,
            model=s.result.model,
            name=s.result.name,
            check_type=s.result.check_type,
            severity=s.result.severity,
            status=s.result.status,
            failing_rows=s.result.failing_rows,
            sample=list(s.result.sample),
            sql=s.result.sql,
            message=s.result.message,
            created_at=when(s.created_at),
        )
        for s in stored
        if (query.status is None or s.result.status == query.status)
        and (query.severity is None or s.result.severity == query.severity)
    ]
    return QualityResults(items=items[: query.limit])
