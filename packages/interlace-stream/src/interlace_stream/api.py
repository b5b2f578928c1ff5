"""The stream routes under ``/api/v1/streams``: publish, list, detail, subscribe (SSE), consume,
ack and the quarantine. Mounted by the standalone server and by ``interlace serve`` (through
the ``service_routers()`` hook); handlers find the process's :class:`StreamRuntime` as
``request.app[RUNTIME]``.

Publishing needs, per stream: nothing when the stream is ``auth: {public: true}``; its token
(``Authorization: Bearer <token>`` or ``X-Stream-Token``) or an API key with the ``write`` scope
when it declares ``auth: {token: ...}``; otherwise an API key with ``write`` (when the server has
authentication on). A stream's ``rate_limit`` applies to all its publishers together.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from typing import TYPE_CHECKING, Any

from interlace_http.errors import HTTPError
from interlace_http.ratelimit import TokenBucket
from interlace_http.routing import Router
from pydantic import BaseModel, Field

from interlace_stream.errors import StreamError

if TYPE_CHECKING:
    from aiohttp import web

    from interlace_stream.kind import StreamInfo
    from interlace_stream.runtime import StreamRuntime

IDEMPOTENCY_HEADER = "Idempotency-Key"
TOKEN_HEADER = "X-Stream-Token"
PUBLISH_ERRORS = (400, 401, 403, 404, 413, 422, 429, 503)


class Published(BaseModel):
    """What a publish stored (on disk, fsync'd, before this answer)."""

    stream: str
    accepted: int = Field(description="New events stored")
    duplicates: int = Field(description="Events already stored (same id / Idempotency-Key)")
    first_offset: int | None = None
    last_offset: int | None = None


class StreamSummary(BaseModel):
    name: str
    mode: str
    fields: dict[str, str]
    table: str
    published: int
    rate: float = Field(description="Events per second over the last 10 s (this process)")
    durable_offset: int
    committed_offset: int
    lag: int = Field(description="Durable events not yet in the table")
    quarantined: int
    log_bytes: int
    fsyncs: int
    fsync_ms: float = Field(description="Mean fsync time of the log, in milliseconds")
    error: str | None = None
    consumers: list[dict[str, Any]] = Field(default_factory=list)
    adapters: list[dict[str, Any]] = Field(default_factory=list)


class StreamList(BaseModel):
    streams: list[StreamSummary]


class ConsumeQuery(BaseModel):
    consumer: str = Field(min_length=1)
    batch_size: int = Field(default=100, ge=1, le=10_000)
    lease: str | None = Field(default=None, description="The lease of the previous batch")
    lease_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="How long the batch is reserved for this caller"
    )


class Batch(BaseModel):
    stream: str
    consumer: str
    lease: str
    events: list[dict[str, Any]]
    first_offset: int | None
    next_offset: int


class AckBody(BaseModel):
    consumer: str = Field(min_length=1)
    lease: str
    offset: int = Field(ge=0, description="The batch's next_offset")


class Acked(BaseModel):
    stream: str
    consumer: str
    committed: int


class QuarantineQuery(BaseModel):
    limit: int = Field(default=100, ge=1, le=10_000)


class QuarantinedEvent(BaseModel):
    offset: int
    event_id: str | None
    received_at: str | None
    payload: str
    error: str
    replayed_at: str | None


class QuarantineList(BaseModel):
    stream: str
    events: list[QuarantinedEvent]


class Replayed(BaseModel):
    stream: str
    replayed: int
    accepted: int


class SubscribeQuery(BaseModel):
    from_offset: int | None = Field(default=None, alias="from", ge=0)


def runtime_of(request: web.Request) -> StreamRuntime:
    from interlace_stream.runtime import RUNTIME

    runtime = request.app.get(RUNTIME)
    if runtime is not None and runtime.reloading:
        raise HTTPError(
            503,
            "stream ingestion is reloading the project's stream configuration",
            headers={"Retry-After": "1"},
            hint="retry in a second (nothing of this request was stored)",
        )
    if runtime is None or not runtime.started:
        raise HTTPError(
            503,
            "stream ingestion is not running in this server",
            hint="start it with `interlace-stream serve` or `interlace serve` on a project "
            "that declares streams",
        )
    return runtime


