"""Tests against a real PostgreSQL server.

The server comes from ``INTERLACE_TEST_PG_HOST``/``_PORT``/``_USER``/``_PASSWORD``/``_DATABASE``
(default ``127.0.0.1:5432``, user ``postgres``, database ``test``). Every test gets a fresh
database ``interlace_test_<random>``, dropped afterwards. When the server cannot be reached the
tests fail (never skip): a green run always means PostgreSQL was tested.
"""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import interlace
import psycopg
import pytest
from interlace.project import Project
from interlace.results import RunResult

PG = {
    "host": os.environ.get("INTERLACE_TEST_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("INTERLACE_TEST_PG_PORT", "5432")),
    "user": os.environ.get("INTERLACE_TEST_PG_USER", "postgres"),
    "password": os.environ.get("INTERLACE_TEST_PG_PASSWORD", ""),
    "dbname": os.environ.get("INTERLACE_TEST_PG_DATABASE", "test"),
}


def admin_connect(dbname: str | None = None) -> psycopg.Connection[Any]:
    params = {**PG, "dbname": dbname or PG["dbname"]}
    if not params["password"]:
        params.pop("password")
    return psycopg.connect(**params, autocommit=True, connect_timeout=5)


@pytest.fixture
def pg_connect() -> Any:
    """``pg_connect(database)``: an autocommit connection to a database of the test server."""
    return admin_connect


@pytest.fixture(scope="session")
def pg_server() -> dict[str, Any]:
    """The test server's parameters; fails every test that needs it when it is down."""
    try:
        admin_connect().close()
    except psycopg.OperationalError as exc:
        where = f"{PG['host']}:{PG['port']} (database {PG['dbname']}, user {PG['user']})"
        ci = " (CI=true: PostgreSQL tests must run)" if os.environ.get("CI") == "true" else ""
        pytest.fail(
            f"PostgreSQL test server unreachable at {where}{ci}: {exc}\n"
            "start it (e.g. `pg_ctlcluster 15 main start`) or set INTERLACE_TEST_PG_*",
            pytrace=False,
        )
    return PG


@pytest.fixture
def pg_database(pg_server: dict[str, Any]) -> Iterator[str]:
    """A fresh, empty database for one test (dropped afterwards, even if connections linger)."""
    name = f"interlace_test_{uuid.uuid4().hex[:12]}"
    with admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def connection_yaml(database: str, **extra: Any) -> str:
    """The YAML of a postgres connection to ``database`` on the test server."""
    lines = [
        "type: postgres",
        f"host: {PG['host']}",
        f"port: {PG['port']}",
        f"database: {database}",
        f"user: {PG['user']}",
    ]
    if PG["password"]:
        lines.append(f"password: {PG['password']}")
    lines += [f"{k}: {v}" for k, v in extra.items()]
    return "\n".join(lines)


class PgProject:
    """A project folder whose default connection is a fresh PostgreSQL database."""

    def __init__(self, root: Path, database: str) -> None:
        self.root = root
        self.database = database

    def config(self, extra: str = "", **connection: Any) -> PgProject:
        body = textwrap.indent(connection_yaml(self.database, **connection), "    ")
        text = f"name: pg_test\nconnections:\n  default:\n{body}\nexecutor:\n  max_workers: 4\n"
        (self.root / "config.yaml").write_text(text + textwrap.dedent(extra), encoding="utf-8")
        return self

    def write(self, files: Mapping[str, str]) -> PgProject:
        for rel, text in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return self

    def load(self) -> Project:
        return interlace.load_project(self.root)

    def run(self, select: Iterable[str] | None = None, **kwargs: Any) -> RunResult:
        return interlace.run_sync(
            self.root, select=list(select) if select is not None else None, **kwargs
        )

    def run_ok(self, select: Iterable[str] | None = None, **kwargs: Any) -> RunResult:
        result = self.run(select, **kwargs)
        problems = {
            name: (r.status, r.error, r.location) for name, r in result.models.items() if not r.ok
        }
        assert result.status == "success", problems
        return result

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with admin_connect(self.database) as conn:
            cursor = conn.execute(query, params)
            return list(cursor.fetchall()) if cursor.description is not None else []

    def rows(self, table: str, order_by: str = "1", schema: str = "main") -> list[dict[str, Any]]:
        """Every row of ``schema.table`` as dicts, ordered."""
        with admin_connect(self.database) as conn:
            cursor = conn.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY {order_by}')
            names = [d.name for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def columns(self, table: str, schema: str = "main") -> dict[str, str]:
        """``{column: data_type}`` as information_schema reports it."""
        rows = self.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (schema, table),
        )
        return dict(rows)

    def kind(self, name: str, schema: str = "main") -> str | None:
        rows = self.sql(
            "SELECT table_type FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name = %s",
            (schema, name),
        )
        return rows[0][0] if rows else None


@pytest.fixture
def pg_project(tmp_path: Path, pg_database: str) -> PgProject:
    (tmp_path / "models").mkdir()
    return PgProject(tmp_path, pg_database).config()
