"""``GET /api/v1/events``: server-sent events of runs, tasks and checks.

Each event is sent with its state-store id (``id:``), its public type (``event:``, see
:mod:`interlace_service.events_feed`) and its fields as JSON (``data:``). Filters: ``types``
(exact types or ``run.*``-style patterns) and ``run_id`` (a run request, with every run it
started: the windows of a backfill, the runs again after a take-over; its last event is
``run.ended``). A client that reconnects with ``Last-Event-ID`` (browsers do it by themselves) gets
what it missed from the state store first, even across server restarts, for as long as events
are kept (``state.event_retention``). A client that names a ``run_id`` without a
``Last-Event-ID`` gets that run's events from its start.
"""

from __future__ import annotations

import asyncio
import fnmatch
from typing import TYPE_CHECKING

from interlace_http.routing import Router
from interlace_http.sse import EventStream, last_event_id
from pydantic import Field

from interlace_service.events_feed import public_event, public_type
from interlace_service.schemas import Query
from interlace_service.service import Service, service_of

if TYPE_CHECKING:
    from aiohttp import web
    from interlace.state.base import StoredEvent

router = Router("/api/v1", tags=["events"])
KEEP_ALIVE = 15.0  # seconds between comments on an idle stream
PAGE = 500


class EventFilter(Query):
    types: list[str] = Field(
        default_factory=list,
        description="Event types or patterns (run.*, task.failed, check.*); default: all",
    )
    run_id: str | None = Field(default=None, description="Only this run's events")
    after: int | None = Field(
        default=None, ge=0, le=2**62, description="Replay events after this id (as Last-Event-ID)"
    )


class _Match:
    def __init__(self, query: EventFilter) -> None:
        self.patterns = [p.strip() for p in query.types if p.strip()]
        self.run_id = query.run_id

    def run(self, run_id: str) -> bool:
        return self.run_id is None or run_id == self.run_id or run_id.startswith(f"{self.run_id}-")

    def __call__(self, event: StoredEvent) -> bool:
        if not self.run(event.run_id):
            return False
        kind = public_type(event)
        return not self.patterns or any(fnmatch.fnmatchcase(kind, p) for p in self.patterns)


def _replay(service: Service, match: _Match, after: int) -> list[StoredEvent]:
    """Stored events after ``after`` that the filter keeps, oldest first."""
    store = service.store
    run_ids: list[str | None] = [None]
    if match.run_id is not None:
        request = store.get_run_request(match.run_id)
        run_ids = list(dict.fromkeys([match.run_id, *(request.run_ids if request else ())]))
    found: dict[int, StoredEvent] = {}
    for run_id in run_ids:
        cursor = after
        while True:
            page = store.events(cursor, run_id, PAGE)
            found.update((e.id, e) for e in page if e.env == service.env and match(e))
            if len(page) < PAGE:
                break
            cursor = page[-1].id
    return [found[i] for i in sorted(found)]


@router.get("/events", query=EventFilter, content_type="text/event-stream")
async def events(request: web.Request, query: EventFilter) -> web.StreamResponse:
    """A stream of run, task and check events (server-sent events)."""
    service = service_of(request)
    match = _Match(query)
    subscriber = service.feed.subscribe()  # before the replay: nothing falls in between
    try:
        after = last_event_id(request, str(query.after) if query.after is not None else None)
        replay = after > 0 or query.run_id is not None
        stream = await EventStream.open(request)
        sent = 0
        if replay:
            for event in await service.io(_replay, service, match, after):
                await stream.send(public_event(event), event=public_type(event), id=event.id)
                sent = event.id
        feed = service.feed
        while True:
            try:
                item = await asyncio.wait_for(subscriber.queue.get(), KEEP_ALIVE)
            except TimeoutError:
                await stream.comment("keep-alive")
                continue
            if item is None:  # the server stops, or this client fell behind: it reconnects
                break
            if (replay and item.id <= sent) or not match(item):
                continue
            await stream.send_encoded(feed.encoded(item))  # encoded once for every client
        return stream.response
    finally:
        service.feed.unsubscribe(subscriber)
