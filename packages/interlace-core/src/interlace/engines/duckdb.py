"""The built-in DuckDB engine: a file or in-memory database, one cursor per task.

Why one module over 500 lines: it is everything DuckDB-specific in one place (as STYLE asks of
a dialect: one file overriding the shared base), its session and its engine; attachments and
extensions have modules of their own.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.engines.base import Capabilities, Column, Engine, Session
from interlace.errors import InterlaceConnectionError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    import duckdb
    import pyarrow as pa
    from sqlglot import exp

    from interlace.connection_config import DuckDBConnectionConfig
    from interlace.engines.duckdb_attach import Attachment
    from interlace.functions import ProjectFunctions
    from interlace.locks import LockWait


def duckdb_catalog_error() -> type[Exception]:
    import duckdb

    return duckdb.CatalogException


# export option name -> DuckDB COPY parameter
_COPY_OPTIONS = {
    "header": "HEADER",
    "delimiter": "DELIMITER",
    "compression": "COMPRESSION",
    "array": "ARRAY",
}


def _sql(statement: exp.Expr | str) -> str:
    # statements are built for one execution: the generator may rewrite them in place (its
    # rewrites keep the meaning), which spares a deep copy of each tree
    return statement if isinstance(statement, str) else statement.sql(dialect="duckdb", copy=False)


def _literal(value: str) -> str:
    # Inlined, not a bound `?` parameter: DuckDB's Python binding imports pandas (~1 s) the first
    # time it inspects parameters, which every run would pay for its catalog queries.
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _is_reader(data: Any) -> bool:
    return type(data).__name__ == "RecordBatchReader" and type(data).__module__.startswith(
        "pyarrow"
    )


# how much of an Arrow stream a session keeps in memory before spilling the rest to a file
SPOOL_MEMORY = 64 * 1024 * 1024


def detached(reader: pa.RecordBatchReader, limit: int | None = None) -> pa.Table:
    """All of ``reader``, read before DuckDB scans it: in memory up to ``limit`` bytes, the rest
    spilled to an Arrow IPC file that is memory-mapped back (so memory stays bounded).

    A stream must be read to its end before the session's cursor runs anything else: a reader
    the model took from that same cursor (``context.connection.sql(...).arrow()``) is a pending
    result of it, which another statement silently empties, and which a scan on the same cursor
    waits for forever (each needs the cursor's lock).
    """
    import pyarrow as pa

    limit = SPOOL_MEMORY if limit is None else limit
    batches: list[pa.RecordBatch] = []
    size = 0
    for batch in reader:
        batches.append(batch)
        size += batch.nbytes
        if size > limit:
            return _spilled(reader.schema, batches, reader)
    return pa.Table.from_batches(batches, schema=reader.schema)


def _spilled(schema: pa.Schema, head: list[pa.RecordBatch], rest: pa.RecordBatchReader) -> pa.Table:
    import tempfile

    import pyarrow as pa

    with tempfile.NamedTemporaryFile(prefix="interlace-spool-", suffix=".arrow") as file:
        with pa.ipc.new_file(file.name, schema) as writer:
            for batch in head:
                writer.write_batch(batch)
            head.clear()
            for batch in rest:
                writer.write_batch(batch)
        # the mapping outlives the file's name (deleted on leaving this block)
        return pa.ipc.open_file(pa.memory_map(file.name)).read_all()


def _in_schema(schema: str) -> str:
    """information_schema filter for a schema of the database, or ``attachment.schema``."""
    catalog, _, db = schema.rpartition(".")
    where = (
        f"table_catalog = {_literal(catalog)}" if catalog else "table_catalog = current_database()"
    )
    return f"{where} AND table_schema = {_literal(db)}"


def _lock_holder(message: str) -> str:
    """Who holds a DuckDB file, from the lock error ("... is held in /usr/bin/python (PID 42)")."""
    import re

    found = re.search(r"\(PID (\d+)\)", message)
    if found is None:
        return "another process"
    return f"pid {found.group(1)}"


class DuckDBSession(Session):
    dialect = "duckdb"

    def __init__(
        self, cursor: duckdb.DuckDBPyConnection, schemas: Mapping[str, str] | None = None
    ) -> None:
        self.cursor = cursor
        self._ibis: Any = None
        # `alias.main` -> the schema an attachment lists it under (DuckDBEngine.main_schemas)
        self._schemas = dict(schemas or {})
        # the model's code was given this cursor (context.connection / context.ibis): an Arrow
        # stream it returns may be a pending result of the cursor, so it is read whole first
        self.handed_out = False
        self._streams: set[str] = set()  # registered Arrow streams DuckDB reads as it scans
        self._side: duckdb.DuckDBPyConnection | None = None
        self._side_ibis: Any = None

    def execute(self, statement: exp.Expr | str) -> None:
        self.cursor.execute(_sql(statement))

    def fetch_one(self, statement: exp.Expr | str) -> tuple[Any, ...] | None:
        # fetchall, not fetchone: a result left unread keeps its transaction open, and with it
        # the locks it took (a SQLite attachment's, which then refuses every other commit)
        rows = self.cursor.execute(_sql(statement)).fetchall()
        return rows[0] if rows else None

    def fetch_all(self, statement: exp.Expr | str) -> list[tuple[Any, ...]]:
        return self.cursor.execute(_sql(statement)).fetchall()

    def fetch_arrow(self, statement: exp.Expr | str) -> pa.Table:
        return self.cursor.execute(_sql(statement)).to_arrow_table()

    def fetch_batches(self, statement: exp.Expr | str) -> pa.RecordBatchReader:
        return self.cursor.execute(_sql(statement)).to_arrow_reader(100_000)

    def load_temp(self, name: str, data: pa.RecordBatchReader) -> None:
        source = f"{name}__src"
        self.cursor.register(source, detached(data))
        try:
            quoted = name.replace('"', '""')
            self.cursor.execute(
                f'CREATE OR REPLACE TEMP TABLE "{quoted}" AS SELECT * FROM "{source}"'
            )
        finally:
            self.cursor.unregister(source)

    def register(self, name: str, data: Any) -> None:
        if _is_reader(data):
            if self.handed_out:
                data = detached(data)
            else:
                self._streams.add(name)  # scanned as it comes (a generator's batches)
        self.cursor.register(name, data)

    def unregister(self, name: str) -> None:
        self._streams.discard(name)
        self.cursor.unregister(name)

    def user_connection(self) -> duckdb.DuckDBPyConnection:
        """The handle a model's code gets as ``context.connection``: this session's cursor; while
        DuckDB scans a stream the model returned (its generator runs inside that scan), a cursor
        of its own, since a result read from the busy cursor would wait for the scan forever."""
        if self._streams:
            if self._side is None:
                self._side = self.cursor.cursor()
            return self._side
        self.handed_out = True
        return self.cursor

    def user_ibis(self) -> Any:
        """``context.ibis``: an ibis backend on :meth:`user_connection`."""
        if self._streams:
            if self._side_ibis is None:
                import ibis

                self._side_ibis = ibis.duckdb.from_connection(self.user_connection())
            return self._side_ibis
        self.handed_out = True
        return self.ibis()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.cursor.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            try:
                self.cursor.execute("ROLLBACK")
            except Exception:
                pass  # the connection may already have aborted the transaction
            raise
        self.cursor.execute("COMMIT")

    def relation_kind(self, schema: str, name: str) -> str | None:
        schema = self._schemas.get(schema, schema)
        row = self.cursor.execute(
            "SELECT table_type FROM information_schema.tables "
            f"WHERE {_in_schema(schema)} AND table_name = {_literal(name)}"
        ).fetchall()
        if not row:
            return None
        return "view" if row[0][0] == "VIEW" else "table"

    def describe(self, schema: str, name: str) -> list[Column]:
        target = ".".join(_ident(part) for part in (*schema.split(".", 1), name))
        try:
            rows = self.cursor.execute(f"DESCRIBE {target}").fetchall()
        except duckdb_catalog_error():
            return []
        return [Column(r[0], r[1]) for r in rows]

    def temporary_table(self, name: str) -> exp.Table:
        from sqlglot import exp

        # spelled out: `main.name` would mean the database's own schema
        return exp.table_(
            exp.to_identifier(name, quoted=True),
            db=exp.to_identifier("main", quoted=True),
            catalog=exp.to_identifier("temp", quoted=True),
        )

    def describe_relation(self, table: exp.Table) -> list[Column]:
        """Columns of ``table``; an unqualified name is looked up like a query would (the
        session's temporary tables first)."""
        if table.db and not table.catalog:
            return self.describe(table.db, table.name)
        try:
            rows = self.cursor.execute(f"DESCRIBE {_sql(table)}").fetchall()
        except duckdb_catalog_error():
            return []
        return [Column(r[0], r[1]) for r in rows]

    def copy_to_file(
        self, query: exp.Expr, path: str, file_format: str, options: Mapping[str, Any]
    ) -> None:
        """``COPY (query) TO 'path' (FORMAT ..., ...)``."""
        from sqlglot import exp

        params = [exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var(file_format))]
        for key, value in options.items():
            if key not in _COPY_OPTIONS:
                raise ValueError(f"unknown export option {key!r}")
            spelled: exp.Expr
            if isinstance(value, bool):
                spelled = exp.Boolean(this=value)
            else:
                spelled = exp.Literal.string(str(value))
            params.append(exp.CopyParameter(this=exp.var(_COPY_OPTIONS[key]), expression=spelled))
        copy = exp.Copy(
            this=exp.Subquery(this=query.copy()),
            kind=False,  # TO
            files=[exp.Literal.string(path)],
            params=params,
        )
        self.cursor.execute(_sql(copy))

    def unique_integers(self, table: exp.Table, column: str) -> bool | None:
        # one bit per value between min and max (bitstring_agg) instead of a hash table:
        # several times faster than GROUP BY on a dense integer key
        name = table.sql(dialect="duckdb")
        row = self.fetch_one(
            f"SELECT min({_ident(column)}), max({_ident(column)}), count({_ident(column)}) "
            f"FROM {name}"
        )
        if row is None or not all(type(v) is int for v in row):
            return None  # empty, all NULL, or not an integer column
        low, high, count = row
        if high - low >= max(1 << 20, 64 * count):  # sparse: the bitstring would outgrow a hash
            return None
        distinct = self.fetch_one(
            f"SELECT bit_count(bitstring_agg({_ident(column)}, {low}, {high})) FROM {name}"
        )
        return distinct is not None and distinct[0] == count

    def content_hash(self, table: exp.Table, columns: Sequence[Column] | None = None) -> str | None:
        import hashlib

        name = table.sql(dialect="duckdb")
        row = self.cursor.execute(
            f"SELECT count(*), sum(hash(__il_row)::HUGEINT) FROM {name} AS __il_row"
        ).fetchone()
        if columns is None:
            columns = self.describe_relation(table)
        digest = hashlib.sha256(repr((row, [(c.name, c.type) for c in columns])).encode())
        return digest.hexdigest()[:32]

    def interrupt(self) -> None:
        self.cursor.interrupt()

    def close(self) -> None:
        self._ibis = self._side_ibis = None
        if self._side is not None:
            self._side.close()
            self._side = None
        self.cursor.close()

    def ibis(self) -> Any:
        if self._ibis is None:
            import ibis

            self._ibis = ibis.duckdb.from_connection(self.cursor)
        return self._ibis


class DuckDBEngine(Engine):
    """Embedded DuckDB. Parallel tasks use cursors of one shared database connection."""

    dialect = "duckdb"
    driver_modules = ("duckdb", "_duckdb")
    capabilities = Capabilities(
        merge=True,
        create_or_replace=True,
        publish="transaction",
        rename_table=True,
        arrow_scan=True,
        temporary_staging=True,
        exclusive_writer=True,
    )

    def __init__(self, name: str, config: DuckDBConnectionConfig, root: Path) -> None:
        self.name = name
        self.config = config
        self.path = config.path
        if self.path != ":memory:" and not self.path.startswith(("md:", ":memory:")):
            file = Path(self.path)
            if not file.is_absolute():
                file = root / file
            self.path = str(file)
        self.root = root
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()
        self._functions: ProjectFunctions | None = None
        self._databases: frozenset[str] = frozenset()  # attachments models materialize into
        self._wait: LockWait | None = None  # how to wait for a file another process holds

    @property
    def lock_scope(self) -> str:
        if self.path.startswith((":memory:", "md:")):
            return f"duckdb:{self.path}:{id(self)}"
        return f"duckdb:{self.path}"

    def wait_for_locks(self, wait: LockWait) -> None:
        self._wait = wait

    @property
    def read_only(self) -> bool:
        """Opened read-only: ``read_only: true``, or ``access: read`` on a database file."""
        in_memory = self.path.startswith((":memory:", "md:"))
        return self.config.read_only or (self.config.access == "read" and not in_memory)

    def attachments(self) -> list[Attachment]:
        """The ``attach:`` items (all read-only on an ``access: read`` connection)."""
        from interlace.engines.duckdb_attach import Attachment

        forced = self.config.access == "read" or self.config.read_only
        return [
            Attachment(self.name, item, self.root, item.read_only or forced)
            for item in self.config.attach
        ]

    def use_databases(self, databases: Iterable[str]) -> None:
        self._databases = frozenset(databases)

    def use_functions(self, functions: ProjectFunctions) -> None:
        """Register the project's ``functions/`` (UDFs and macros) whenever the database opens."""
        self._functions = functions
        with self._lock:
            if self._connection is not None and functions:
                functions.register_udfs(self._connection)
                if not self.read_only:
                    functions.create_macros(self._connection, persistent=True)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._connection is None:
                self._connection = self._open()
            return self._connection

    def _open(self, *, probe: bool = False) -> duckdb.DuckDBPyConnection:
        """Open the database, load ``extensions``, ATTACH ``attach:`` and register functions.

        ``probe`` (health checks): never create anything; a database file that does not exist
        yet is replaced by an in-memory one, attachments that would create files are skipped.
        """
        import duckdb

        from interlace.engines.duckdb_extensions import extension_directory, load_extension

        settings: dict[str, Any] = {
            "autoinstall_known_extensions": False,
            "extension_directory": str(extension_directory()),
            # relative file names in SQL that Interlace does not compile (a Python model's own
            # queries, functions/ macros) are also looked for in the project folder
            "file_search_path": str(self.root),
        }
        if self.config.threads:
            settings["threads"] = self.config.threads
        if self.config.memory_limit:
            settings["memory_limit"] = self.config.memory_limit
        settings.update(self.config.settings)
        path = ":memory:" if probe and not self.exists else self.path
        if path != ":memory:" and not path.startswith(":memory:"):
            parent = Path(path).parent
            if not self.read_only:
                try:
                    parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise InterlaceConnectionError(
                        f"connection '{self.name}': cannot create folder {parent}: {exc.strerror}",
                        hint="fix `path` of this connection or the folder's permissions",
                    ) from None
        try:
            read_only = self.read_only and path != ":memory:"
            connection = self._connect(path, read_only, settings, wait=not probe)
            connection.execute("SET enable_progress_bar = false")  # cursors inherit it
        except duckdb.Error as exc:
            message = str(exc).splitlines()[0]
            hint = "check `path` of this connection"
            if "option" in message.lower() or "setting" in message.lower():
                hint = "check `settings`, `threads` and `memory_limit` of this connection"
            if "lock" in message.lower():
                hint = "another process holds the database file open; stop it or use another file"
            if "does not exist" in message and self.read_only:
                hint = "a read-only database must exist: build it first, or fix `path`"
            raise InterlaceConnectionError(
                f"connection '{self.name}': cannot open DuckDB database {self.path}: {message}",
                hint=hint,
            ) from None
        try:
            for extension in self.config.extensions:
                try:
                    load_extension(connection, extension)
                except InterlaceConnectionError as exc:
                    raise InterlaceConnectionError(
                        f"connection '{self.name}': {exc.message}", hint=exc.hint
                    ) from None
            for attachment in self.attachments():
                if probe and attachment.creates_files():
                    continue
                attachment.attach(connection)
            if self._functions and not probe:
                self._functions.register_udfs(connection)
                if not self.read_only:  # stored in the database; read-only: per session
                    self._functions.create_macros(connection, persistent=True)
        except BaseException:
            connection.close()
            raise
        return connection

    def _connect(
        self, path: str, read_only: bool, settings: dict[str, Any], *, wait: bool
    ) -> duckdb.DuckDBPyConnection:
        """``duckdb.connect``; while another process holds the file (one writer per file),
        wait for it as the run's :class:`~interlace.locks.LockWait` says."""
        import duckdb

        lock_wait = self._wait if wait else None
        if lock_wait is None:
            return duckdb.connect(path, read_only=read_only, config=settings)
        opened: list[duckdb.DuckDBPyConnection] = []
        holder = ["another process"]

        def try_open() -> bool:
            try:
                opened.append(duckdb.connect(path, read_only=read_only, config=settings))
            except duckdb.IOException as exc:
                message = str(exc)
                if "lock" not in message.lower():
                    raise
                holder[0] = _lock_holder(message)
                return False
            return True

        what = f"connection '{self.name}': the database file {self.path}"
        lock_wait.poll(what, try_open, lambda: holder[0], step=0.5)
        return opened[0]

    def session(self) -> DuckDBSession:
        cursor = self.connection.cursor()
        if self._functions is not None and self._functions.macros and self.read_only:
            self._functions.create_macros(cursor, persistent=False)  # TEMP: one per cursor
        mains = self.main_schemas()
        return DuckDBSession(cursor, {f"{a}.main": f"{a}.{s}" for a, s in mains.items()})

    def list_relations(self, like: str) -> Iterator[tuple[str, str, str]]:
        """Relations of the database and of the attachments models materialize into (their
        schema reads ``attachment.schema``)."""
        rows = (
            self.connection.cursor()
            .execute(
                "SELECT table_catalog = current_database(), table_catalog, table_schema, "
                "table_name, table_type FROM information_schema.tables "
                f"WHERE {self._catalogs('table_catalog')} "
                f"AND table_name LIKE {_literal(like)} ESCAPE '\\'"
            )
            .fetchall()
        )
        mains = self.main_schemas()
        for own, catalog, schema, name, kind in rows:
            if not own and schema == "main" and catalog in mains:
                continue  # a MySQL database called `main`: `alias.main` does not reach it
            relation = "view" if kind == "VIEW" else "table"
            yield (schema if own else f"{catalog}.{schema}", name, relation)
            if not own and mains.get(catalog) == schema:  # as models in `alias.main` name it
                yield f"{catalog}.main", name, relation

    def main_schemas(self) -> dict[str, str]:
        """Attachments models materialize into whose ``alias.main`` is a schema of another
        name (a MySQL attachment's database): alias -> that schema."""
        found = {a.name: a.main_schema for a in self.attachments() if a.name in self._databases}
        return {alias: schema for alias, schema in found.items() if schema is not None}

    def _catalogs(self, column: str) -> str:
        """SQL: ``column`` is the database itself or an attachment models materialize into
        (other attachments are not listed: a large attached server costs nothing per run)."""
        targeted = [a.name for a in self.attachments() if a.name in self._databases]
        if not targeted:
            return f"{column} = current_database()"
        names = ", ".join(_literal(name) for name in targeted)
        return f"({column} = current_database() OR {column} IN ({names}))"

    @property
    def exists(self) -> bool:
        """False while a file database has not been created yet."""
        return self.path.startswith(":memory:") or Path(self.path).exists()

    def ping(self) -> None:
        """Open the database (read-only where it exists) and every attachment, then close:
        a missing attachment file or an unreachable server is reported with its reason."""
        if self._connection is not None:
            super().ping()
            return
        if self.exists or self.config.attach or self.config.extensions:
            connection = self._open(probe=True)
            try:
                connection.execute("SELECT 1").fetchall()
            finally:
                connection.close()
            if self.exists:
                return
        # do not create the file just to look at it: check that it could be created
        folder = Path(self.path).parent
        while not folder.exists():
            folder = folder.parent
        if not os.access(folder, os.W_OK):
            raise InterlaceConnectionError(
                f"connection '{self.name}': cannot create {self.path}: {folder} is not writable",
                hint="fix `path` of this connection or the folder's permissions",
            )

    def list_schemas(self) -> list[str]:
        rows = (
            self.connection.cursor()
            .execute(
                "SELECT catalog_name = current_database(), catalog_name, schema_name "
                f"FROM information_schema.schemata WHERE {self._catalogs('catalog_name')}"
            )
            .fetchall()
        )
        found = [schema if own else f"{catalog}.{schema}" for own, catalog, schema in rows]
        mains = [
            f"{a}.main" for a, schema in self.main_schemas().items() if f"{a}.{schema}" in found
        ]
        return [*found, *(main for main in mains if main not in found)]

    def attach(self, alias: str, other: Engine) -> list[tuple[str, str, str]] | None:
        """``ATTACH 'file' AS alias (READ_ONLY)`` of another DuckDB file connection: its tables
        are read in place. Nothing to attach (``[]``) while that file does not exist."""
        import duckdb

        if not isinstance(other, DuckDBEngine) or other.path.startswith((":memory:", "md:")):
            return None
        if not Path(other.path).exists():
            return []
        cursor = self.connection.cursor()
        try:
            cursor.execute(
                f"ATTACH IF NOT EXISTS {_literal(other.path)} AS {_ident(alias)} (READ_ONLY)"
            )
            rows = cursor.execute(
                "SELECT table_schema, table_name, table_type FROM information_schema.tables "
                f"WHERE table_catalog = {_literal(alias)}"
            ).fetchall()
        except duckdb.Error as exc:
            raise InterlaceConnectionError(
                f"connection '{self.name}': cannot read connection '{other.name}' "
                f"({other.path}): {str(exc).splitlines()[0]}",
                hint="another process (or another connection of this one) has that file open "
                "for writing; stop it and retry",
            ) from None
        finally:
            cursor.close()
        return [
            (schema, name, "view" if kind == "VIEW" else "table") for schema, name, kind in rows
        ]

    def detach(self, alias: str) -> None:
        with self._lock:
            connection = self._connection
        if connection is None:
            return
        try:
            connection.execute(f"DETACH DATABASE IF EXISTS {_ident(alias)}")
        except Exception:
            pass  # closing the connection detaches it too

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
