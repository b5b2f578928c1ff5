"""The MySQL/MariaDB test server (``INTERLACE_TEST_MYSQL_HOST``/``_PORT``/``_USER``/``_PASSWORD``,
default ``127.0.0.1:3306`` as root without a password). Tests that use it skip when it cannot
be reached, except in CI (``CI=true``), where they fail. Each test gets a fresh database,
dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import pytest
from interlace.testing import ProjectFolder
from interlace.testing.folder import Fetched
from interlace.testing.prerequisites import require

MYSQL = {
    "host": os.environ.get("INTERLACE_TEST_MYSQL_HOST", "127.0.0.1"),
    "port": int(os.environ.get("INTERLACE_TEST_MYSQL_PORT", "3306")),
    "user": os.environ.get("INTERLACE_TEST_MYSQL_USER", "root"),
    "password": os.environ.get("INTERLACE_TEST_MYSQL_PASSWORD", ""),
}


def mysql_connect(database: str | None = None) -> Any:
    import MySQLdb

    params: dict[str, Any] = {**MYSQL, "autocommit": True, "connect_timeout": 5}
    if database:
        params["database"] = database
    return MySQLdb.connect(**params)


def mysql_sql(database: str, query: str) -> list[tuple[Any, ...]]:
    con = mysql_connect(database)
    try:
        cursor = con.cursor()
        cursor.execute(query)
        return list(cursor.fetchall()) if cursor.description else []
    finally:
        con.close()


def mysql_fetch(database: str, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and rows of ``query`` on ``database``."""
    con = mysql_connect(database)
    try:
        cursor = con.cursor()
        cursor.execute(query)
        names = [d[0] for d in cursor.description or ()]
        return names, list(cursor.fetchall()) if cursor.description else []
    finally:
        con.close()


@pytest.fixture(scope="session")
def mysql_server() -> dict[str, Any]:
    require(
        lambda: mysql_connect().close(),
        f"the MySQL/MariaDB test server at {MYSQL['host']}:{MYSQL['port']} as {MYSQL['user']}",
        "start it (e.g. `start-stop-daemon --start --background --exec /usr/sbin/mariadbd`) "
        "or point INTERLACE_TEST_MYSQL_HOST/_PORT/_USER/_PASSWORD at one",
    )
    return MYSQL


@pytest.fixture
def mysql_database(mysql_server: dict[str, Any]) -> Iterator[str]:
    name = f"interlace_test_{uuid.uuid4().hex[:12]}"
    con = mysql_connect()
    try:
        con.cursor().execute(f"CREATE DATABASE `{name}`")
    finally:
        con.close()
    try:
        yield name
    finally:
        con = mysql_connect()
        try:
            con.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            con.close()


def mysql_yaml(database: str, **extra: Any) -> str:
    """Flow-style YAML keys of a connection to ``database`` on the test server."""
    keys = {
        "host": MYSQL["host"],
        "port": MYSQL["port"],
        "user": MYSQL["user"],
        "database": database,
        **({"password": MYSQL["password"]} if MYSQL["password"] else {}),
        **extra,
    }
    return ", ".join(f"{k}: {v}" for k, v in keys.items())


def mysql_statement(database: str, text: str) -> str:
    """``text`` (DuckDB SQL naming the default schema ``main``) as MySQL runs it on
    ``database``: ``main.t`` is ``database.t``, other schemas are the databases they name."""
    import sqlglot
    from interlace_connections.mysql.engine import DEFAULT_SCHEMA, MICROSECONDS, in_databases
    from sqlglot import exp

    def database_of(schema: str) -> str:
        return database if schema == DEFAULT_SCHEMA else schema

    try:
        parsed = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError:  # already MySQL (a relation named with backticks)
        parsed = sqlglot.parse_one(text, read="mysql")
    for node in list(parsed.find_all(exp.DataType)):  # instants to the microsecond, as
        if node.this in MICROSECONDS and not node.expressions:  # other engines keep them
            node.replace(exp.DataType.build(MICROSECONDS[node.this], dialect="mysql"))
    return in_databases(parsed, database_of).sql("mysql")


