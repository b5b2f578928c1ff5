"""The committer: moves durable log records into each stream's warehouse table, exactly once.

Each cycle reads the records past the stream's committed offset, turns them into Arrow (events
that do not fit go to ``<stream>__quarantine``), and in **one warehouse transaction** inserts
the rows, the quarantined events and the new committed offset (the table
``<schema>._interlace_stream_offsets``). A crash before the commit leaves the offset where it
was, so the next start commits the same records again; a crash after it finds the offset moved
on: nothing is lost and nothing is stored twice. Then it publishes
:class:`~interlace.events.StreamBatchCommitted`, lets the trigger queue runs of the readers,
drops log segments the table now holds, and applies retention.

The database is opened for a cycle that has work and closed after it, so other processes (a
CLI run) can open a DuckDB file between commits.

Why one module over 500 lines: building a batch, writing it with its offset and the cycle that
calls both are one exactly-once protocol, kept where it can be read in one go.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from interlace.events import StreamBatchCommitted

from interlace_stream.declaration import ID_COLUMN, OFFSET_COLUMN, RECEIVED_COLUMN
from interlace_stream.kind import OFFSETS_TABLE, qualified
from interlace_stream.kind import quote as _quote
from interlace_stream.log import LogReader

if TYPE_CHECKING:
    import pyarrow as pa
    from interlace.engines.base import Engine, Session
    from interlace.project import Project

    from interlace_stream.kind import StreamInfo
    from interlace_stream.log import LogRecord
    from interlace_stream.publisher import Publisher, StreamWriter

log = logging.getLogger("interlace.stream.committer")

_ARROW_TO_SQL = {
    "int64": "BIGINT",
    "int32": "INTEGER",
    "double": "DOUBLE",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "string": "VARCHAR",
    "large_string": "VARCHAR",
    "timestamp[us]": "TIMESTAMP",
    "timestamp[s]": "TIMESTAMP",
    "date32[day]": "DATE",
}
RETENTION_EVERY = 10.0  # seconds between retention passes of one stream


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class CommitStats:
    committed_offset: int = 0
    rows: int = 0
    quarantined: int = 0
    commits: int = 0
    last_commit_at: float | None = None
    last_error: str | None = None
    table_ready: bool = False
    columns: dict[str, str] = field(default_factory=dict)  # the table's columns (evolve)
    retention_at: float = 0.0


@dataclass(frozen=True)
class Batch:
    """What one cycle commits: Arrow rows, quarantined events, the offset range."""

    rows: pa.Table | None
    quarantine: list[tuple[int, str, float, str, str]]  # offset, id, at, payload, error
    first_offset: int
    next_offset: int
    added_columns: dict[str, str]


def _sql_of(arrow_type: Any) -> str:
    return _ARROW_TO_SQL.get(str(arrow_type), "VARCHAR")


def build_batch(info: StreamInfo, records: list[LogRecord], columns: dict[str, str]) -> Batch:
    """Pure: the Arrow rows and quarantined events of ``records`` (see the module docstring)."""
    import pyarrow as pa
    import pyarrow.json as pj

    mode = info.mode
    schema = info.fields.arrow_schema()
    if mode == "evolve" and columns:  # columns added by earlier batches are read as such
        known = {f.name for f in schema}
        for name, sql in columns.items():
            if name not in known and name not in (OFFSET_COLUMN, ID_COLUMN, RECEIVED_COLUMN):
                schema = schema.append(pa.field(name, _arrow_of(sql)))
    good: list[LogRecord] = []
    quarantine: list[tuple[int, str, float, str, str]] = []
    if mode == "quarantine":
        for record in records:
            try:
                event = json.loads(record.payload)
            except ValueError as exc:
                problem: str | None = f"not JSON: {exc}"
            else:
                problem = info.fields.check_event(event)
            if problem is None:
                good.append(record)
            else:
                quarantine.append(_quarantined(record, problem))
    else:
        good = list(records)
    behaviour = "infer" if mode == "evolve" else "ignore"
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior=behaviour)
    table = None
    if good:
        try:
            table = pj.read_json(
                io.BytesIO(b"\n".join(r.payload for r in good)), parse_options=options
            )
            kept = good
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # one event does not read as declared (the declaration changed since it was
            # published): read them one by one, set the bad ones aside
            parts, kept = [], []
            for record in good:
                try:
                    part = pj.read_json(io.BytesIO(record.payload), parse_options=options)
                except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                    quarantine.append(_quarantined(record, str(exc).splitlines()[0]))
                    continue
                parts.append(part)
                kept.append(record)
            table = pa.concat_tables(parts, promote_options="permissive") if parts else None
        if table is not None:
            table = _with_system_columns(table, kept)
    added: dict[str, str] = {}
    if table is not None and mode == "evolve":
        for column in table.schema:
            if column.name not in columns and column.name not in info.fields.fields:
                if column.name in (OFFSET_COLUMN, ID_COLUMN, RECEIVED_COLUMN):
                    continue
                if pa.types.is_struct(column.type) or pa.types.is_list(column.type):
                    table = table.set_column(
                        table.schema.get_field_index(column.name),
                        column.name,
                        pa.array(
                            [
                                None if v is None else json.dumps(v)
                                for v in table[column.name].to_pylist()
                            ],
                            pa.string(),
                        ),
                    )
                    added[column.name] = "VARCHAR"
                else:
                    added[column.name] = _sql_of(column.type)
    first = records[0].offset
    return Batch(table, quarantine, first, records[-1].offset + 1, added)


def _arrow_of(sql: str) -> Any:
    import pyarrow as pa

    return {
        "BIGINT": pa.int64(),
        "INTEGER": pa.int64(),
        "DOUBLE": pa.float64(),
        "BOOLEAN": pa.bool_(),
        "TIMESTAMP": pa.timestamp("us"),
        "DATE": pa.date32(),
    }.get(sql.upper(), pa.string())


def _quarantined(record: LogRecord, problem: str) -> tuple[int, str, float, str, str]:
    return (
        record.offset,
        record.event_id,
        record.received_at,
        record.payload.decode("utf-8", errors="replace"),
        problem,
    )


def _with_system_columns(table: pa.Table, records: list[LogRecord]) -> pa.Table:
    import pyarrow as pa

    offsets = pa.array([r.offset for r in records], pa.int64())
    ids = pa.array([r.event_id or None for r in records], pa.string())
    received = pa.array([int(r.received_at * 1_000_000) for r in records], pa.int64()).cast(
        pa.timestamp("us")
    )
    return (
        table.append_column(OFFSET_COLUMN, offsets)
        .append_column(ID_COLUMN, ids)
        .append_column(RECEIVED_COLUMN, received)
    )


# --------------------------------------------------------------------------- warehouse side


def ensure_tables(session: Session, info: StreamInfo) -> dict[str, str]:
    """Create the stream's table, its quarantine table and the offsets table when missing;
    returns the table's columns (name -> type)."""
    schema = info.schema
    session.execute(f"CREATE SCHEMA IF NOT EXISTS {'.'.join(_quote(p) for p in schema.split('.'))}")
    columns = ", ".join(f"{_quote(n)} {t}" for n, t in info.fields.table_columns())
    session.execute(f"CREATE TABLE IF NOT EXISTS {qualified(schema, info.name)} ({columns})")
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {qualified(schema, info.name + '__quarantine')} ("
        f"{_quote(OFFSET_COLUMN)} BIGINT, {_quote(ID_COLUMN)} VARCHAR, "
        f"{_quote(RECEIVED_COLUMN)} TIMESTAMP, payload VARCHAR, error VARCHAR, "
        "replayed_at TIMESTAMP)"
    )
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {qualified(schema, OFFSETS_TABLE)} ("
        "stream VARCHAR PRIMARY KEY, committed BIGINT NOT NULL, committed_at TIMESTAMP)"
    )
    existing = {c.name: c.type for c in session.describe(schema, info.name)}
    target = qualified(schema, info.name)
    for name, field_type in info.fields.fields.items():  # the declaration changed since
        have = existing.get(name)
        if have is None:
            session.execute(f"ALTER TABLE {target} ADD COLUMN {_quote(name)} {field_type.sql}")
        elif have.upper() != field_type.sql.upper():
            session.execute(
                f"ALTER TABLE {target} ALTER COLUMN {_quote(name)} TYPE {field_type.sql}"
            )
    return {c.name: c.type for c in session.describe(schema, info.name)}


