"""Publishing: validate events, de-duplicate by id, and append them to the stream's durable log
with **group commit** (every publish waiting at one moment shares one ``write`` + ``fsync``).

``await publisher.publish(stream, events, ids=...)`` returns only once the events are on disk;
the HTTP endpoint, adapters and :func:`interlace_stream.publish` all go through it. Example::

    publisher = Publisher(streams, log_dir=Path(".interlace/streams"))
    result = await publisher.publish("orders", [{"id": 1, "amount": 9.5}], ids=["order-1"])
    result.accepted, result.duplicates          # 1, 0  (a retry: 0, 1)
    await publisher.close()
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace_stream.dedup import DEFAULT_MAX_IDS, DEFAULT_WINDOW, Deduplicator
from interlace_stream.errors import SchemaViolation, StreamUnavailable, UnknownStream
from interlace_stream.log import DEFAULT_SEGMENT_BYTES, LogReader, StreamLog

if TYPE_CHECKING:
    from interlace_stream.kind import StreamInfo

log = logging.getLogger("interlace.stream")


@dataclass(frozen=True)
class PublishResult:
    """What a publish stored: ``accepted`` new events at ``first_offset..last_offset``
    (``None`` when all were duplicates), and ``duplicates`` already stored ones."""

    stream: str
    accepted: int
    duplicates: int = 0
    first_offset: int | None = None
    last_offset: int | None = None
    offsets: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "first_offset": self.first_offset,
            "last_offset": self.last_offset,
        }


@dataclass
class _Batch:
    items: list[tuple[str, bytes, float]]
    future: asyncio.Future[int]


@dataclass
class StreamStats:
    """Counters of one stream in this process (for ``stream list`` and metrics)."""

    published: int = 0
    duplicates: int = 0
    rejected: int = 0
    appends: int = 0  # group commits (one write + one fsync each)
    append_seconds: float = 0.0  # from handing a group to the log thread to its fsync's end
    started: float = field(default_factory=time.monotonic)
    # events per whole second (monotonic), the last minute only
    recent: dict[int, int] = field(default_factory=dict)

    def note(self, events: int) -> None:
        second = int(time.monotonic())
        self.recent[second] = self.recent.get(second, 0) + events
        if len(self.recent) > 61:
            for old in [s for s in self.recent if s < second - 60]:
                del self.recent[old]

    def rate(self, seconds: int = 10) -> float:
        """Events per second over the last ``seconds`` whole seconds."""
        now = int(time.monotonic())
        total = sum(n for s, n in self.recent.items() if now - seconds <= s < now)
        return total / min(seconds, max(time.monotonic() - self.started, 1e-3))


class StreamWriter:
    """One stream's log, its de-duplication and its group-commit writer task."""

    def __init__(
        self,
        info: StreamInfo,
        folder: Path,
        *,
        dedup_window: float,
        dedup_max_ids: int,
        segment_bytes: int,
        max_pending_bytes: int,
    ) -> None:
        self.info = info
        self.log = StreamLog(folder, segment_bytes=segment_bytes)
        self.dedup = Deduplicator(folder, window=dedup_window, max_ids=dedup_max_ids)
        self.stats = StreamStats()
        self.max_pending_bytes = max_pending_bytes
        self._pending: list[_Batch] = []
        self._pending_bytes = 0
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._durable = asyncio.Event()  # set and replaced after each fsync (readers wait)
        self._in_flight: dict[str, asyncio.Future[int]] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # appends run on a thread of their own: never queued behind commits or runs
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"stream-log-{info.name}")

    async def open(self) -> None:
        try:
            recovery = await asyncio.to_thread(self._open_sync)
        except OSError as exc:  # a segment that cannot be read or repaired
            self.log.close()
            raise StreamUnavailable(
                f"stream '{self.info.name}': cannot open its log {self.log.folder}: "
                f"{exc.strerror or exc}",
                hint="check the folder's permissions and free space (streaming.log_dir)",
            ) from None
        except BaseException:
            self.log.close()
            raise
        if recovery is not None and recovery.truncated_bytes:
            log.warning(
                "stream '%s': cut %d torn bytes off its log at start",
                self.info.name,
                recovery.truncated_bytes,
            )
        self._task = asyncio.create_task(self._run(), name=f"stream-writer-{self.info.name}")

    def _open_sync(self) -> Any:
        recovery = self.log.open()
        self.dedup.load()
        horizon = time.time() - self.dedup.window
        reader = LogReader(self.log)
        start = self.log.first_offset
        while True:
            records = reader.read(start, limit=50_000)
            if not records:
                break
            self.dedup.add_many(
                (r.event_id, r.offset, r.received_at)
                for r in records
                if r.event_id and r.received_at >= horizon
            )
            start = records[-1].offset + 1
        return recovery

    @property
    def durable_offset(self) -> int:
        """One past the last offset on disk."""
        return self.log.next_offset

    async def wait_durable(self, beyond: int, timeout: float) -> bool:
        """Wait until an offset at or past ``beyond`` is durable (or ``timeout``)."""
        if self.log.next_offset > beyond:
            return True
        event = self._durable
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return self.log.next_offset > beyond

    async def append(self, ids: Sequence[str], payloads: Sequence[bytes]) -> PublishResult:
        """Store the events whose ids are new; see :class:`Publisher`."""
        now = time.time()
        keep: list[tuple[str, bytes, float]] = []
        offsets: list[int | None] = []
        waits: list[asyncio.Future[int]] = []
        seen: set[str] = set()
        duplicates = 0
        for event_id, payload in zip(ids, payloads, strict=True):
            if event_id:
                stored = self.dedup.get(event_id)
                in_flight = self._in_flight.get(event_id)
                if stored is not None or event_id in seen:
                    duplicates += 1
                    continue
                if in_flight is not None:
                    waits.append(in_flight)
                    duplicates += 1
                    continue
                seen.add(event_id)
            keep.append((event_id, payload, now))
            offsets.append(None)
        if waits:  # the same id is being stored right now: its outcome is this one's
            outcomes = await asyncio.gather(*waits, return_exceptions=True)
            failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
            if failed is not None:
                if isinstance(failed, StreamUnavailable):
                    raise failed
                raise StreamUnavailable(f"storing the events failed: {failed}")
        if not keep:
            self.stats.duplicates += duplicates
            return PublishResult(self.info.name, 0, duplicates)
        size = sum(len(p) for _, p, _ in keep)
        while self._pending_bytes > self.max_pending_bytes and not self._closing:
            self._drained.clear()
            await self._drained.wait()  # back-pressure: memory stays bounded
        if self._closing:
            raise StreamUnavailable(f"stream '{self.info.name}' is shutting down; retry")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        for event_id, _, _ in keep:
            if event_id:
                self._in_flight[event_id] = future
        self._pending.append(_Batch(keep, future))
        self._pending_bytes += size
        self._wakeup.set()
        try:
            first = await future
        finally:
            for event_id, _, _ in keep:
                if event_id and self._in_flight.get(event_id) is future:
                    del self._in_flight[event_id]
        for index, (event_id, _, at) in enumerate(keep):
            self.dedup.add(event_id, first + index, at)
        self.stats.published += len(keep)
        self.stats.duplicates += duplicates
        self.stats.note(len(keep))
        return PublishResult(
            self.info.name,
            len(keep),
            duplicates,
            first,
            first + len(keep) - 1,
            tuple(range(first, first + len(keep))),
        )

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batches, self._pending = self._pending, []
            if not batches:
                if self._closing:
                    return
                continue
            items = [item for batch in batches for item in batch.items]
            size = sum(len(p) for _, p, _ in items)
            started = time.perf_counter()
            try:
                first = await asyncio.get_running_loop().run_in_executor(
                    self._thread, self.log.append, items
                )
            except StreamUnavailable as exc:
                for batch in batches:
                    if not batch.future.done():
                        batch.future.set_exception(exc)
            except Exception as exc:  # never leave a publisher waiting
                log.exception("stream '%s': the log writer failed", self.info.name)
                error = StreamUnavailable(f"the stream log failed: {type(exc).__name__}: {exc}")
                for batch in batches:
                    if not batch.future.done():
                        batch.future.set_exception(error)
            else:
                self.stats.appends += 1
                self.stats.append_seconds += time.perf_counter() - started
                position = first
                for batch in batches:
                    if not batch.future.done():
                        batch.future.set_result(position)
                    position += len(batch.items)
                durable, self._durable = self._durable, asyncio.Event()
                durable.set()
            self._pending_bytes -= size
            self._drained.set()
            if self._closing and not self._pending:
                return

    async def close(self) -> None:
        self._closing = True
        self._wakeup.set()
        self._drained.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 30)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        await asyncio.to_thread(self._close_sync)
        self._thread.shutdown(wait=False)

    def _close_sync(self) -> None:
        try:
            self.dedup.save()
        except OSError as exc:
            log.warning("stream '%s': could not save its id snapshot: %s", self.info.name, exc)
        self.log.close()


