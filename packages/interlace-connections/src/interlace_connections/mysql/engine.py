"""MySQL / MariaDB: catalog queries and transactions on top of the generic ibis engine.

A model's schema is a MySQL database (``CREATE SCHEMA`` creates one). MySQL commits DDL
implicitly, so a model's result is staged first and published in a transaction of its own:
``merge_by_key`` and ``append`` publish atomically; a ``replace`` swap (DROP + RENAME) does not.
"""

from __future__ import annotations

import functools
import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from interlace.engines.base import Capabilities, Column
from interlace.errors import InterlaceConnectionError
from sqlglot import exp

from interlace_connections.ibis.engine import (
    IbisEngine,
    IbisSession,
    delete_using_as_exists,
    ibis_backend_module,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from interlace_connections.mysql.config import MySQLConnectionConfig

_SYSTEM = ("information_schema", "mysql", "performance_schema", "sys")


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


_DISPLAY_WIDTH = re.compile(r"^(TINYINT|SMALLINT|MEDIUMINT|INT|INTEGER|BIGINT)\(\d+\)")


def _type(declared: Any) -> str:
    """A column type as SQL spells it: ``bigint(20) unsigned`` -> ``BIGINT UNSIGNED`` (the
    display width is no part of the type, and a CAST refuses it)."""
    return _DISPLAY_WIDTH.sub(r"\1", str(declared).upper())


class MySQLSession(IbisSession):
    autocommit = True
    placeholder = "%s"

    def _adapt(self, statement: exp.Expr | str) -> list[exp.Expr | str]:
        statement = delete_using_as_exists(statement)
        if isinstance(statement, exp.Update) and statement.args.get("from_"):
            # rendered as `UPDATE t AS a JOIN s ON TRUE SET ...`: unqualified SET targets would
            # be ambiguous between the two tables
            statement = statement.copy()
            alias = statement.this.alias_or_name
            for assignment in statement.expressions:
                target = assignment.this
                if isinstance(target, exp.Column) and not target.table:
                    target.set("table", exp.to_identifier(alias))
        # `DELETE FROM t AS a ...` is MySQL 8.0.16+ only: name the alias (`DELETE a FROM t AS a`),
        # which MySQL and MariaDB both accept
        if (
            isinstance(statement, exp.Delete)
            and isinstance(statement.this, exp.Table)
            and statement.this.alias
            and not statement.args.get("tables")
        ):
            statement = statement.copy()
            alias = statement.this.args["alias"].this.copy()
            statement.set("tables", [exp.Table(this=alias)])
        return super()._adapt(statement)

    def _raw(self, sql: str) -> Any:
        cursor = self.backend.con.cursor()
        try:
            cursor.execute(sql)
        except BaseException:
            cursor.close()
            raise
        return cursor

    @contextmanager
    def transaction(self) -> Iterator[None]:
        con = self.backend.con
        if getattr(self, "_in_transaction", False):
            yield
            return
        self._in_transaction = True
        con.begin()
        try:
            yield
        except BaseException:
            try:
                con.rollback()
            except Exception:
                pass
            raise
        finally:
            self._in_transaction = False
        con.commit()

    def relation_kind(self, schema: str, name: str) -> str | None:
        rows = self.fetch_all(
            "SELECT table_type FROM information_schema.tables "
            f"WHERE table_schema = {_literal(schema)} AND table_name = {_literal(name)}"
        )
        if not rows:
            return None
        return "view" if rows[0][0] == "VIEW" else "table"

    def describe(self, schema: str, name: str) -> list[Column]:
        rows = self.fetch_all(
            "SELECT column_name, column_type FROM information_schema.columns "
            f"WHERE table_schema = {_literal(schema)} AND table_name = {_literal(name)} "
            "ORDER BY ordinal_position"
        )
        return [Column(str(r[0]), _type(r[1])) for r in rows]

    def describe_relation(self, table: exp.Table) -> list[Column]:
        """Columns of ``table``; an unqualified name may be this session's temporary table,
        which information_schema does not list."""
        if table.db:
            return self.describe(table.db, table.name)
        try:
            rows = self.fetch_all(f"SHOW COLUMNS FROM {table.sql(dialect=self.dialect)}")
        except Exception:
            return []
        return [Column(str(r[0]), _type(r[1])) for r in rows]

    def interrupt(self) -> None:
        """Kill the running statement from a second connection (``KILL QUERY``)."""
        backend = self.backend
        if backend is None:
            return
        try:
            thread_id = backend.con.thread_id()
            other = self.engine.connect()
            try:
                other.con.cursor().execute(f"KILL QUERY {int(thread_id)}")
            finally:
                other.disconnect()
        except Exception:
            pass


class MySQLEngine(IbisEngine):
    session_class = MySQLSession

    def __init__(self, name: str, config: MySQLConnectionConfig, root: Path) -> None:
        super().__init__(name, config, root, "mysql", "mysql")

    def default_capabilities(self) -> Capabilities:
        return Capabilities(
            merge=False,  # no MERGE: DELETE + INSERT
            create_or_replace=False,
            transactional_ddl=False,  # DDL commits implicitly
            rename_table=True,
            arrow_scan=False,
            full_join=False,
        )

    def target(self) -> str:
        cfg = self.config
        who = f" as {cfg.user}" if cfg.user else ""
        return f"{cfg.host}:{cfg.port}/{cfg.database or ''}{who}"

    def connect(self) -> Any:
        backend = ibis_backend_module("mysql", self.name)
        try:
            import MySQLdb
        except ModuleNotFoundError:  # pragma: no cover - ibis itself imports it first
            raise InterlaceConnectionError(
                f"{self.what}: the mysql driver is not installed",
                hint="pip install 'interlace-connections[mysql]'",
            ) from None
        try:
            con = MySQLdb.connect(autocommit=True, **self.config.connect_kwargs())
        except MySQLdb.Error as exc:
            raise self.connect_error(exc) from None
        cursor = con.cursor()
        try:
            # UTC by offset: servers without time zone tables (MariaDB's default) refuse 'UTC'
            cursor.execute("SET time_zone = '+00:00'")
            if self.config.access == "read":  # the server refuses every write of the session
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
        finally:
            cursor.close()
        return _quiet(backend).from_connection(con)

    def connect_error(self, exc: BaseException) -> InterlaceConnectionError:
        args: tuple[Any, ...] = tuple(exc.args)
        reason = str(args[1]) if len(args) > 1 else str(exc)
        lowered = reason.lower()
        hint = "check host, port, database, user and password of this connection"
        if "access denied" in lowered:
            hint = "check `user` and `password` of this connection"
        elif "unknown database" in lowered:
            hint = "check `database` of this connection, or create the database"
        elif "can't connect" in lowered or "timed out" in lowered or "lost connection" in lowered:
            hint = (
                "nothing answers there: check `host`/`port` and that the server is running "
                f"(`connect_timeout`, {self.config.connect_timeout:g}s, bounds the wait)"
            )
        return InterlaceConnectionError(
            f"{self.what}: cannot connect to MySQL at {self.target()}: {reason}", hint=hint
        )

    def list_relations(self, like: str) -> Iterator[tuple[str, str, str]]:
        session = self.session()
        try:
            rows = session.fetch_all(
                "SELECT table_schema, table_name, table_type FROM information_schema.tables "
                f"WHERE table_schema NOT IN {_in(_SYSTEM)} "
                f"AND table_name LIKE {_literal(like)}"
            )
        finally:
            session.close()
        for schema, name, kind in rows:
            yield str(schema), str(name), "view" if kind == "VIEW" else "table"

    def list_schemas(self) -> list[str]:
        session = self.session()
        try:
            rows = session.fetch_all("SELECT schema_name FROM information_schema.schemata")
        finally:
            session.close()
        return [str(r[0]) for r in rows if str(r[0]) not in _SYSTEM]


@functools.cache
def _quiet(backend: Any) -> Any:
    """ibis' MySQL backend without its ``SET time_zone = 'UTC'`` (refused, with a warning, by
    servers without time zone tables; :meth:`MySQLEngine.connect` sets ``+00:00`` instead)."""

    class InterlaceMySQLBackend(backend):  # type: ignore[misc, valid-type]
        def _post_connect(self) -> None:
            pass

    return InterlaceMySQLBackend


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(_literal(v) for v in values) + ")"
