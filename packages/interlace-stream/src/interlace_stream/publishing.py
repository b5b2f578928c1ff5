"""``publish`` / ``publish_sync``: store events in a stream from Python.

Inside a process that runs ingestion (the stream server, ``interlace serve``, ``interlace stream
run``) they use its publisher; elsewhere they open the stream's log themselves for the call
(a running server holds the log: then publish over HTTP instead). Either way they return once
the events are on disk; the committer of a running server (or the next one to start) moves
them into the table. Example::

    from interlace_stream import publish_sync

    publish_sync("orders", {"id": 1, "amount": 9.5}, project=".", idempotency_key="order-1")
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interlace.project import Project

    from interlace_stream.publisher import PublishResult


def _events(data: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(data, Mapping):
        return [dict(data)]
    return [dict(item) for item in data]


def _ids(count: int, ids: Sequence[str] | None, key: str | None) -> list[str] | None:
    if ids is not None:
        return list(ids)
    if key:
        return [key] if count == 1 else [f"{key}:{i}" for i in range(count)]
    return None


async def publish(
    stream: str,
    data: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    project: str | Path | Project = ".",
    ids: Sequence[str] | None = None,
    idempotency_key: str | None = None,
) -> PublishResult:
    """Store one event (a mapping) or several in ``stream``; returns after the fsync. ``ids``
    (one per event) or ``idempotency_key`` make a retry store nothing twice.

    Events are validated against the stream's fields first (its ``validate_schema`` mode
    decides what a mismatch does); an unknown stream raises
    :class:`~interlace_stream.errors.UnknownStream`.

    Example::

        from interlace_stream import publish

        async def forward(messages):
            result = await publish("clicks", messages, project="shop")
            print(result.accepted, result.duplicates, result.last_offset)
    """
    from interlace.project import Project, load_project

    from interlace_stream.kind import project_streams
    from interlace_stream.publisher import Publisher
    from interlace_stream.runtime import ACTIVE, streaming_settings

    root = (project.root if isinstance(project, Project) else Path(project)).resolve()
    events = _events(data)
    event_ids = _ids(len(events), ids, idempotency_key)
    runtime = ACTIVE.get(root)
    if runtime is not None and runtime.started and runtime.loop is not None:
        work = runtime.publisher.publish(stream, events, ids=event_ids)
        if asyncio.get_running_loop() is runtime.loop:
            return await work
        # the runtime runs on another thread's loop: its log writer lives there
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, runtime.loop))
    loaded = (
        project if isinstance(project, Project) else await asyncio.to_thread(load_project, root)
    )
    settings = streaming_settings(loaded)
    publisher = Publisher(
        project_streams(loaded),
        settings.log_path(loaded.root),
        dedup_window=settings.dedup_window,
        dedup_max_ids=settings.dedup_max_ids,
        segment_bytes=settings.segment_bytes,
    )
    try:
        return await publisher.publish(stream, events, ids=event_ids)
    finally:
        await publisher.close()


def publish_sync(
    stream: str,
    data: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    project: str | Path | Project = ".",
    ids: Sequence[str] | None = None,
    idempotency_key: str | None = None,
) -> PublishResult:
    """Blocking :func:`publish` for scripts without an event loop.

    Example::

        from interlace_stream import publish_sync

        result = publish_sync(
            "orders", {"id": 1, "amount": 9.5}, project="shop", idempotency_key="order-1"
        )
        assert result.accepted + result.duplicates == 1
    """
    return asyncio.run(
        publish(stream, data, project=project, ids=ids, idempotency_key=idempotency_key)
    )
