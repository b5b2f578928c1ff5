"""PostgreSQL as a model engine: a psycopg 3 connection pool, one pooled connection per task.

Connections run in autocommit mode; :meth:`PostgresSession.transaction` opens an explicit
transaction (PostgreSQL's DDL is transactional, so a whole stage-and-publish is one commit).
PostgreSQL's dialect quirks that the shared statement builders cannot express are handled here,
in :meth:`PostgresSession._adapt`:

- ``CREATE OR REPLACE TABLE`` does not exist: drop, then create.
- ``CREATE OR REPLACE VIEW`` cannot change a view's columns: drop, then create.
- views are bound to the tables they read: dependent views are detached and recreated around a
  table swap or a column type change (see :mod:`interlace_connections.postgres.views`).

Why one module over 500 lines: it is the one place PostgreSQL's dialect lives (session, engine,
bulk load through COPY and the Arrow conversion of results), as STYLE asks of each dialect.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from interlace.engines.base import Capabilities, Column, Engine, Session, drop_and_create
from interlace.errors import InterlaceConnectionError, ModelExecutionError
from sqlglot import exp

from interlace_connections.arrow_batches import as_batches
from interlace_connections.postgres.connect import connect, connection_error
from interlace_connections.postgres.types import (
    arrow_type_of,
    canonical_type,
    csv_ready,
    pg_type_of,
)
from interlace_connections.postgres.views import DEPENDENT_VIEWS, SavedView, quote

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    import psycopg
    import pyarrow as pa
    from interlace.locks import LockWait
    from psycopg_pool import ConnectionPool

    from interlace_connections.postgres.config import PostgresConnectionConfig

DIALECT = "postgres"
ROWS_PER_COPY_BATCH = 50_000  # rows per CSV chunk sent to COPY (bounds memory per batch)
ROWS_PER_FETCH = 50_000
MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names (NAMEDATALEN - 1 bytes)

_RELATIONS = (
    "SELECT n.nspname, c.relname, c.relkind FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%' "
)


def _kind(relkind: str) -> str:
    return "view" if relkind in ("v", "m") else "table"


def pg_name(name: str) -> str:
    """The name PostgreSQL stores for ``name`` (identifiers are cut at 63 bytes)."""
    raw = name.encode()
    if len(raw) <= MAX_IDENTIFIER:
        return name
    return raw[:MAX_IDENTIFIER].decode(errors="ignore")


class PostgresSession(Session):
    """One pooled connection, held by one task until :meth:`close`."""

    dialect = DIALECT

    def __init__(self, engine: PostgresEngine, connection: psycopg.Connection[Any]) -> None:
        self.engine = engine
        self.connection: psycopg.Connection[Any] | None = connection
        self._ibis: Any = None
        self._depth = 0  # nesting of transaction()
        self._detached: list[SavedView] = []  # views to recreate before the commit

    # -- running statements
    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self.connection is None:
            raise InterlaceConnectionError(
                f"connection '{self.engine.name}': this session is closed"
            )
        return self.connection

    @property
    def cursor(self) -> psycopg.Connection[Any]:
        """The raw handle a model's ``context.connection`` gives (a psycopg connection)."""
        return self.conn

    def _adapt(self, statement: exp.Expr | str) -> list[exp.Expr | str]:
        """Statements PostgreSQL runs for ``statement`` (most need no change)."""
        return drop_and_create(statement)

    def _render(self, statement: exp.Expr | str) -> str:
        return statement if isinstance(statement, str) else statement.sql(dialect=DIALECT)

    def _run(self, statement: exp.Expr | str) -> psycopg.Cursor[Any]:
        """Run one statement, detaching the views that would block it."""
        affected = self._blocked_relations(statement)
        if affected:
            if self._depth == 0:  # the views come back before this statement's own commit
                with self.transaction():
                    return self._run(statement)
            for relation in affected:
                self._detach_views(relation)
        return self.conn.execute(self._render(statement))

    def _run_all(self, statement: exp.Expr | str) -> psycopg.Cursor[Any]:
        statements = self._adapt(statement)
        if self._depth == 0 and len(statements) > 1:
            # e.g. DROP + CREATE for a view: views detached by the DROP come back after CREATE
            with self.transaction():
                return self._run_all(statement)
        for part in statements[:-1]:
            self._run(part)
        return self._run(statements[-1])

    def execute(self, statement: exp.Expr | str) -> None:
        self._run_all(statement)

    def fetch_one(self, statement: exp.Expr | str) -> tuple[Any, ...] | None:
        cursor = self._run_all(statement)
        if cursor.description is None:  # DML/DDL: report the affected rows, like DuckDB
            return (cursor.rowcount,) if cursor.rowcount >= 0 else None
        row: tuple[Any, ...] | None = cursor.fetchone()
        return row

    def fetch_all(self, statement: exp.Expr | str) -> list[tuple[Any, ...]]:
        cursor = self._run_all(statement)
        if cursor.description is None:
            return []
        return list(cursor.fetchall())

    def fetch_arrow(self, statement: exp.Expr | str) -> pa.Table:
        import pyarrow as pa

        statements = self._adapt(statement)
        for part in statements[:-1]:
            self._run(part)
        with self.conn.cursor() as cursor:
            cursor.execute(self._render(statements[-1]))
            if cursor.description is None:
                return pa.table({})
            names = [d.name for d in cursor.description]
            types = [_arrow_type(d.type_code) for d in cursor.description]
            parts: list[pa.Table] = []
            while rows := cursor.fetchmany(ROWS_PER_FETCH):
                parts.append(pa.Table.from_batches([_rows_to_batch(rows, names, types)]))
            if not parts:
                parts.append(pa.Table.from_batches([_rows_to_batch([], names, types)]))
        # types inferred per batch (numeric precision, say) may differ: unify them
        return pa.concat_tables(parts, promote_options="permissive").combine_chunks()

    # -- in-memory data
    def register(self, name: str, data: Any) -> None:
        """Load Arrow-compatible data into a TEMP table called ``name``, batch by batch.

        Each batch is printed as CSV by pyarrow (vectorised) and streamed with ``COPY ... FROM
        STDIN``; only one batch is in memory at a time, so a generator of batches larger than
        memory loads fine.
        """
        import pyarrow.csv as pacsv

        schema, batches = as_batches(data, ROWS_PER_COPY_BATCH)
        table = exp.to_table(name).sql(dialect=DIALECT)  # as the model's query will name it
        columns = ", ".join(f"{quote(field.name)} {pg_type_of(field.type)}" for field in schema)
        conn = self.conn
        conn.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")
        conn.execute(f"CREATE TEMPORARY TABLE {table} ({columns})")
        if not len(schema):
            return
        options = pacsv.WriteOptions(include_header=False)
        column_list = ", ".join(quote(field.name) for field in schema)
        try:
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY {table} ({column_list}) FROM STDIN (FORMAT csv)") as copy,
            ):
                for batch in batches:
                    if not batch.num_rows:
                        continue
                    printable = [csv_ready(column) for column in batch.columns]
                    buffer = io.BytesIO()
                    pacsv.write_csv(_record_batch(printable), buffer, options)
                    copy.write(buffer.getbuffer())
        except Exception as exc:
            try:
                conn.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")
            except Exception:
                pass
            if _is_engine_error(exc):
                raise
            # the data source itself failed (often the model's own generator): say so; the
            # runner reports the model's exception with its traceback instead of this one
            raise ModelExecutionError(
                f"reading the result to load it into PostgreSQL failed: {type(exc).__name__}: {exc}"
            ) from exc

    def unregister(self, name: str) -> None:
        table = exp.to_table(name).sql(dialect=DIALECT)
        self.conn.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")

    # -- transactions
    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            self._depth += 1
            try:
                yield
                if self._depth == 1:
                    self._recreate_views()
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._detached = []

    def _blocked_relations(self, statement: exp.Expr | str) -> list[exp.Table]:
        """Relations that ``statement`` drops or retypes (dependent views would block it)."""
        if isinstance(statement, exp.Drop):
            kind = str(statement.args.get("kind") or "").upper()
            if kind in ("TABLE", "VIEW", "MATERIALIZED VIEW"):
                tables = statement.args.get("tables") or []
                return [t for t in tables if isinstance(t, exp.Table) and t.name]
        if isinstance(statement, exp.Alter) and isinstance(statement.this, exp.Table):
            actions = statement.args.get("actions") or []
            if any(isinstance(a, exp.AlterColumn) and a.args.get("dtype") for a in actions):
                return [statement.this]
        return []

    def _detach_views(self, relation: exp.Table) -> None:
        qualified = relation.sql(dialect=DIALECT)
        row = self.conn.execute("SELECT to_regclass(%s)::oid", (qualified,)).fetchone()
        if row is None or row[0] is None:
            return
        reads = ".".join(p for p in (relation.db, relation.name) if p)
        rows = self.conn.execute(DEPENDENT_VIEWS, {"relid": row[0]}).fetchall()
        views = [SavedView(s, n, k == "m", d, depth, reads) for s, n, k, d, depth in rows]
        for view in sorted(views, key=lambda v: -v.depth):  # readers of readers first
            self.conn.execute(view.drop_sql())
        known = {v.qualified for v in self._detached}
        self._detached += [v for v in views if v.qualified not in known]

    def _recreate_views(self) -> None:
        pending, self._detached = self._detached, []
        for view in sorted(pending, key=lambda v: v.depth):
            try:
                with self.conn.transaction():  # a savepoint, so the message is PostgreSQL's
                    self.conn.execute(view.create_sql())
            except Exception as exc:
                if not _is_engine_error(exc):
                    raise
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise view.recreate_error(reason) from None

    # -- catalog
    def relation_kind(self, schema: str, name: str) -> str | None:
        row = self.conn.execute(
            "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
            (pg_name(schema), pg_name(name)),
        ).fetchone()
        return None if row is None else _kind(row[0])

    def describe(self, schema: str, name: str) -> list[Column]:
        rows = self.conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            (pg_name(schema), pg_name(name)),
        ).fetchall()
        return [Column(r[0], canonical_type(r[1])) for r in rows]

    def describe_relation(self, table: exp.Table) -> list[Column]:
        """Columns of ``table``; an unqualified name is looked up like a query would (the
        session's temporary tables first)."""
        if table.db:
            return self.describe(table.db, table.name)
        rows = self.conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            (table.sql(dialect=DIALECT),),
        ).fetchall()
        return [Column(r[0], canonical_type(r[1])) for r in rows]

    def content_hash(self, table: exp.Table, columns: Sequence[Column] | None = None) -> str | None:
        """Row count plus the sum of each row's 64-bit md5 prefix: order-insensitive."""
        name = table.sql(dialect=DIALECT)
        row = self.conn.execute(
            "SELECT count(*), coalesce(sum(('x' || substr(md5(__il_row::text), 1, 16))"
            f"::bit(64)::bigint::numeric), 0) FROM {name} AS __il_row"
        ).fetchone()
        if columns is None:
            columns = self.describe(table.db, table.name)
        payload = repr(
            ((row[0], str(row[1])) if row else None, [(c.name, c.type) for c in columns])
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    # -- write locks
    @contextmanager
    def target_lock(self, schema: str, name: str, wait: LockWait) -> Iterator[None]:
        """A session-level advisory lock keyed by database, schema and table (advisory locks
        live in one database; the key hashes schema and table): another process, on any
        machine, writing that table waits. The server releases it if this process dies."""
        key = advisory_key(pg_name(schema), pg_name(name))
        conn = self.conn
        # waiters read the holder's name from pg_stat_activity
        conn.execute("SELECT set_config('application_name', %s, false)", (_app_name(wait),))

        def try_lock() -> bool:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            return bool(row and row[0])

        def holder() -> str:
            row = conn.execute(
                _ADVISORY_HOLDER, ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF)
            ).fetchone()
            if row is None:
                return "another session"
            app, pid, address = row
            where = f" from {address}" if address else ""
            return f"{app or 'a session'} (server pid {pid}{where})"

        wait.poll(f"table {schema}.{name}", try_lock, holder)
        try:
            yield
        finally:
            if self.connection is not None and not self.connection.closed:
                try:
                    self.connection.execute("SELECT pg_advisory_unlock(%s)", (key,))
                except Exception:
                    pass  # the connection broke: the server released the lock with it

    # -- lifecycle
    def interrupt(self) -> None:
        connection = self.connection
        if connection is not None and not connection.closed:
            connection.cancel_safe(timeout=self.engine.config.connect_timeout)

    def close(self) -> None:
        connection, self.connection = self.connection, None
        self._ibis = None
        if connection is not None:
            self.engine.release(connection)

    def ibis(self) -> Any:
        """An ibis backend on this session's own connection (so it sees TEMP tables)."""
        if self._ibis is None:
            from interlace_connections.postgres.ibis_backend import backend_on

            self._ibis = backend_on(self.conn)
        return self._ibis


