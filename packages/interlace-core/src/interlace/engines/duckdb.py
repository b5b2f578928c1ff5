"""The built-in DuckDB engine: a file or in-memory database, one cursor per task."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.engines.base import Capabilities, Column, Engine, Session
from interlace.errors import InterlaceConnectionError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    import duckdb
    import pyarrow as pa
    from sqlglot import exp

    from interlace.config import DuckDBConnectionConfig


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
    return statement if isinstance(statement, str) else statement.sql(dialect="duckdb")


def _literal(value: str) -> str:
    # Inlined, not a bound `?` parameter: DuckDB's Python binding imports pandas (~1 s) the first
    # time it inspects parameters, which every run would pay for its catalog queries.
    return "'" + value.replace("'", "''") + "'"


class DuckDBSession(Session):
    dialect = "duckdb"

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self.cursor = cursor
        self._ibis: Any = None

    def execute(self, statement: exp.Expr | str) -> None:
        self.cursor.execute(_sql(statement))

    def fetch_one(self, statement: exp.Expr | str) -> tuple[Any, ...] | None:
        return self.cursor.execute(_sql(statement)).fetchone()

    def fetch_all(self, statement: exp.Expr | str) -> list[tuple[Any, ...]]:
        return self.cursor.execute(_sql(statement)).fetchall()

    def fetch_arrow(self, statement: exp.Expr | str) -> pa.Table:
        return self.cursor.execute(_sql(statement)).to_arrow_table()

    def register(self, name: str, data: Any) -> None:
        self.cursor.register(name, data)

    def unregister(self, name: str) -> None:
        self.cursor.unregister(name)

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
        row = self.cursor.execute(
            "SELECT table_type FROM information_schema.tables "
            "WHERE table_catalog = current_database() "
            f"AND table_schema = {_literal(schema)} AND table_name = {_literal(name)}"
        ).fetchone()
        if row is None:
            return None
        return "view" if row[0] == "VIEW" else "table"

    def describe(self, schema: str, name: str) -> list[Column]:
        target = f'"{schema.replace(chr(34), chr(34) * 2)}"."{name.replace(chr(34), chr(34) * 2)}"'
        try:
            rows = self.cursor.execute(f"DESCRIBE {target}").fetchall()
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

    def content_hash(self, table: exp.Table) -> str | None:
        import hashlib

        name = table.sql(dialect="duckdb")
        row = self.cursor.execute(
            f"SELECT count(*), sum(hash(__il_row)::HUGEINT) FROM {name} AS __il_row"
        ).fetchone()
        types = self.cursor.execute(f"DESCRIBE {name}").fetchall()
        digest = hashlib.sha256(repr((row, [(t[0], t[1]) for t in types])).encode())
        return digest.hexdigest()[:32]

    def interrupt(self) -> None:
        self.cursor.interrupt()

    def close(self) -> None:
        if self._ibis is not None:
            self._ibis = None
        self.cursor.close()

    def ibis(self) -> Any:
        if self._ibis is None:
            import ibis

            self._ibis = ibis.duckdb.from_connection(self.cursor)
        return self._ibis


class DuckDBEngine(Engine):
    """Embedded DuckDB. Parallel tasks use cursors of one shared database connection."""

    dialect = "duckdb"
    capabilities = Capabilities(
        merge=True,
        create_or_replace=True,
        transactional_ddl=True,
        rename_table=True,
        arrow_scan=True,
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
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._connection is None:
                self._connection = self._open()
            return self._connection

    def _open(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        settings: dict[str, Any] = {
            "autoinstall_known_extensions": False,
        }
        if self.config.threads:
            settings["threads"] = self.config.threads
        if self.config.memory_limit:
            settings["memory_limit"] = self.config.memory_limit
        settings.update(self.config.settings)
        if self.path != ":memory:" and not self.path.startswith(":memory:"):
            parent = Path(self.path).parent
            if not self.config.read_only:
                try:
                    parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise InterlaceConnectionError(
                        f"connection '{self.name}': cannot create folder {parent}: {exc.strerror}",
                        hint="fix `path` of this connection or the folder's permissions",
                    ) from None
        try:
            connection = duckdb.connect(self.path, read_only=self.config.read_only, config=settings)
            connection.execute("SET enable_progress_bar = false")  # cursors inherit it
            return connection
        except duckdb.Error as exc:
            message = str(exc).splitlines()[0]
            hint = "check `path` of this connection"
            if "option" in message.lower() or "setting" in message.lower():
                hint = "check `settings`, `threads` and `memory_limit` of this connection"
            if "lock" in message.lower():
                hint = "another process holds the database file open; stop it or use another file"
            raise InterlaceConnectionError(
                f"connection '{self.name}': cannot open DuckDB database {self.path}: {message}",
                hint=hint,
            ) from None

    def session(self) -> DuckDBSession:
        return DuckDBSession(self.connection.cursor())

    def list_relations(self, like: str) -> Iterator[tuple[str, str, str]]:
        rows = (
            self.connection.cursor()
            .execute(
                "SELECT table_schema, table_name, table_type FROM information_schema.tables "
                "WHERE table_catalog = current_database() "
                f"AND table_name LIKE {_literal(like)} ESCAPE '\\'"
            )
            .fetchall()
        )
        for schema, name, kind in rows:
            yield schema, name, "view" if kind == "VIEW" else "table"

    @property
    def exists(self) -> bool:
        """False while a file database has not been created yet."""
        return self.path.startswith(":memory:") or Path(self.path).exists()

    def ping(self) -> None:
        if self.exists:
            super().ping()
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
                "SELECT schema_name FROM information_schema.schemata "
                "WHERE catalog_name = current_database()"
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
