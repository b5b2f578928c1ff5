"""MySQL / MariaDB: catalog queries and transactions on top of the generic ibis engine.

A model's schema is a MySQL database (``CREATE SCHEMA`` creates one); the default schema,
``main``, is the connection's own ``database``. MySQL commits DDL implicitly, so a model's result
is staged first and published in a transaction of its own: ``merge_by_key`` and ``append``
publish atomically, and a ``replace`` swaps the staged table in with one ``RENAME TABLE``.
Where MySQL differs from the other engines in what it keeps (case-insensitive comparisons,
whole-second ``DATETIME``, ``NOT NULL`` columns from ``CREATE TABLE ... AS``), statements are
adapted so a table holds the same values as on DuckDB or PostgreSQL.
"""

from __future__ import annotations

import functools
import hashlib
import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlglot
from interlace.engines.base import Capabilities, Column
from interlace.errors import InterlaceConnectionError, ModelExecutionError
from interlace.statements import rename_tables, renamed_tables
from sqlglot import exp

from interlace_connections.ibis.engine import (
    IbisEngine,
    IbisSession,
    close_cursor,
    delete_using_as_exists,
    ibis_backend_module,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    from interlace.locks import LockWait

    from interlace_connections.mysql.config import MySQLConnectionConfig

_SYSTEM = ("information_schema", "mysql", "performance_schema", "sys")
# core's name for the default schema (`models.default_schema`): on MySQL, where a schema is a
# database, it names the connection's own database
DEFAULT_SCHEMA = "main"


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


_DISPLAY_WIDTH = re.compile(r"^(TINYINT|SMALLINT|MEDIUMINT|INT|INTEGER|BIGINT)\(\d+\)")


def in_databases(statement: exp.Expr, database_of: Callable[[str], str]) -> exp.Expr:
    """``statement`` with its model schemas as the MySQL databases they are: ``main.t`` becomes
    ``<the connection's database>.t``, and ``ALTER TABLE d.s RENAME t`` renames to ``d.t``
    (MySQL would move an unqualified new name into the connection's database)."""

    def in_default(table: exp.Table) -> bool:
        return table.db == DEFAULT_SCHEMA and not table.catalog

    pairs = renamed_tables(statement, "mysql")  # RENAME TABLE a TO b, c TO d (a swap)
    if pairs is not None:
        for table in (t for pair in pairs for t in pair):
            if in_default(table):
                table.set("db", exp.to_identifier(database_of(DEFAULT_SCHEMA), quoted=True))
        return rename_tables(pairs, "mysql")

    renames = isinstance(statement, exp.Alter) and any(statement.find_all(exp.AlterRename))
    if not renames and not any(in_default(t) for t in statement.find_all(exp.Table)):
        return statement
    statement = statement.copy()
    for table in statement.find_all(exp.Table):
        if in_default(table):
            table.set("db", exp.to_identifier(database_of(DEFAULT_SCHEMA), quoted=True))
    if isinstance(statement, exp.Alter) and isinstance(statement.this, exp.Table):
        database = statement.this.args.get("db")
        for rename in statement.find_all(exp.AlterRename):
            target = rename.this
            if database is None or (isinstance(target, exp.Table) and target.db):
                continue
            if isinstance(target, exp.Identifier):
                target = exp.Table(this=target.copy())
                rename.set("this", target)
            target.set("db", database.copy())
    return statement


def _type(declared: Any) -> str:
    """A column type as SQL spells it: ``bigint(20) unsigned`` -> ``BIGINT UNSIGNED`` (the
    display width is no part of the type, and a CAST refuses it)."""
    return _DISPLAY_WIDTH.sub(r"\1", str(declared).upper())


_T = exp.DataType.Type
# instant types MySQL keeps to the second unless told a precision, and their microsecond form
MICROSECONDS = {
    **dict.fromkeys((_T.TIMESTAMP, _T.TIMESTAMPNTZ, _T.DATETIME), "DATETIME(6)"),
    **dict.fromkeys((_T.TIMESTAMPTZ, _T.TIMESTAMPLTZ), "TIMESTAMP(6)"),
}


def _exact(node: exp.Expr) -> exp.Expr:
    """What MySQL needs to keep values exactly as other engines do: ``IS DISTINCT FROM`` of
    the bytes (the default collations compare text without case or accents, so ``'b'`` to
    ``'B'`` would be no change, and never be written), and instants to the microsecond (a bare
    ``DATETIME`` keeps whole seconds)."""
    if isinstance(node, exp.NullSafeNEQ):
        return exp.NullSafeNEQ(
            this=exp.cast(node.this, "BINARY"), expression=exp.cast(node.expression, "BINARY")
        )
    if isinstance(node, exp.DataType) and node.this in MICROSECONDS and not node.expressions:
        return exp.DataType.build(MICROSECONDS[node.this], dialect="mysql")
    return node


class MySQLSession(IbisSession):
    autocommit = True
    placeholder = "%s"

    engine: MySQLEngine

    def _adapt(self, statement: exp.Expr | str) -> list[exp.Expr | str]:
        if not isinstance(statement, str):
            statement = in_databases(statement, self.engine.database_of)
        statement = delete_using_as_exists(statement)
        if not isinstance(statement, str) and any(
            statement.find_all(exp.NullSafeNEQ, exp.DataType)
        ):
            statement = statement.transform(_exact)
        if isinstance(statement, exp.Drop) and statement.args.get("cascade"):
            # DROP SCHEMA (a database) takes its tables with it; MySQL has no CASCADE
            statement = statement.copy()
            statement.set("cascade", False)
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

    def _run(self, statement: exp.Expr | str) -> Any:
        cursor = super()._run(statement)
        if (
            isinstance(statement, exp.Create)
            and statement.kind == "TABLE"
            and statement.expression is not None
            and isinstance(statement.this, exp.Table)
            and not any(statement.find_all(exp.TemporaryProperty))  # not information_schema's
        ):
            self._allow_nulls(statement.this)
        return cursor

    def _allow_nulls(self, table: exp.Table) -> None:
        """MySQL makes a column that ``CREATE TABLE ... AS`` fills from a literal or a key
        ``NOT NULL``; other engines leave every column nullable, and a later NULL for it (a
        soft delete, a new row of an SCD2 table) must be written, not refused."""
        database = self.engine.database_of(table.db or DEFAULT_SCHEMA)
        rows = self.fetch_all(
            "SELECT column_name, column_type FROM information_schema.columns "
            f"WHERE table_schema = {_literal(database)} AND table_name = {_literal(table.name)} "
            "AND is_nullable = 'NO'"
        )
        if rows:
            changes = ", ".join(f"MODIFY {_quote(str(n))} {t} NULL" for n, t in rows)
            close_cursor(
                super()._run(f"ALTER TABLE {_quote(database)}.{_quote(table.name)} {changes}")
            )

    def _raw(self, sql: str) -> Any:
        cursor = self.backend.con.cursor()
        try:
            cursor.execute(sql)
            if cursor.description is None:
                # several statements in one string (a migration): the driver reports a later
                # statement's failure only when its result is asked for, so ask for each
                while cursor.nextset():
                    pass
        except BaseException:
            cursor.close()
            raise
        return cursor

    @contextmanager
    def target_lock(self, schema: str, name: str, wait: LockWait) -> Iterator[None]:
        """A named lock (``GET_LOCK``) on the table's database and name: named locks are
        server-wide, so another process writing that table waits; the server releases it
        when this session ends."""
        database = self.engine.database_of(schema)
        digest = hashlib.blake2b(f"{database}\0{name}".encode(), digest_size=16).hexdigest()
        key = f"interlace:{digest}"  # named locks are at most 64 characters

        def one(sql: str) -> Any:
            cursor = self._raw(sql)
            try:
                row = cursor.fetchone()
            finally:
                cursor.close()
            return row[0] if row else None

        def try_lock() -> bool:
            return bool(one(f"SELECT GET_LOCK({_literal(key)}, 0)") == 1)

        def holder() -> str:
            thread = one(f"SELECT IS_USED_LOCK({_literal(key)})")
            if thread is None:
                return "another session"
            where = one(
                "SELECT CONCAT(user, '@', host) FROM information_schema.processlist "
                f"WHERE id = {int(thread)}"
            )
            return f"server connection {thread}" + (f" ({where})" if where else "")

        wait.poll(f"table {database}.{name}", try_lock, holder)
        try:
            yield
        finally:
            try:
                one(f"SELECT RELEASE_LOCK({_literal(key)})")
            except Exception:
                pass  # the connection broke: the server released the lock with it

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
        schema = self.engine.database_of(schema)
        rows = self.fetch_all(
            "SELECT table_type FROM information_schema.tables "
            f"WHERE table_schema = {_literal(schema)} AND table_name = {_literal(name)}"
        )
        if not rows:
            return None
        return "view" if rows[0][0] == "VIEW" else "table"

    def describe(self, schema: str, name: str) -> list[Column]:
        schema = self.engine.database_of(schema)
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

    def content_hash(self, table: exp.Table, columns: Sequence[Column] | None = None) -> str | None:
        """Row count plus the sum of each row's 64-bit MD5 prefix (order-insensitive), and the
        column types: an unchanged rebuild leaves its readers alone, as on other engines."""
        if columns is None:
            columns = self.describe_relation(table)
        if not columns:
            return None

        def text(name: str) -> str:  # a value as text, its length first; NULL apart
            value = f"CAST({_quote(name)} AS CHAR)"
            return f"IFNULL(CONCAT(CHAR_LENGTH({value}), ':', {value}), '-')"

        row_text = ", ".join(text(c.name) for c in columns)
        digest = f"CONV(SUBSTR(MD5(CONCAT_WS('|', {row_text})), 1, 16), 16, 10)"
        row = self.fetch_one(
            f"SELECT COUNT(*), COALESCE(SUM(CAST({digest} AS DECIMAL(20, 0))), 0) "
            f"FROM {self.render(in_databases(table, self.engine.database_of))}"
        )
        payload = repr(
            ((row[0], str(row[1])) if row else None, [(c.name, c.type) for c in columns])
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

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
            publish="rename_swap",  # DDL commits implicitly: RENAME TABLE swaps atomically
            rename_table=True,
            arrow_scan=False,
            full_join=False,
        )

    @property
    def lock_scope(self) -> str:
        return f"mysql:{self.target()}"

    def target(self) -> str:
        cfg = self.config
        who = f" as {cfg.user}" if cfg.user else ""
        return f"{cfg.host}:{cfg.port}/{cfg.database or ''}{who}"

    @property
    def database(self) -> str | None:
        """The connection's database (``database``, or ``db`` among ``options``)."""
        kwargs = self.config.connect_kwargs()
        value = kwargs.get("database") or kwargs.get("db")
        return str(value) if value else None

    def database_of(self, schema: str) -> str:
        """The MySQL database a model schema names: itself, or for the default schema (``main``)
        the connection's database."""
        if schema != DEFAULT_SCHEMA:
            return schema
        database = self.database
        if database is None:
            raise ModelExecutionError(
                f"{self.what} has no `database`: models in the default schema ({DEFAULT_SCHEMA}) "
                "live in the connection's database on MySQL",
                hint="set `database` of this connection, or give the models a schema of their "
                "own (models.default_schema, or schema= per model): on MySQL it is a database",
            )
        return database

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
        connected = _quiet(backend).from_connection(con)
        connected.database_of = self.database_of
        return connected

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
        database = self.database
        for schema, name, kind in rows:
            relation = "view" if kind == "VIEW" else "table"
            yield str(schema), str(name), relation
            if str(schema) == database:  # also under the name models of the default schema use
                yield DEFAULT_SCHEMA, str(name), relation

    def list_schemas(self) -> list[str]:
        session = self.session()
        try:
            rows = session.fetch_all("SELECT schema_name FROM information_schema.schemata")
        finally:
            session.close()
        found = [str(r[0]) for r in rows if str(r[0]) not in _SYSTEM]
        return [*found, DEFAULT_SCHEMA] if self.database in found else found


@functools.cache
def _quiet(backend: Any) -> Any:
    """ibis' MySQL backend that reads model schemas as MySQL databases, without its ``SET
    time_zone = 'UTC'`` (refused, with a warning, by servers without time zone tables;
    :meth:`MySQLEngine.connect` sets ``+00:00`` instead)."""

    class InterlaceMySQLBackend(backend):  # type: ignore[misc, valid-type]
        # model schemas as MySQL databases (MySQLEngine.database_of): Python models read
        # `main.t` as a table of the connection's database
        database_of: Callable[[str], str] = staticmethod(lambda schema: schema)

        def _post_connect(self) -> None:
            pass

        def table(self, name: str, /, *, database: Any = None) -> Any:
            if isinstance(database, str):
                database = self.database_of(database)
            return super().table(name, database=database)

        def sql(self, query: str, /, *, schema: Any = None, dialect: str | None = None) -> Any:
            try:
                parsed = sqlglot.parse_one(query, read=dialect or "mysql")
            except sqlglot.errors.ParseError:  # as written: the server says what is wrong
                return super().sql(query, schema=schema, dialect=dialect)
            mapped = in_databases(parsed, self.database_of)
            if mapped is not parsed:
                query = mapped.sql(dialect=dialect or "mysql")
            return super().sql(query, schema=schema, dialect=dialect)

    return InterlaceMySQLBackend


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(_literal(v) for v in values) + ")"