class PostgresEngine(Engine):
    """A PostgreSQL database reached through a pool of connections."""

    dialect = DIALECT
    driver_modules = ("psycopg",)
    capabilities = Capabilities(
        merge=True,  # PostgreSQL 15+
        prefer_merge=True,
        create_or_replace=False,
        publish="transaction",
        rename_table=True,
        arrow_scan=False,
    )

    def __init__(self, name: str, config: PostgresConnectionConfig, root: Path) -> None:
        self.name = name
        self.config = config
        self.root = root
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    @property
    def what(self) -> str:
        return f"connection '{self.name}'"

    @property
    def lock_scope(self) -> str:
        return f"postgres:{self.config.target()}"

    def _settings(self) -> dict[str, Any]:
        return {"autocommit": True, "prepare_threshold": None}

    @property
    def pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = self._open()
            return self._pool

    def _open(self) -> ConnectionPool:
        from psycopg_pool import ConnectionPool

        config = self.config
        # one direct connection first: libpq's own reason (refused, bad password, unknown
        # database) within connect_timeout, instead of a pool timing out without a reason
        probe = connect(self.what, config, **self._settings())
        try:
            if probe.info.server_version < 150000:  # MERGE arrived in PostgreSQL 15
                self.capabilities = dataclasses.replace(
                    self.capabilities, merge=False, prefer_merge=False
                )
        finally:
            probe.close()
        pool = ConnectionPool(
            config.conninfo(),
            min_size=config.pool_min_size,
            max_size=config.pool_max_size,
            kwargs=self._settings(),
            check=ConnectionPool.check_connection,  # a server restart is not an error here
            reset=_reset,
            timeout=config.pool_timeout,
            reconnect_timeout=max(config.connect_timeout * 3, 30.0),
            name=f"interlace-{self.name}",
            open=False,
        )
        pool.open(wait=False)
        return pool

    def session(self) -> PostgresSession:
        from psycopg_pool import PoolTimeout

        pool = self.pool
        try:
            connection = pool.getconn()
        except PoolTimeout:
            # the server went away (or every connection is busy): find out which
            try:
                connect(self.what, self.config, **self._settings()).close()
            except InterlaceConnectionError:
                raise
            except Exception as exc:  # pragma: no cover - anything else libpq raises
                raise connection_error(self.what, self.config, exc) from None
            raise InterlaceConnectionError(
                f"{self.what}: no free PostgreSQL connection after {self.config.pool_timeout}s "
                f"(pool_max_size is {self.config.pool_max_size})",
                hint="raise pool_max_size or pool_timeout, or lower executor.max_workers",
            ) from None
        return PostgresSession(self, connection)

    def release(self, connection: psycopg.Connection[Any]) -> None:
        pool = self._pool
        if pool is None or pool.closed:
            connection.close()
            return
        pool.putconn(connection)

    def list_relations(self, like: str) -> Iterator[tuple[str, str, str]]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                _RELATIONS + "AND c.relname LIKE %s ESCAPE '\\'", (like,)
            ).fetchall()
        for schema, name, relkind in rows:
            yield schema, name, _kind(relkind)

    def ping(self) -> None:
        with self.pool.connection() as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


