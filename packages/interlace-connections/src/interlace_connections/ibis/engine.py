"""Any ibis backend as a model engine: SQL runs on the backend's own DB-API connection, Python
models get the ibis backend itself.

Core's strategies build sqlglot ASTs; :class:`IbisSession` renders them in the connection's
dialect and runs them. What differs between databases lives in subclasses (one folder per
backend: :mod:`interlace_connections.sqlite`, :mod:`interlace_connections.mysql`); this module
holds what every ibis backend can do through ibis' own API:

- tables and columns are read with ``list_tables`` / ``get_schema`` (column types in the
  backend's SQL spelling, so schema modes compare like with like);
- in-memory results (Arrow, pandas, polars, batches) are loaded with ``create_table``;
- ``CREATE OR REPLACE TABLE`` becomes ``DROP`` + ``CREATE`` where the backend lacks it;
- there are no transactions unless a subclass has them: writes then are not atomic.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from interlace.engines.base import Capabilities, Column, Engine, Session, drop_and_create
from interlace.errors import InterlaceConnectionError
from sqlglot import exp

from interlace_connections.arrow_batches import as_batches

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pyarrow as pa

ROWS_PER_FETCH = 50_000
ROWS_PER_INSERT = 10_000

# backends whose SQL has MERGE / CREATE OR REPLACE TABLE (the rest degrade)
_MERGE = frozenset({"snowflake", "bigquery", "databricks", "mssql", "oracle", "trino"})
_CREATE_OR_REPLACE = frozenset({"snowflake", "bigquery", "databricks", "duckdb", "pyspark"})


def install_hint(backend: str) -> str:
    """What to install for an ibis backend whose driver is missing."""
    if backend in ("mysql", "sqlite"):
        return f"pip install 'interlace-connections[{backend}]'"
    return f"pip install 'ibis-framework[{backend}]'"


def ibis_backend_module(backend: str, connection: str) -> Any:
    """``ibis.<backend>``, or an error naming what to install when its driver is missing."""
    import importlib

    try:
        return importlib.import_module(f"ibis.backends.{backend}").Backend
    except ModuleNotFoundError as exc:
        missing = exc.name or str(exc)
        if missing.startswith(f"ibis.backends.{backend}"):
            raise InterlaceConnectionError(
                f"connection '{connection}': ibis has no backend called '{backend}'",
                hint="use an ibis backend name (trino, snowflake, bigquery, pyspark, mssql, ...)",
            ) from None
        raise InterlaceConnectionError(
            f"connection '{connection}': the {backend} driver is not installed "
            f"(module '{missing}' is missing)",
            hint=install_hint(backend),
        ) from None


# the DB-API driver each ibis backend talks through (its exceptions are the database's)
_DRIVER_MODULES = {
    "postgres": "psycopg",
    "mysql": "MySQLdb",
    "sqlite": "sqlite3",
    "duckdb": "duckdb",
    "trino": "trino",
    "snowflake": "snowflake",
    "bigquery": "google",
    "pyspark": "pyspark",
    "datafusion": "datafusion",
    "mssql": "pyodbc",
    "oracle": "oracledb",
    "clickhouse": "clickhouse_connect",
}


class IbisSession(Session):
    """One task's connection: an ibis backend and the raw connection under it."""

    def __init__(self, engine: IbisEngine, backend: Any) -> None:
        self.engine = engine
        self.backend: Any = backend
        self.dialect = engine.dialect

    # -- running statements
    @property
    def cursor(self) -> Any:
        """The raw DB-API connection a model's ``context.connection`` gives."""
        return self.backend.con

    def _adapt(self, statement: exp.Expr | str) -> list[exp.Expr | str]:
        """The statements this backend runs for ``statement`` (most need no change)."""
        if self.engine.capabilities.create_or_replace:
            return [statement]
        return drop_and_create(statement)

    def render(self, statement: exp.Expr | str) -> str:
        return statement if isinstance(statement, str) else statement.sql(dialect=self.dialect)

    def _raw(self, sql: str) -> Any:
        """Run one SQL string; returns a DB-API cursor (closed by the caller). Without
        transactions of our own, a statement that returns no rows is committed at once (a
        DB-API driver may have opened a transaction implicitly)."""
        cursor = self.backend.raw_sql(sql)
        if getattr(cursor, "description", None) is None:
            commit = getattr(getattr(self.backend, "con", None), "commit", None)
            if commit is not None:
                commit()
        return cursor

    def _run(self, statement: exp.Expr | str) -> Any:
        parts = self._adapt(statement)
        for part in parts[:-1]:
            close_cursor(self._raw(self.render(part)))
        return self._raw(self.render(parts[-1]))

    def execute(self, statement: exp.Expr | str) -> None:
        close_cursor(self._run(statement))

    def fetch_one(self, statement: exp.Expr | str) -> tuple[Any, ...] | None:
        cursor = self._run(statement)
        try:
            if getattr(cursor, "description", None) is None:  # DML/DDL: rows affected
                count = getattr(cursor, "rowcount", -1)
                return (count,) if isinstance(count, int) and count >= 0 else None
            row = cursor.fetchone()
            return tuple(row) if row is not None else None
        finally:
            close_cursor(cursor)

    def fetch_all(self, statement: exp.Expr | str) -> list[tuple[Any, ...]]:
        cursor = self._run(statement)
        try:
            if getattr(cursor, "description", None) is None:
                return []
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            close_cursor(cursor)

    def fetch_arrow(self, statement: exp.Expr | str) -> pa.Table:
        import pyarrow as pa

        cursor = self._run(statement)
        try:
            if getattr(cursor, "description", None) is None:
                return pa.table({})
            names = [d[0] for d in cursor.description]
            parts = []
            while rows := cursor.fetchmany(ROWS_PER_FETCH):
                columns = list(zip(*rows, strict=True))
                parts.append(pa.table([_array(list(c)) for c in columns], names=names))
            if not parts:
                parts.append(pa.table([pa.array([], pa.null()) for _ in names], names=names))
        finally:
            close_cursor(cursor)
        return pa.concat_tables(parts, promote_options="permissive").combine_chunks()

    # -- in-memory data
    placeholder = "?"  # the DB-API paramstyle of the driver ("%s" for MySQL)
    autocommit = False  # the raw connection commits each statement itself (SQLite, MySQL here)

    def register(self, name: str, data: Any) -> None:
        """Load Arrow-compatible data into a (TEMP where possible) table ``name``, one batch
        of rows at a time with ``executemany``.

        (Not ibis' ``create_table``: ibis 12 builds its DROP statements in a form sqlglot 30
        renders without a table name.)
        """
        import ibis

        schema, batches = as_batches(data, ROWS_PER_INSERT)
        mapper = self.backend.compiler.type_mapper
        target = exp.to_table(name)
        columns = [
            exp.ColumnDef(
                this=exp.to_identifier(field.name, quoted=True),
                kind=mapper.from_ibis(ibis.dtype(field.type)),
            )
            for field in schema
        ]
        self.unregister(name)
        create = exp.Create(
            this=exp.Schema(this=target, expressions=columns),
            kind="TABLE",
            properties=exp.Properties(expressions=[exp.TemporaryProperty()])
            if self.engine.temp_tables
            else None,
        )
        self.execute(create)
        if not columns:
            return
        insert = (
            f"INSERT INTO {target.sql(dialect=self.dialect)} VALUES "
            f"({', '.join([self.placeholder] * len(columns))})"
        )
        cursor = self.backend.con.cursor()
        try:
            for batch in batches:
                if batch.num_rows:
                    rows = zip(*(column.to_pylist() for column in batch.columns), strict=True)
                    cursor.executemany(insert, list(rows))
        finally:
            close_cursor(cursor)
        if not self.autocommit:
            self.backend.con.commit()

    def unregister(self, name: str) -> None:
        try:
            self.execute(exp.Drop(tables=[exp.to_table(name)], kind="TABLE", exists=True))
        except Exception:
            pass  # never created

    # -- transactions
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """No transactions through generic ibis: statements apply one by one."""
        yield

    # -- catalog
    def relation_kind(self, schema: str, name: str) -> str | None:
        try:
            tables = self.backend.list_tables(database=schema)
        except Exception:
            return None
        return "table" if name in tables else None

    def describe(self, schema: str, name: str) -> list[Column]:
        try:
            found = self.backend.get_schema(name, database=schema or None)
        except Exception:
            return []
        mapper = self.backend.compiler.type_mapper
        return [
            Column(column, mapper.from_ibis(dtype).sql(dialect=self.dialect).upper())
            for column, dtype in found.items()
        ]

    # -- lifecycle
    def interrupt(self) -> None:
        """Best effort: generic ibis backends cannot cancel a running statement."""

    def close(self) -> None:
        backend, self.backend = self.backend, None
        self.engine.forget(self)
        if backend is not None:
            try:
                backend.disconnect()
            except Exception:
                pass

    def ibis(self) -> Any:
        return self.backend