def as_http(exc: StreamError) -> HTTPError:
    return HTTPError(exc.status, exc.message, code=exc.code, details=exc.details, hint=exc.hint)


def _stream(runtime: StreamRuntime, name: str) -> StreamInfo:
    info = runtime.streams.get(name)
    if info is None:
        known = ", ".join(sorted(runtime.streams)) or "none"
        raise HTTPError(404, f"no stream named '{name}' (streams: {known})")
    return info


class _Limits:
    """Per-stream token buckets (a stream's ``rate_limit``, burst = 2 s of it)."""

    def __init__(self) -> None:
        self.buckets: dict[str, TokenBucket] = {}

    def wait(self, info: StreamInfo, now: float) -> float:
        rate = info.settings.rate_per_second()
        if rate is None:
            return 0.0
        bucket = self.buckets.get(info.name)
        if bucket is None:
            bucket = TokenBucket.full(rate, max(1, math.ceil(rate * 2)), now)
            self.buckets[info.name] = bucket
        return bucket.take(now)


def _limits(runtime: StreamRuntime) -> _Limits:
    found = runtime.extras.get("limits")
    if not isinstance(found, _Limits):
        found = _Limits()
        runtime.extras["limits"] = found
    return found


async def _authorize(request: web.Request, info: StreamInfo) -> None:
    from interlace_http.auth import presented_key
    from interlace_http.security import SECURITY

    auth = info.settings.auth
    if auth is not None and auth.public:
        return
    if auth is not None and auth.token:
        sent = request.headers.get(TOKEN_HEADER) or presented_key(request) or ""
        if sent and hmac.compare_digest(sent.encode(), auth.token.encode()):
            return
    security = request.app.get(SECURITY)
    if security is None or not security.settings.auth.enabled:
        if auth is not None and auth.token:
            raise _unauthorized(info)
        return
    if presented_key(request) is None:
        raise _unauthorized(info)
    outcome = await security.authenticator.authenticate(request)
    from interlace_http.auth import Denial

    if isinstance(outcome, Denial):
        raise HTTPError(outcome.status, outcome.message, code=outcome.code, details=outcome.details)
    if not outcome.allows("write"):
        raise HTTPError(
            403,
            f"publishing to stream '{info.name}' needs the 'write' scope; the API key "
            f"'{outcome.name}' has: {', '.join(outcome.granted) or 'none'}",
        )


def _unauthorized(info: StreamInfo) -> HTTPError:
    how = (
        f"the stream's token ('Authorization: Bearer <token>' or '{TOKEN_HEADER}') or an API key"
        if info.settings.auth is not None and info.settings.auth.token
        else "an API key with the 'write' scope ('Authorization: Bearer <key>')"
    )
    return HTTPError(
        401,
        f"publishing to stream '{info.name}' needs {how}",
        headers={"WWW-Authenticate": 'Bearer realm="interlace"'},
    )


def _ids(key: str, count: int) -> list[str]:
    """Per-event ids of a request's ``Idempotency-Key``: the key itself for one event."""
    return [key] if count == 1 else [f"{key}:{i}" for i in range(count)]