class Publisher:
    """Publishes to the streams of a project (see the module docstring). Create it inside a
    running event loop; :meth:`start` opens every stream's log, :meth:`close` flushes and
    releases them."""

    def __init__(
        self,
        streams: Mapping[str, StreamInfo],
        log_dir: Path,
        *,
        dedup_window: float = DEFAULT_WINDOW,
        dedup_max_ids: int = DEFAULT_MAX_IDS,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        max_pending_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.streams = dict(streams)
        self.log_dir = log_dir
        self.writers: dict[str, StreamWriter] = {}
        self._options = {
            "dedup_window": dedup_window,
            "dedup_max_ids": dedup_max_ids,
            "segment_bytes": segment_bytes,
            "max_pending_bytes": max_pending_bytes,
        }
        self._opening: dict[str, asyncio.Task[StreamWriter]] = {}
        self.errors: dict[str, str] = {}  # stream -> why its log cannot be opened

    async def start(self) -> None:
        """Open every stream's log now (recovering torn tails); a log that cannot be opened
        is remembered in ``errors`` and its publishes answer 503."""
        for name in self.streams:
            try:
                await self.writer(name)
            except StreamUnavailable as exc:
                self.errors[name] = exc.message
                log.error("stream '%s': %s", name, exc.message)

    async def writer(self, stream: str) -> StreamWriter:
        found = self.writers.get(stream)
        if found is not None:
            return found
        info = self.streams.get(stream)
        if info is None:
            known = ", ".join(sorted(self.streams)) or "none"
            raise UnknownStream(
                f"no stream named '{stream}' (streams: {known})",
                hint="declare it with @stream in a model file or under streams: in config.yaml",
            )
        task = self._opening.get(stream)
        if task is None:
            task = asyncio.ensure_future(self._open(info))
            self._opening[stream] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._opening.pop(stream, None)

    async def _open(self, info: StreamInfo) -> StreamWriter:
        writer = StreamWriter(info, self.log_dir / info.name, **self._options)  # type: ignore[arg-type]
        await writer.open()
        self.writers[info.name] = writer
        self.errors.pop(info.name, None)
        return writer

    def info(self, stream: str) -> StreamInfo:
        info = self.streams.get(stream)
        if info is None:
            known = ", ".join(sorted(self.streams)) or "none"
            raise UnknownStream(f"no stream named '{stream}' (streams: {known})")
        return info

    def check(self, stream: str, events: Sequence[Any]) -> None:
        """Raise :class:`SchemaViolation` for the first event that does not fit a ``validate``
        (or ``evolve``: declared fields only) stream; ``quarantine`` streams take anything."""
        info = self.info(stream)
        if info.mode == "quarantine":
            for index, event in enumerate(events):
                if not isinstance(event, dict):
                    raise SchemaViolation(
                        f"event {index}: an event is a JSON object",
                        details={"index": index},
                    )
            return
        unknown_allowed = info.mode == "evolve"
        fields = info.fields
        for index, event in enumerate(events):
            problem = fields.check_event(event, unknown_allowed=unknown_allowed)
            if problem is not None:
                field_name = problem.split("'")[1] if problem.startswith("field '") else None
                raise SchemaViolation(
                    f"stream '{stream}', event {index}: {problem}",
                    details={"index": index, "field": field_name, "stream": stream},
                )

    async def publish(
        self,
        stream: str,
        events: Sequence[dict[str, Any]],
        *,
        ids: Sequence[str] | None = None,
        payloads: Sequence[bytes] | None = None,
    ) -> PublishResult:
        """Validate, de-duplicate (by ``ids``, one per event) and store ``events``; returns
        after the fsync. ``payloads`` are the events' JSON bytes when the caller has them (the
        HTTP endpoint), else they are encoded here."""
        self.check(stream, events)
        if ids is not None and len(ids) != len(events):
            raise SchemaViolation(
                f"{len(ids)} ids for {len(events)} events: give one id per event",
                details={"stream": stream},
            )
        writer = await self.writer(stream)
        if payloads is None:
            payloads = [
                json.dumps(e, separators=(",", ":"), ensure_ascii=False, default=str).encode()
                for e in events
            ]
        return await writer.append(list(ids) if ids is not None else [""] * len(events), payloads)

    async def publish_ndjson(
        self, stream: str, body: bytes, *, ids: Sequence[str] | None = None
    ) -> PublishResult:
        """Publish an NDJSON body. A ``validate`` stream checks the whole batch in one pass
        (Arrow's JSON reader with the declared types); only a batch that fails it is parsed
        event by event, for the error naming the line or the event and field."""
        from interlace_stream.body import events_of, ndjson_lines

        info = self.info(stream)
        lines = ndjson_lines(body)
        if ids is not None and len(ids) != len(lines):
            raise SchemaViolation(f"{len(ids)} ids for {len(lines)} events: give one per event")
        if info.mode == "validate" and _arrow_accepts(info, lines):
            writer = await self.writer(stream)
            return await writer.append(list(ids) if ids is not None else [""] * len(lines), lines)
        events, raw = events_of(body, "application/x-ndjson")
        return await self.publish(stream, events, ids=ids, payloads=raw)

    async def close(self) -> None:
        for writer in list(self.writers.values()):
            await writer.close()
        self.writers.clear()


def _arrow_accepts(info: StreamInfo, lines: Sequence[bytes]) -> bool:
    """Whether every line is a JSON object of the declared fields with their types (Arrow's
    reader is at least as strict as :meth:`StreamFields.check_event`); False when unsure."""
    fields = info.fields.fields
    if not fields or any(f.arrow == "json" for f in fields.values()):
        return False
    import io

    import pyarrow as pa
    import pyarrow.json as pj

    options = pj.ParseOptions(
        explicit_schema=info.fields.arrow_schema(), unexpected_field_behavior="error"
    )
    data = b"\n".join(lines)
    read = pj.ReadOptions(use_threads=False, block_size=max(1 << 20, len(data) + 1))
    try:
        table = pj.read_json(io.BytesIO(data), read_options=read, parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return False
    return bool(table.num_rows == len(lines))
