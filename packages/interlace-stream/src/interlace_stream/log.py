"""The durable log of one stream: append-only segment files, each record framed and checksummed.

A record is ``length (u32) | crc32 (u32) | body``, the body ``offset (i64) | received_at (f64) |
id length (u16) | id | JSON payload``; the CRC covers the body. Offsets number a stream's events
from 0 without gaps. Segments are ``<first offset>.seg`` files in the stream's folder; the last
one takes appends and a new one starts past ``segment_bytes``.

Durability: :meth:`StreamLog.append` writes a batch with one ``write`` and returns only after
``fsync`` (the first append of a new segment also syncs the folder, so the file's name is
durable too). A crash can leave a torn record at the end of the last segment (a partial write
the disk never acknowledged): :meth:`StreamLog.open` finds it by its length or CRC, truncates
the segment there and never serves it. A process holds a stream's log exclusively (a ``flock``
on ``.lock``); a second one gets :class:`~interlace_stream.errors.LogLocked`.

For tests, ``INTERLACE_STREAM_LOG_FAULT=enospc`` (or ``eio``) makes every append fail as a full
(or broken) disk would, before anything is written.

Example::

    log = StreamLog(Path(".interlace/streams/orders"))
    log.open()
    first = log.append([("id-1", b'{"id": 1}', time.time())])
    records = LogReader(log).read(first, limit=100)
"""

from __future__ import annotations

import errno
import logging
import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from interlace_stream.errors import LogLocked, StreamUnavailable

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger("interlace.stream.log")