def stream_router() -> Router:
    """The routes of the module docstring."""
    router = Router("/api/v1", tags=["streams"])

    @router.post(
        "/streams/{name}",
        public=True,  # each stream decides: its token, an API key, or public (see above)
        response=Published,
        errors=PUBLISH_ERRORS,
    )
    async def publish_events(request: web.Request, name: str) -> Published:
        """Publish events: a JSON object, an array of objects, or NDJSON lines.

        The answer (200) comes after the events are fsync'd to the stream's log. Send an
        `Idempotency-Key` header to make a retry safe: the events of a request with a key
        already stored are not stored again (the answer counts them as duplicates).
        Unknown stream 404, bad JSON 400 (naming the line), schema violation 422 (naming the
        field and event index), too large 413, bad token 401, rate limit 429, log not
        writable 503.
        """
        from interlace_stream.body import events_of, is_ndjson, ndjson_lines

        runtime = runtime_of(request)
        info = _stream(runtime, name)
        await _authorize(request, info)
        wait = _limits(runtime).wait(info, time.monotonic())
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise HTTPError(
                429,
                f"stream '{name}' takes at most {info.settings.rate_limit} publishes; retry in "
                f"{retry} s",
                headers={"Retry-After": str(retry)},
                details={"retry_after": retry},
            )
        limit = runtime.settings.max_body
        if request.content_length is not None and request.content_length > limit:
            raise HTTPError(413, f"the body is larger than {limit} bytes: send smaller batches")
        body = await request.read()
        if len(body) > limit:
            raise HTTPError(413, f"the body is larger than {limit} bytes: send smaller batches")
        content_type = request.headers.get("Content-Type", "")
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        try:
            if is_ndjson(content_type):
                count = len(ndjson_lines(body)) if key else 0
                result = await runtime.publisher.publish_ndjson(
                    name, body, ids=_ids(key, count) if key else None
                )
            else:
                events, raw = events_of(body, content_type)
                ids = _ids(key, len(events)) if key else None
                result = await runtime.publisher.publish(name, events, ids=ids, payloads=raw)
        except StreamError as exc:
            raise as_http(exc) from None
        if result.accepted and runtime.committer is not None:
            runtime.committer.kick()
        return Published(**result.to_dict())

    @router.get("/streams", response=StreamList, errors=(503,))
    async def list_streams(request: web.Request) -> StreamList:
        """Every stream: rate, lag, quarantine, consumers and adapters."""
        runtime = runtime_of(request)
        summaries = await asyncio.to_thread(describe_streams, runtime)
        return StreamList(streams=summaries)

    @router.get("/streams/{name}", response=StreamSummary, errors=(404, 503))
    async def get_stream(request: web.Request, name: str) -> StreamSummary:
        """One stream's state."""
        runtime = runtime_of(request)
        _stream(runtime, name)
        return (await asyncio.to_thread(describe_streams, runtime, name))[0]

    @router.get(
        "/streams/{name}/events",
        query=SubscribeQuery,
        content_type="text/event-stream",
        errors=(404, 503),
    )
    async def subscribe(
        request: web.Request, name: str, query: SubscribeQuery
    ) -> web.StreamResponse:
        """Server-sent events: each durable event of the stream as it arrives (event
        `stream.event`, id = its offset). Resume with `Last-Event-ID`; `?from=OFFSET` starts
        at an offset the log still holds."""
        from interlace_http.sse import EventStream, last_event_id

        from interlace_stream.log import LogReader

        runtime = runtime_of(request)
        _stream(runtime, name)
        try:
            writer = await runtime.publisher.writer(name)
        except StreamError as exc:
            raise as_http(exc) from None
        if request.headers.get("Last-Event-ID"):
            start = last_event_id(request) + 1
        elif query.from_offset is not None:
            start = query.from_offset
        else:
            start = writer.durable_offset
        stream = await EventStream.open(request)
        reader = LogReader(writer.log)
        quiet = 0
        # ends when the server stops, or when a reload replaced the stream's log writer (the
        # client reconnects with Last-Event-ID)
        while not runtime.closing.is_set() and runtime.publisher.writers.get(name) is writer:
            records = await asyncio.to_thread(reader.read, start, 1000)
            for record in records:
                await stream.send(
                    record.payload.decode("utf-8", errors="replace"),
                    event="stream.event",
                    id=record.offset,
                )
                start = record.offset + 1
            if records or await writer.wait_durable(start, 1.0):
                quiet = 0
                continue
            quiet += 1
            if quiet % 15 == 0:  # about every 15 s of silence: proxies keep the line open
                await stream.comment("keep-alive")
        return stream.response

    @router.post(
        "/streams/{name}/consume", query=ConsumeQuery, response=Batch, errors=(404, 409, 503)
    )
    async def consume_events(request: web.Request, name: str, query: ConsumeQuery) -> Batch:
        """The next committed events for a named consumer, with a lease (ack to move on)."""
        from interlace_stream.consumers import consume_with

        runtime = runtime_of(request)
        info = _stream(runtime, name)
        try:
            batch = await asyncio.to_thread(
                consume_with,
                runtime.project,
                runtime.store,
                info,
                query.consumer,
                batch_size=query.batch_size,
                lease=query.lease,
                lease_seconds=query.lease_seconds,
            )
        except StreamError as exc:
            raise as_http(exc) from None
        return Batch(**batch.to_dict())

    @router.post("/streams/{name}/ack", body=AckBody, response=Acked, errors=(404, 409, 503))
    async def ack_events(request: web.Request, name: str, body: AckBody) -> Acked:
        """Acknowledge a consumed batch (its `next_offset` and `lease`)."""
        from interlace_stream.consumers import ack_with

        runtime = runtime_of(request)
        _stream(runtime, name)
        try:
            await asyncio.to_thread(
                ack_with,
                runtime.project,
                runtime.store,
                name,
                body.consumer,
                lease=body.lease,
                offset=body.offset,
            )
        except StreamError as exc:
            raise as_http(exc) from None
        return Acked(stream=name, consumer=body.consumer, committed=body.offset)

    @router.get(
        "/streams/{name}/quarantine",
        query=QuarantineQuery,
        response=QuarantineList,
        errors=(404, 503),
    )
    async def list_quarantine(
        request: web.Request, name: str, query: QuarantineQuery
    ) -> QuarantineList:
        """Events set aside because they did not fit the stream's fields."""
        from interlace_stream.quarantine import quarantined

        runtime = runtime_of(request)
        info = _stream(runtime, name)
        rows = await asyncio.to_thread(quarantined, runtime.project, info, query.limit)
        return QuarantineList(stream=name, events=[QuarantinedEvent(**r) for r in rows])

    @router.post("/streams/{name}/quarantine/replay", response=Replayed, errors=(404, 422, 503))
    async def replay_quarantine(request: web.Request, name: str) -> Replayed:
        """Publish the quarantined events again (after fixing the stream's fields)."""
        from interlace_stream.quarantine import replay

        runtime = runtime_of(request)
        info = _stream(runtime, name)
        try:
            replayed, accepted = await replay(runtime, info)
        except StreamError as exc:
            raise as_http(exc) from None
        return Replayed(stream=name, replayed=replayed, accepted=accepted)

    return router