def committed_offset(session: Session, info: StreamInfo) -> int:
    row = session.fetch_one(
        f"SELECT committed FROM {qualified(info.schema, OFFSETS_TABLE)} "
        f"WHERE stream = {_literal(info.name)}"
    )
    return 0 if row is None else int(row[0])


def write_batch(session: Session, info: StreamInfo, batch: Batch) -> None:
    """Rows, quarantined events and the new offset, in one transaction."""
    target = qualified(info.schema, info.name)
    with session.transaction():
        for column, sql_type in batch.added_columns.items():
            session.execute(
                f"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {_quote(column)} {sql_type}"
            )
        if batch.rows is not None and batch.rows.num_rows:
            view = f"_interlace_stream_batch_{info.name}"
            session.register(view, batch.rows)
            try:
                names = ", ".join(_quote(n) for n in batch.rows.column_names)
                session.execute(
                    f"INSERT INTO {target} ({names}) SELECT {names} FROM {_quote(view)}"
                )
            finally:
                session.unregister(view)
        if batch.quarantine:
            import pyarrow as pa

            rows = pa.table(
                {
                    OFFSET_COLUMN: pa.array([q[0] for q in batch.quarantine], pa.int64()),
                    ID_COLUMN: pa.array([q[1] or None for q in batch.quarantine], pa.string()),
                    RECEIVED_COLUMN: pa.array(
                        [int(q[2] * 1_000_000) for q in batch.quarantine], pa.int64()
                    ).cast(pa.timestamp("us")),
                    "payload": pa.array([q[3] for q in batch.quarantine], pa.string()),
                    "error": pa.array([q[4] for q in batch.quarantine], pa.string()),
                }
            )
            view = f"_interlace_stream_quarantine_{info.name}"
            session.register(view, rows)
            try:
                session.execute(
                    f"INSERT INTO {qualified(info.schema, info.name + '__quarantine')} "
                    f"({_quote(OFFSET_COLUMN)}, {_quote(ID_COLUMN)}, {_quote(RECEIVED_COLUMN)}, "
                    f"payload, error) SELECT * FROM {_quote(view)}"
                )
            finally:
                session.unregister(view)
        session.execute(
            f"INSERT OR REPLACE INTO {qualified(info.schema, OFFSETS_TABLE)} VALUES "
            f"({_literal(info.name)}, {batch.next_offset}, now()::TIMESTAMP)"
        )


