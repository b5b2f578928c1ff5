"""Consumers: read a stream's committed events in order under a durable, named cursor.

``consume`` takes the consumer's lease in the state store (two processes under one name never
read the same batch at once: the second gets :class:`ConsumerBusy` until the lease is acked or
expires) and returns the events after its cursor; ``ack`` moves the cursor past them. Events not
acked are delivered again after the lease expires: at-least-once. Example::

    batch = consume("orders", "billing", batch_size=100, project=".")
    for event in batch.events:
        ...
    ack(batch, project=".")
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace_stream.declaration import OFFSET_COLUMN, RECEIVED_COLUMN
from interlace_stream.errors import StreamError, UnknownStream

if TYPE_CHECKING:
    from interlace.project import Project
    from interlace.state.base import StateStore

    from interlace_stream.kind import StreamInfo

DEFAULT_LEASE = 30.0


class ConsumerBusy(StreamError):
    """Another process holds this consumer's lease."""

    status = 409
    code = "conflict"


class LeaseLost(StreamError):
    """The ack came after the lease expired (another consumer may have the events now)."""

    status = 409
    code = "conflict"


@dataclass(frozen=True)
class ConsumedBatch:
    """Events after a consumer's cursor: ack ``next_offset`` with ``lease`` to move past them."""

    stream: str
    consumer: str
    lease: str
    events: list[dict[str, Any]] = field(default_factory=list)
    first_offset: int | None = None
    next_offset: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "consumer": self.consumer,
            "lease": self.lease,
            "events": self.events,
            "first_offset": self.first_offset,
            "next_offset": self.next_offset,
        }


def read_after(project: Project, info: StreamInfo, offset: int, limit: int) -> list[dict[str, Any]]:
    """Committed events of ``info`` from ``offset`` on (at most ``limit``), oldest first."""
    from interlace.opening import open_engines

    from interlace_stream.kind import qualified

    engine = open_engines(project, [info.connection])[info.connection]
    try:
        session = engine.session()
        try:
            if session.relation_kind(info.schema, info.name) is None:
                return []
            table = session.fetch_arrow(
                f"SELECT * FROM {qualified(info.schema, info.name)} "
                f'WHERE "{OFFSET_COLUMN}" >= {int(offset)} ORDER BY "{OFFSET_COLUMN}" '
                f"LIMIT {int(limit)}"
            )
        finally:
            session.close()
    finally:
        engine.close()
    rows: list[dict[str, Any]] = table.to_pylist()
    for row in rows:
        received = row.get(RECEIVED_COLUMN)
        if received is not None and hasattr(received, "isoformat"):
            row[RECEIVED_COLUMN] = received.isoformat()
    return rows


def consume_with(
    project: Project,
    store: StateStore,
    info: StreamInfo,
    consumer: str,
    *,
    batch_size: int = 100,
    lease: str | None = None,
    lease_seconds: float = DEFAULT_LEASE,
) -> ConsumedBatch:
    """See the module docstring (``lease``: the token of an earlier batch, to renew it)."""
    owner = lease or uuid.uuid4().hex
    cursors: Any = store
    cursor = cursors.lease_stream_cursor(
        project.env, info.name, consumer, owner=owner, lease=lease_seconds, now=time.time()
    )
    if cursor is None:
        raise ConsumerBusy(
            f"consumer '{consumer}' of stream '{info.name}' is being read by another process "
            "(it holds the lease)",
            hint=f"retry after the other one acks, or after its lease ({lease_seconds:g} s) "
            "expires",
        )
    events = read_after(project, info, cursor.committed, batch_size)
    first = events[0][OFFSET_COLUMN] if events else None
    next_offset = events[-1][OFFSET_COLUMN] + 1 if events else cursor.committed
    return ConsumedBatch(info.name, consumer, owner, events, first, next_offset)


def ack_with(
    project: Project, store: StateStore, stream: str, consumer: str, *, lease: str, offset: int
) -> None:
    """Move ``consumer``'s cursor to ``offset`` (the batch's ``next_offset``)."""
    cursors: Any = store
    if not cursors.ack_stream_cursor(
        project.env, stream, consumer, owner=lease, offset=offset, now=time.time()
    ):
        raise LeaseLost(
            f"consumer '{consumer}' of stream '{stream}': this lease is no longer held (it "
            "expired and another consumer took over, or the offset went backwards)",
            hint="consume again: unacknowledged events are delivered again",
        )


def _open(project: str | Path | Project) -> Project:
    from interlace.project import Project, load_project

    return project if isinstance(project, Project) else load_project(Path(project))


def _info(project: Project, stream: str) -> StreamInfo:
    from interlace_stream.kind import project_streams

    streams = project_streams(project)
    if stream not in streams:
        raise UnknownStream(
            f"no stream named '{stream}' (streams: {', '.join(sorted(streams)) or 'none'})"
        )
    return streams[stream]


def consume(
    stream: str,
    consumer: str,
    batch_size: int = 100,
    *,
    project: str | Path | Project = ".",
    lease: str | None = None,
) -> ConsumedBatch:
    """The next events of ``stream`` for the consumer named ``consumer``: at most
    ``batch_size`` committed events after its cursor, oldest first, each a dict of the
    stream's columns with its offset (``_stream_offset``).

    The call takes the consumer's lease for 30 s: until :func:`ack` (or the lease's end),
    another process consuming under the same name gets :class:`ConsumerBusy`. ``lease`` (a
    batch's :attr:`ConsumedBatch.lease`) renews an earlier batch's lease instead. An unknown
    stream raises :class:`~interlace_stream.errors.UnknownStream`.

    Example::

        from interlace_stream import ack, consume

        batch = consume("orders", "billing", batch_size=500, project="shop")
        for event in batch.events:
            charge(event["customer"], event["amount"])
        ack(batch, project="shop")  # the next consume starts after these
    """
    from interlace.opening import open_state

    loaded = _open(project)
    info = _info(loaded, stream)
    store = open_state(loaded)
    try:
        return consume_with(loaded, store, info, consumer, batch_size=batch_size, lease=lease)
    finally:
        store.close()


def ack(batch: ConsumedBatch, *, project: str | Path | Project = ".") -> None:
    """Acknowledge a batch :func:`consume` returned: the consumer's cursor moves past its
    events and its lease is released. A batch whose lease expired meanwhile raises
    :class:`LeaseLost` (its events are delivered again: consume again)."""
    from interlace.opening import open_state

    loaded = _open(project)
    store = open_state(loaded)
    try:
        ack_with(
            loaded, store, batch.stream, batch.consumer, lease=batch.lease, offset=batch.next_offset
        )
    finally:
        store.close()
