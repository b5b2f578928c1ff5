"""``/api/v1/dead-letters``: model runs that failed after all their retries; list, inspect,
retry (a forced run of the model, through the run queue) or resolve them."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Literal

from interlace.dead_letters import (
    RESOLVED,
    DeadLetterError,
    find_dead_letter,
    resolve_dead_letters,
    retry_target,
)
from interlace_http.errors import HTTPError
from interlace_http.routing import Router
from pydantic import BaseModel, Field

from interlace_service.api.common import blocking, caller
from interlace_service.schemas import Body, Query, Run, when
from interlace_service.service import Service, service_of
from interlace_service.submission import submit_run

if TYPE_CHECKING:
    from aiohttp import web
    from interlace.state.base import DeadLetter

router = Router("/api/v1", tags=["dead letters"])
LETTER = {"path_types": {"letter_id": int}, "errors": (404,)}


class DeadLetterOut(BaseModel):
    id: int
    model: str
    run_id: str
    status: Literal["open", "resolved", "retried"]
    attempts: int
    error: str
    error_type: str | None = None
    location: str | None = None
    traceback: str | None = None
    created_at: dt.datetime | None
    resolved_at: dt.datetime | None = None
    resolution: str | None = None

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterOut:
        return cls(
            id=letter.id,
            model=letter.model,
            run_id=letter.run_id,
            status=letter.status,
            attempts=letter.attempts,
            error=letter.error,
            error_type=letter.error_type,
            location=letter.location,
            traceback=letter.traceback,
            created_at=when(letter.created_at),
            resolved_at=when(letter.resolved_at),
            resolution=letter.resolution,
        )


class LetterFilter(Query):
    status: Literal["open", "resolved", "retried", "all"] = "open"
    limit: int = Field(default=100, ge=1, le=1000)


class DeadLetterList(BaseModel):
    items: list[DeadLetterOut] = Field(description="Newest first")


@router.get("/dead-letters", query=LetterFilter, response=DeadLetterList)
async def list_dead_letters(request: web.Request, query: LetterFilter) -> DeadLetterList:
    """Dead letters of the environment."""
    service = service_of(request)
    status = None if query.status == "all" else query.status
    letters = await blocking(request, service.store.dead_letters, service.env, status, query.limit)
    return DeadLetterList(items=[DeadLetterOut.of(letter) for letter in letters])


def _letter(service: Service, letter_id: int) -> DeadLetter:
    try:
        return find_dead_letter(service.store, letter_id, service.env)
    except DeadLetterError as exc:
        raise HTTPError(404, exc.message, hint=exc.hint) from None


@router.get("/dead-letters/{letter_id}", response=DeadLetterOut, **LETTER)
async def get_dead_letter(request: web.Request, letter_id: int) -> DeadLetterOut:
    """One dead letter, with its error and traceback."""
    return DeadLetterOut.of(await blocking(request, _letter, service_of(request), letter_id))


def _retry(service: Service, letter_id: int, requested_by: str) -> Run:
    letter = _letter(service, letter_id)
    if letter.status != "open":
        raise HTTPError(409, f"dead letter {letter_id} is {letter.status} already")
    try:
        model = retry_target(service.project, letter)
    except DeadLetterError as exc:
        raise HTTPError(409, exc.message, hint=exc.hint) from None
    queued = submit_run(
        service,
        select=[model],
        options={"force": True, "dead_letter": letter_id},
        requested_by=requested_by,
    )
    return Run.of(None, queued)


@router.post(
    "/dead-letters/{letter_id}/retry",
    response=Run,
    status=202,
    scope="execute",
    path_types={"letter_id": int},
    errors=(404, 409),
)
async def retry_dead_letter(request: web.Request, letter_id: int) -> Run:
    """Run the letter's model again (forced); when that run succeeds the letter is marked
    retried."""
    return await blocking(request, _retry, service_of(request), letter_id, caller(request))


class Resolve(Body):
    note: str = Field(default=RESOLVED, max_length=2000, description="Why it needs no retry")


def _resolve(service: Service, letter_id: int, note: str) -> DeadLetterOut:
    _letter(service, letter_id)
    resolve_dead_letters(service.store, [letter_id], service.env, time.time(), note)
    return DeadLetterOut.of(_letter(service, letter_id))


@router.post(
    "/dead-letters/{letter_id}/resolve",
    body=Resolve,
    response=DeadLetterOut,
    scope="write",
    **LETTER,
)
async def resolve_dead_letter(request: web.Request, letter_id: int, body: Resolve) -> DeadLetterOut:
    """Mark the letter resolved without running anything."""
    return await blocking(request, _resolve, service_of(request), letter_id, body.note)