class IbisEngine(Engine):
    """A database reached through an ibis backend; one connection per running model."""

    session_class: type[IbisSession] = IbisSession
    temp_tables = True  # register() creates TEMP tables (visible to the session only)
    driver_modules: ClassVar[tuple[str, ...]] = ("ibis",)

    def __init__(self, name: str, config: Any, root: Path, backend: str, dialect: str) -> None:
        self.name = name
        self.config = config
        self.root = root
        self.backend_name = backend
        self.dialect = dialect
        self.capabilities = self.default_capabilities()
        self._lock = threading.Lock()
        self._sessions: set[IbisSession] = set()

    def default_capabilities(self) -> Capabilities:
        return Capabilities(
            merge=self.backend_name in _MERGE,
            prefer_merge=self.backend_name in _MERGE,
            create_or_replace=self.backend_name in _CREATE_OR_REPLACE,
            publish="none",
            rename_table=True,
            arrow_scan=False,
        )

    def raised_by_driver(self, exc: BaseException) -> bool:
        """ibis's own errors, and those of the DB-API driver under this backend."""
        driver = _DRIVER_MODULES.get(self.backend_name)
        return super().raised_by_driver(exc) or (
            driver is not None and type(exc).__module__.split(".", 1)[0] == driver
        )

    @property
    def what(self) -> str:
        return f"connection '{self.name}'"

    def connect(self) -> Any:
        """A new ibis backend connected with the connection's settings."""
        module = ibis_backend_module(self.backend_name, self.name)
        kwargs = self.config.connect_kwargs()
        if getattr(self.config, "path", None):
            kwargs.setdefault("path", self.config.path)
        try:
            return module().connect(**kwargs)
        except InterlaceConnectionError:
            raise
        except Exception as exc:
            raise self.connect_error(exc) from None

    def connect_error(self, exc: BaseException) -> InterlaceConnectionError:
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
        password = getattr(self.config, "password", None)
        if password:
            reason = reason.replace(password, "****")
        return InterlaceConnectionError(
            f"{self.what}: cannot connect to {self.backend_name} at {self.target()}: {reason}",
            hint="check the connection's host, port, database, user and password",
        )

    def target(self) -> str:
        cfg = self.config
        host = getattr(cfg, "host", None)
        where = f"{host}:{cfg.port}" if host and getattr(cfg, "port", None) else host or ""
        database = getattr(cfg, "database", None)
        return f"{where}/{database}" if database else where or self.backend_name

    def session(self) -> IbisSession:
        session = self.session_class(self, self.connect())
        with self._lock:
            self._sessions.add(session)
        return session

    def forget(self, session: IbisSession) -> None:
        with self._lock:
            self._sessions.discard(session)

    def list_relations(self, like: str) -> Iterator[tuple[str, str, str]]:
        import fnmatch

        pattern = like.replace("\\_", "\0").replace("%", "*").replace("_", "?")
        pattern = pattern.replace("\0", "_")
        session = self.session()
        try:
            backend = session.backend
            database = getattr(backend, "current_database", None)
            for name in backend.list_tables():
                if fnmatch.fnmatchcase(name, pattern):
                    yield str(database or ""), name, "table"
        finally:
            session.close()

    def list_schemas(self) -> list[str]:
        session = self.session()
        try:
            backend = session.backend
            found = list(backend.list_databases()) if hasattr(backend, "list_databases") else []
            current = getattr(backend, "current_database", None)
            return [*found, *([current] if current and current not in found else [])]
        except Exception:
            return []
        finally:
            session.close()

    def ping(self) -> None:
        session = self.session()
        try:
            session.fetch_all("SELECT 1")
        finally:
            session.close()

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions), set()
        for session in sessions:
            session.close()


def delete_using_as_exists(statement: exp.Expr | str) -> exp.Expr | str:
    """``DELETE FROM t AS a USING s AS b WHERE c`` as ``DELETE FROM t AS a WHERE EXISTS
    (SELECT 1 FROM s AS b WHERE c)``, for databases without ``DELETE ... USING``."""
    if not isinstance(statement, exp.Delete) or not statement.args.get("using"):
        return statement
    statement = statement.copy()
    sources = statement.args["using"]
    where = statement.args.get("where")
    query = exp.select(exp.Literal.number(1)).from_(sources[0])
    for other in sources[1:]:
        query = query.join(other, join_type="cross")
    if where is not None:
        query = query.where(where.this)
    statement.set("using", None)
    statement.set("where", exp.Where(this=exp.Exists(this=query)))
    return statement


def close_cursor(cursor: Any) -> None:
    close = getattr(cursor, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            pass


def _array(values: list[Any]) -> pa.Array:
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