def apply_retention(session: Session, info: StreamInfo) -> int:
    """Delete rows past ``retention`` (``max_age``, ``max_rows``); returns how many."""
    retention = info.settings.retention
    if retention is None:
        return 0
    target = qualified(info.schema, info.name)
    deleted = 0
    age = retention.max_age_seconds()
    before = session.fetch_one(f"SELECT count(*) FROM {target}")
    if age is not None:
        session.execute(
            f"DELETE FROM {target} WHERE {_quote(RECEIVED_COLUMN)} < "
            f"now()::TIMESTAMP - INTERVAL {int(age)} SECOND"
        )
    if retention.max_rows is not None:
        session.execute(
            f"DELETE FROM {target} WHERE {_quote(OFFSET_COLUMN)} <= "
            f"(SELECT max({_quote(OFFSET_COLUMN)}) FROM {target}) - {retention.max_rows}"
        )
    after = session.fetch_one(f"SELECT count(*) FROM {target}")
    if before is not None and after is not None:
        deleted = int(before[0]) - int(after[0])
    return deleted


class Committer:
    """Commits every stream of a publisher, on one task (see the module docstring)."""

    def __init__(
        self,
        project: Project,
        publisher: Publisher,
        *,
        interval: float = 0.2,
        batch_rows: int = 50_000,
        on_commit: Callable[[StreamBatchCommitted], None] | None = None,
    ) -> None:
        self.project = project
        self.publisher = publisher
        self.interval = interval
        self.batch_rows = batch_rows
        self.on_commit = on_commit
        self.stats: dict[str, CommitStats] = {name: CommitStats() for name in publisher.streams}
        self._readers: dict[str, LogReader] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._kick = asyncio.Event()

    async def start(self) -> None:
        await asyncio.to_thread(self.prepare)
        self._task = asyncio.create_task(self._run(), name="stream-committer")

    def prepare(self) -> None:
        """Create the tables and read the committed offsets (before the first publish)."""
        by_connection: dict[str, list[StreamInfo]] = {}
        for info in self.publisher.streams.values():
            by_connection.setdefault(info.connection, []).append(info)
        for connection, infos in by_connection.items():
            engine = self._engine(connection)
            try:
                session = engine.session()
                for info in infos:
                    stats = self.stats[info.name]
                    try:
                        stats.columns = ensure_tables(session, info)
                        stats.committed_offset = committed_offset(session, info)
                        stats.table_ready = True
                    except Exception as exc:
                        stats.last_error = f"{type(exc).__name__}: {exc}"
                        log.error("stream '%s': cannot prepare its table: %s", info.name, exc)
                session.close()
            finally:
                engine.close()

    def _engine(self, connection: str) -> Engine:
        from interlace.opening import open_engines

        engines = open_engines(self.project, [connection])
        return engines[connection]

    def kick(self) -> None:
        """Commit soon (after a publish) instead of at the next interval."""
        self._kick.set()

    async def stop(self) -> None:
        self._stop.set()
        self._kick.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 60)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        try:  # what was published until the end is committed before the server stops
            await asyncio.to_thread(self.commit_all)
        except Exception as exc:
            log.error("the last commit failed (it is done at the next start): %s", exc)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._kick.wait(), self.interval)
            except TimeoutError:
                pass
            self._kick.clear()
            if self._stop.is_set():
                return
            try:
                await asyncio.to_thread(self.commit_all)
            except Exception as exc:  # a failing warehouse: keep the log, try again later
                log.error("stream commit failed, retrying: %s", exc)
                await asyncio.sleep(min(5.0, self.interval * 10))
            # let the interval pass: many small publishes become one micro-batch
            await asyncio.sleep(self.interval / 2)

    def pending(self, name: str) -> int:
        writer = self.publisher.writers.get(name)
        if writer is None:
            return 0
        return max(0, writer.durable_offset - self.stats[name].committed_offset)

    def commit_all(self) -> int:
        """Commit what every stream has waiting; returns the rows moved (blocking)."""
        now = time.monotonic()
        work = [
            n
            for n in self.publisher.writers
            if self.pending(n) > 0
            or (
                self.publisher.streams[n].settings.retention is not None
                and now - self.stats[n].retention_at >= RETENTION_EVERY
            )
        ]
        if not work:
            return 0
        total = 0
        by_connection: dict[str, list[str]] = {}
        for name in work:
            by_connection.setdefault(self.publisher.streams[name].connection, []).append(name)
        for connection, names in by_connection.items():
            engine = self._engine(connection)
            try:
                session = engine.session()
                try:
                    for name in names:
                        total += self._commit_stream(session, name)
                finally:
                    session.close()
            finally:
                engine.close()
        return total

    def _commit_stream(self, session: Session, name: str) -> int:
        info = self.publisher.streams[name]
        writer: StreamWriter = self.publisher.writers[name]
        stats = self.stats[name]
        if not stats.table_ready:
            stats.columns = ensure_tables(session, info)
            stats.committed_offset = committed_offset(session, info)
            stats.table_ready = True
        reader = self._readers.setdefault(name, LogReader(writer.log))
        moved = 0
        while True:
            start = stats.committed_offset
            records = reader.read(start, limit=self.batch_rows)
            if not records:
                break
            batch = build_batch(info, records, stats.columns)
            try:
                write_batch(session, info, batch)
            except Exception as exc:
                stats.last_error = f"{type(exc).__name__}: {exc}"
                raise
            stats.last_error = None
            stats.committed_offset = batch.next_offset
            stats.columns.update(batch.added_columns)
            rows = batch.rows.num_rows if batch.rows is not None else 0
            stats.rows += rows
            stats.quarantined += len(batch.quarantine)
            stats.commits += 1
            stats.last_commit_at = time.time()
            moved += rows
            event = StreamBatchCommitted(
                run_id=name,
                stream=name,
                first_offset=batch.first_offset,
                last_offset=batch.next_offset - 1,
                rows=rows,
                quarantined=len(batch.quarantine),
            )
            if self.on_commit is not None:
                try:
                    self.on_commit(event)
                except Exception:
                    log.exception("a stream commit listener failed")
            if len(records) < self.batch_rows:
                break
        self._trim(writer, stats.committed_offset)
        now = time.monotonic()
        due = moved > 0 or now - stats.retention_at >= RETENTION_EVERY
        if info.settings.retention is not None and due:
            stats.retention_at = now
            apply_retention(session, info)
        return moved

    def _trim(self, writer: StreamWriter, committed: int) -> None:
        """Drop log segments the table holds (their ids stay in the de-duplication snapshot)."""
        sealed = [s for s in writer.log.snapshot()[:-1] if s.next_offset <= committed]
        if not sealed:
            return
        writer.dedup.save()
        writer.log.drop_before(committed)
