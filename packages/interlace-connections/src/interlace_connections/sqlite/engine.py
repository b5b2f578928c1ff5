"""SQLite: transactions (DDL included) and its own catalog, on top of the generic ibis engine.

Each running model gets its own ``sqlite3`` connection in autocommit mode; a stage-and-publish
runs between explicit ``BEGIN``/``COMMIT``, so it is atomic. SQLite has one schema, ``main``
(plus ``temp``): models use ``schema: main`` (the default), and Python models kept only for a
run (``ephemeral``/``none``), which need a schema of their own, are not supported here.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.engines.base import Capabilities, Column
from interlace.errors import InterlaceConnectionError, ModelExecutionError
from sqlglot import exp

from interlace_connections.ibis.engine import (
    IbisEngine,
    IbisSession,
    delete_using_as_exists,
    ibis_backend_module,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from interlace_connections.sqlite.config import SQLiteConnectionConfig


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class SQLiteSession(IbisSession):
    autocommit = True

    def _adapt(self, statement: exp.Expr | str) -> list[exp.Expr | str]:
        if isinstance(statement, (exp.Create, exp.Drop)) and (
            str(statement.args.get("kind") or "").upper() == "SCHEMA"
        ):
            raise ModelExecutionError(
                f"SQLite has no schemas (connection '{self.engine.name}')",
                hint="use schema main (the default) for models on SQLite; Python models kept "
                "only for a run (ephemeral/none) need a schema and cannot run on SQLite",
            )
        return super()._adapt(delete_using_as_exists(statement))

    def _raw(self, sql: str) -> Any:
        return self.backend.con.execute(sql)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        con = self.backend.con
        if con.in_transaction:  # nested: part of the enclosing one
            yield
            return
        con.execute("BEGIN")
        try:
            yield
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except Exception:
                pass
            raise
        con.execute("COMMIT")

    def relation_kind(self, schema: str, name: str) -> str | None:
        row = self.backend.con.execute(
            f"SELECT type FROM {_quote(schema)}.sqlite_master "
            f"WHERE name = {_literal(name)} AND type IN ('table', 'view')"
        ).fetchone()
        return None if row is None else str(row[0])

    def describe(self, schema: str, name: str) -> list[Column]:
        # no schema: found as a query would find it (this connection's temporary tables first)
        where = f", {_literal(schema)}" if schema else ""
        rows = self.backend.con.execute(
            f"SELECT name, type FROM pragma_table_info({_literal(name)}{where})"
        ).fetchall()
        # a column without a declared type (CTAS of a plain literal) has BLOB affinity
        return [Column(r[0], (r[1] or "BLOB").upper()) for r in rows]

    def interrupt(self) -> None:
        backend = self.backend
        if backend is not None:
            backend.con.interrupt()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SQLiteEngine(IbisEngine):
    session_class = SQLiteSession

    def __init__(self, name: str, config: SQLiteConnectionConfig, root: Path) -> None:
        super().__init__(name, config, root, "sqlite", "sqlite")
        self.path = config.path
        if self.path != ":memory:":
            file = Path(self.path).expanduser()
            self.path = str(file if file.is_absolute() else root / file)
        if self.path == ":memory:":
            # every session would see its own empty database: share one in-memory database
            self.path = f"file:interlace_{name}_{id(self)}?mode=memory&cache=shared"
        self._keep: Any = None  # holds a shared in-memory database open

    def default_capabilities(self) -> Capabilities:
        return Capabilities(
            merge=False,  # SQLite has UPSERT, not MERGE: DELETE + INSERT
            create_or_replace=False,
            publish="transaction",
            rename_table=True,
            arrow_scan=False,
            full_join=sqlite3.sqlite_version_info >= (3, 39),
        )

    @property
    def exists(self) -> bool:
        return self.path.startswith("file:") or Path(self.path).exists()

    def connect(self) -> Any:
        import sqlite3

        backend = ibis_backend_module("sqlite", self.name)
        uri = self.path.startswith("file:")
        read_only = self.config.access == "read"
        target = self.path
        if not uri:
            if read_only:
                target, uri = f"file:{self.path}?mode=ro", True
            else:
                try:
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise InterlaceConnectionError(
                        f"{self.what}: cannot create folder {Path(self.path).parent}: "
                        f"{exc.strerror}",
                        hint="fix `path` of this connection",
                    ) from None
        try:
            con = sqlite3.connect(
                target,
                uri=uri,
                isolation_level=None,  # autocommit; transaction() says BEGIN/COMMIT itself
                check_same_thread=False,  # opened by the scheduler, used in a worker thread
                timeout=self.config.busy_timeout,
            )
        except sqlite3.Error as exc:
            raise InterlaceConnectionError(
                f"{self.what}: cannot open SQLite database {self.path}: {exc}",
                hint="check `path` of this connection",
            ) from None
        if self.path.startswith("file:") and self._keep is None:
            self._keep = sqlite3.connect(self.path, uri=True, check_same_thread=False)
        return backend.from_connection(con)

    def target(self) -> str:
        return self.path

    def list_relations(self, like: str) -> Iterator[tuple[str, str, str]]:
        session = self.session()
        try:
            rows = session.backend.con.execute(
                "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
                f"AND name LIKE {_literal(like)} ESCAPE '\\'"
            ).fetchall()
        finally:
            session.close()
        for name, kind in rows:
            yield "main", name, kind

    def list_schemas(self) -> list[str]:
        return ["main", "temp"]

    def ping(self) -> None:
        if self.exists:
            super().ping()
            return
        # do not create the file just to look at it: check that it could be created
        folder = Path(self.path).parent
        while not folder.exists():
            folder = folder.parent
        if not os.access(folder, os.W_OK) or self.config.access == "read":
            raise InterlaceConnectionError(
                f"{self.what}: SQLite database {self.path} does not exist"
                + ("" if self.config.access == "read" else f" and {folder} is not writable"),
                hint="fix `path` of this connection (a read-only database must exist)",
            )

    def close(self) -> None:
        super().close()
        keep, self._keep = self._keep, None
        if keep is not None:
            keep.close()