class MySQLProject(ProjectFolder):
    """A project folder whose default connection is a fresh database on the MySQL/MariaDB
    test server; reads and statements go through the server's own driver, written in DuckDB SQL
    and translated (``main.t`` is the project's database)."""

    engine = "mysql"

    def __init__(self, root: Path, database: str) -> None:
        super().__init__(root)
        self.database = database
        self.made: set[str] = set()  # databases the test made through execute()

    def config(self, extra: str = "") -> Self:
        text = (
            "name: mysql_test\nconnections:\n"
            f"  default: {{type: mysql, {mysql_yaml(self.database)}}}\n"
            "executor:\n  max_workers: 4\n"
        )
        return self.write({"config.yaml": text + extra})

    def execute(
        self, statement: str, *, env: str | None = None, connection: str | None = None
    ) -> list[tuple[Any, ...]]:
        """One or more ``;``-separated statements on the project's database."""
        if connection not in (None, "default"):
            return super().execute(statement, env=env, connection=connection)
        import sqlglot

        rows: list[tuple[Any, ...]] = []
        self.made.update(created_schemas(statement))
        for parsed in sqlglot.parse(statement, read="duckdb"):
            if parsed is None:
                continue
            part = parsed.sql("duckdb")
            rows = mysql_sql(self.database, mysql_statement(self.database, part))
        return rows

    def _fetch(self, query: str, connection: str | None, env: str | None) -> Fetched:
        if connection not in (None, "default"):
            return super()._fetch(query, connection, env)
        if "information_schema" in query:  # catalog queries: the schema `main` is the database
            query = query.replace("'main'", f"'{self.database}'")
            names, rows = mysql_fetch(self.database, query)
            return Fetched(names, [_schema_as_main(row, self.database) for row in rows])
        names, rows = mysql_fetch(self.database, mysql_statement(self.database, query))
        return Fetched(names, rows)

    def relations(self, env: str | None = None, connection: str | None = None) -> dict[str, str]:
        """The relations of the project's databases (see :meth:`schemas`), its own as
        ``main``."""
        if connection not in (None, "default"):
            return super().relations(env, connection)
        schemas = self.schemas()
        rows = mysql_sql(
            self.database,
            "SELECT table_schema, table_name, table_type FROM information_schema.tables",
        )
        out = {}
        for schema, name, kind in rows:
            schema = "main" if schema == self.database else str(schema)
            if schema in schemas:
                out[f"{schema}.{name}"] = "view" if kind == "VIEW" else "table"
        return out

    def schemas(self) -> list[str]:
        """The project's databases on the shared server (other tests have theirs meanwhile):
        its own (``main``), those of its models' schemas, those the test made, and the run
        schemas of its runs."""
        import hashlib

        from interlace.errors import InterlaceError
        from interlace.opening import open_state

        ours = {self.database, *self.made}
        try:
            project = self.load()
        except InterlaceError:
            project = None
        if project is not None:
            ours.update(spec.schema for spec in project.models.values())
            for migration in (self.root / "migrations").glob("*.sql"):
                ours.update(created_schemas(migration.read_text()))
            store = open_state(project)
            try:
                runs = [record.run_id for record in store.list_runs(limit=10_000)]
            finally:
                store.close()
            ours.update(
                "__il_run_" + hashlib.blake2b(run.encode(), digest_size=6).hexdigest()
                for run in runs
            )
        found = mysql_sql(self.database, "SELECT schema_name FROM information_schema.schemata")
        return [
            "main" if name == self.database else str(name)
            for (name,) in found
            if name in ours and name != "main"
        ]


def created_schemas(sql: str) -> set[str]:
    """The schemas ``CREATE SCHEMA`` statements of ``sql`` (DuckDB SQL) make."""
    import sqlglot

    return {
        parsed.this.db
        for parsed in sqlglot.parse(sql, read="duckdb")
        if isinstance(parsed, sqlglot.exp.Create) and parsed.kind == "SCHEMA"
    }


def _schema_as_main(row: tuple[Any, ...], database: str) -> tuple[Any, ...]:
    return tuple("main" if value == database else value for value in row)