def describe_streams(runtime: StreamRuntime, only: str | None = None) -> list[StreamSummary]:
    """The state of the runtime's streams (blocking: reads the state store)."""
    out = []
    cursors: Any = runtime.store
    adapters = [a.health() for a in runtime.adapters]
    for name, info in sorted(runtime.streams.items()):
        if only is not None and name != only:
            continue
        writer = runtime.publisher.writers.get(name)
        stats = runtime.committer.stats.get(name) if runtime.committer else None
        durable = writer.durable_offset if writer else 0
        committed = stats.committed_offset if stats else 0
        consumers = [
            {
                "consumer": c.consumer,
                "committed": c.committed,
                "lag": max(0, committed - c.committed),
                "leased": c.lease_owner is not None and (c.lease_expires or 0) > time.time(),
            }
            for c in cursors.stream_cursors(runtime.project.env, name)
        ]
        fsyncs = writer.log.fsyncs if writer else 0
        out.append(
            StreamSummary(
                name=name,
                mode=info.mode,
                fields={k: f.declared for k, f in info.fields.fields.items()},
                table=info.table,
                published=writer.stats.published if writer else 0,
                rate=round(writer.stats.rate(), 2) if writer else 0.0,
                durable_offset=durable,
                committed_offset=committed,
                lag=max(0, durable - committed),
                quarantined=stats.quarantined if stats else 0,
                log_bytes=writer.log.size_bytes() if writer else 0,
                fsyncs=fsyncs,
                fsync_ms=round(writer.log.fsync_seconds / fsyncs * 1000, 3)
                if writer and fsyncs
                else 0.0,
                error=runtime.publisher.errors.get(name) or (stats.last_error if stats else None),
                consumers=consumers,
                adapters=[
                    h.to_dict() for h in adapters if getattr(h, "stream", None) in (None, name)
                ],
            )
        )
    return out