_ADVISORY_HOLDER = (
    "SELECT a.application_name, a.pid, a.client_addr FROM pg_locks l "
    "JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid LIMIT 1"
)


def advisory_key(schema: str, name: str) -> int:
    """The advisory lock key of a table: a signed 64-bit hash of its schema and name."""
    digest = hashlib.blake2b(f"interlace\0{schema}\0{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _app_name(wait: LockWait) -> str:
    return f"interlace {wait.holder}"[:63]  # application_name is cut at 63 bytes


def _reset(connection: psycopg.Connection[Any]) -> None:
    """Back in the pool: drop TEMP tables and session changes (ibis sets the time zone)."""
    connection.execute("DISCARD ALL")


def _is_engine_error(exc: BaseException) -> bool:
    import psycopg

    return isinstance(exc, psycopg.Error)


def _arrow_type(oid: int) -> pa.DataType | None:
    import psycopg

    info = psycopg.adapters.types.get(oid)
    return arrow_type_of(info.name) if info is not None else None


def _rows_to_batch(
    rows: list[tuple[Any, ...]], names: list[str], types: list[pa.DataType | None]
) -> pa.RecordBatch:
    import pyarrow as pa

    arrays = []
    for i, kind in enumerate(types):
        values = [row[i] for row in rows]
        arrays.append(_to_array(values, kind))
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _to_array(values: list[Any], kind: pa.DataType | None) -> pa.Array:
    import json

    import pyarrow as pa

    if kind == pa.string():
        values = [
            v
            if v is None or isinstance(v, str)
            else json.dumps(v, default=str)
            if isinstance(v, (dict, list))
            else str(v)
            for v in values
        ]
    try:
        return (
            pa.array(values, type=kind)
            if kind is not None or values
            else pa.array(values, type=pa.null())
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        try:
            return pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return pa.array([None if v is None else str(v) for v in values], pa.string())


def _record_batch(columns: list[Any]) -> pa.RecordBatch:
    import pyarrow as pa

    # positional names: COPY maps columns by position, and real names may repeat or clash
    return pa.RecordBatch.from_arrays(columns, names=[f"c{i}" for i in range(len(columns))])