HEADER = struct.Struct("<II")
BODY = struct.Struct("<qdH")
SUFFIX = ".seg"
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
FAULT_ENV = "INTERLACE_STREAM_LOG_FAULT"
_FAULTS = {"enospc": errno.ENOSPC, "eio": errno.EIO, "eacces": errno.EACCES}


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One event as the log stored it."""

    offset: int
    received_at: float
    event_id: str
    payload: bytes


@dataclass
class Segment:
    first_offset: int
    path: Path
    size: int  # bytes known durable (the valid prefix)
    next_offset: int  # one past the last record in it


@dataclass(frozen=True)
class Recovery:
    """What :meth:`StreamLog.open` found: records, and the torn bytes it cut off."""

    records: int
    truncated_bytes: int
    next_offset: int


def encode(offset: int, received_at: float, event_id: str, payload: bytes) -> bytes:
    ident = event_id.encode("utf-8")
    body = BODY.pack(offset, received_at, len(ident)) + ident + payload
    return HEADER.pack(len(body), zlib.crc32(body)) + body


def decode_all(data: bytes, start: int = 0) -> tuple[list[LogRecord], int]:
    """The whole records in ``data`` from ``start``, and the position after the last one; stops
    at the first torn or corrupt record."""
    records: list[LogRecord] = []
    pos = start
    end = len(data)
    header_size = HEADER.size
    while pos + header_size <= end:
        length, crc = HEADER.unpack_from(data, pos)
        body_start = pos + header_size
        body_end = body_start + length
        if length < BODY.size or body_end > end:
            break
        body = data[body_start:body_end]
        if zlib.crc32(body) != crc:
            break
        offset, received_at, id_length = BODY.unpack_from(body, 0)
        id_end = BODY.size + id_length
        records.append(
            LogRecord(offset, received_at, body[BODY.size : id_end].decode("utf-8"), body[id_end:])
        )
        pos = body_end
    return records, pos


class StreamLog:
    """The segments of one stream's log (see the module docstring)."""

    def __init__(self, folder: Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        self.folder = folder
        self.segment_bytes = segment_bytes
        self.segments: list[Segment] = []
        self.next_offset = 0
        self._lock = threading.Lock()  # the segment list, between the writer and readers
        self._lock_fd: int | None = None
        self._fd: int | None = None  # the last segment, open for appends
        self.broken: str | None = None  # why appends are refused until a restart
        self.fsyncs = 0
        self.fsync_seconds = 0.0  # time spent in fsync itself (the disk's latency)

    # ------------------------------------------------------------------ opening

    def open(self) -> Recovery:
        """Take the log's lock, read every segment, cut a torn tail; returns what it found."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StreamUnavailable(
                f"cannot open the stream log folder {self.folder}: {exc.strerror}",
                hint="make the folder writable (streaming.log_dir in config.yaml)",
            ) from None
        import fcntl

        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise LogLocked(
                f"another process holds the stream log {self.folder} (a running stream server "
                "or `interlace stream run`)",
                hint="publish through that server (POST /api/v1/streams/NAME), or stop it",
            ) from None
        records = truncated = 0
        paths = sorted(self.folder.glob(f"*{SUFFIX}"))
        for index, path in enumerate(paths):
            data = path.read_bytes()
            found, valid = decode_all(data)
            first = int(path.stem)
            if valid < len(data):
                truncated += len(data) - valid
                where = "its end (a torn write)" if index == len(paths) - 1 else "a corrupt record"
                log.warning(
                    "stream log %s: cut %d bytes at %s, offset %d",
                    path,
                    len(data) - valid,
                    where,
                    first + len(found),
                )
                with open(path, "r+b") as handle:
                    handle.truncate(valid)
                    handle.flush()
                    os.fsync(handle.fileno())
            if found and found[0].offset != first:
                first = found[0].offset
            next_offset = found[-1].offset + 1 if found else first
            self.segments.append(Segment(first, path, valid, next_offset))
            records += len(found)
            if index < len(paths) - 1 and valid < len(data):
                # nothing after a corrupt record can be trusted to follow it without a gap
                for later in paths[index + 1 :]:
                    later.rename(later.with_suffix(".corrupt"))
                break
        self.next_offset = self.segments[-1].next_offset if self.segments else 0
        return Recovery(records, truncated, self.next_offset)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    # ------------------------------------------------------------------ appending

    def append(self, items: Sequence[tuple[str, bytes, float]]) -> int:
        """Write ``(event id, payload, received_at)`` records and fsync; returns the first
        offset. Raises :class:`StreamUnavailable` when the disk refuses (nothing was stored:
        a partial write is cut off again)."""
        if self.broken is not None:
            raise StreamUnavailable(self.broken)
        first = self.next_offset
        chunks = [
            encode(first + i, received_at, event_id, payload)
            for i, (event_id, payload, received_at) in enumerate(items)
        ]
        data = b"".join(chunks)
        segment = self._segment_for(len(data))
        start = segment.size
        try:
            fault = os.environ.get(FAULT_ENV)
            if fault:
                raise OSError(_FAULTS.get(fault, errno.EIO), os.strerror(_FAULTS.get(fault, 5)))
            assert self._fd is not None
            written = 0
            view = memoryview(data)
            while written < len(data):
                written += os.pwrite(self._fd, view[written:], start + written)
            synced = time.perf_counter()
            os.fsync(self._fd)
            self.fsync_seconds += time.perf_counter() - synced
            self.fsyncs += 1
        except OSError as exc:
            self._undo(start)
            raise StreamUnavailable(
                f"the stream log {self.folder} cannot be written: {exc.strerror or exc} "
                "(nothing of this request was stored)",
                hint="free disk space or fix the folder's permissions; retry the request",
            ) from None
        with self._lock:
            segment.size = start + len(data)
            segment.next_offset = first + len(items)
            self.next_offset = first + len(items)
        return first

    def _undo(self, size: int) -> None:
        try:
            if self._fd is not None:
                os.ftruncate(self._fd, size)
        except OSError as exc:  # the segment may now end in garbage: stop until a restart
            self.broken = (
                f"the stream log {self.folder} could not be repaired after a failed write "
                f"({exc.strerror}); restart the server once the disk is fixed"
            )

    def _segment_for(self, incoming: int) -> Segment:
        current = self.segments[-1] if self.segments else None
        if current is not None and (
            current.size == 0 or current.size + incoming <= self.segment_bytes
        ):
            if self._fd is None:
                self._fd = self._open_segment(current.path)
            return current
        return self._new_segment()

    def _open_segment(self, path: Path) -> int:
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StreamUnavailable(
                f"cannot open the stream log segment {path}: {exc.strerror}",
                hint="make the folder writable (streaming.log_dir in config.yaml)",
            ) from None

    def _new_segment(self) -> Segment:
        path = self.folder / f"{self.next_offset:020d}{SUFFIX}"
        fd = self._open_segment(path)
        try:
            dir_fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # the new file's name survives a crash
            finally:
                os.close(dir_fd)
        except OSError as exc:
            os.close(fd)
            raise StreamUnavailable(
                f"cannot sync the stream log folder {self.folder}: {exc.strerror}"
            ) from None
        if self._fd is not None:
            os.close(self._fd)
        self._fd = fd
        segment = Segment(self.next_offset, path, 0, self.next_offset)
        with self._lock:
            self.segments.append(segment)
        return segment

    # ------------------------------------------------------------------ reading and trimming

    def snapshot(self) -> list[Segment]:
        """The segments as they are now (sizes are durable prefixes)."""
        with self._lock:
            return [Segment(s.first_offset, s.path, s.size, s.next_offset) for s in self.segments]

    @property
    def first_offset(self) -> int:
        with self._lock:
            return self.segments[0].first_offset if self.segments else self.next_offset

    def size_bytes(self) -> int:
        with self._lock:
            return sum(s.size for s in self.segments)

    def drop_before(self, offset: int) -> list[Segment]:
        """Delete the sealed segments whose records all lie before ``offset``; returns them."""
        with self._lock:
            gone = [s for s in self.segments[:-1] if s.next_offset <= offset]
            self.segments = [s for s in self.segments if s not in gone]
        for segment in gone:
            try:
                segment.path.unlink()
            except FileNotFoundError:
                pass
        return gone


class LogReader:
    """Reads records of a log by offset; remembers where it stopped, so reading on is cheap.
    Reads a segment in chunks of at most ``chunk`` bytes (memory stays bounded)."""

    def __init__(self, stream_log: StreamLog, *, chunk: int = 8 * 1024 * 1024) -> None:
        self.log = stream_log
        self.chunk = chunk
        self._at: tuple[int, int, int] | None = None  # (segment first offset, position, offset)

    def read(
        self, start: int, limit: int = 10_000, max_bytes: int = 32 * 1024 * 1024
    ) -> list[LogRecord]:
        """Up to ``limit`` durable records from offset ``start`` (fewer at the end; records
        the log no longer holds are skipped: reading starts at its first offset)."""
        out: list[LogRecord] = []
        size = 0
        for segment in self.log.snapshot():
            if segment.next_offset <= start or segment.size == 0:
                continue
            position = 0
            if (
                self._at is not None
                and self._at[0] == segment.first_offset
                and self._at[2] <= start
            ):
                position = self._at[1]
            with open(segment.path, "rb") as handle:
                while position < segment.size:
                    handle.seek(position)
                    want = min(self.chunk, segment.size - position)
                    data = handle.read(want)
                    records, used = decode_all(data)
                    if not records:
                        if want >= segment.size - position:
                            break  # never: a durable prefix holds whole records
                        handle.seek(position)  # a record larger than a chunk: read it whole
                        data = handle.read(segment.size - position)
                        records, used = decode_all(data)
                        if not records:
                            break
                    consumed = position
                    for record in records:
                        consumed += (
                            HEADER.size
                            + BODY.size
                            + len(record.event_id.encode())
                            + len(record.payload)
                        )
                        if record.offset < start:
                            continue
                        out.append(record)
                        size += len(record.payload)
                        self._at = (segment.first_offset, consumed, record.offset + 1)
                        if len(out) >= limit or size >= max_bytes:
                            return out
                    position += used
            start = max(start, segment.next_offset)
        return out
