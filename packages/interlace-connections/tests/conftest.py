"""Tests against a real PostgreSQL server (and the worker's Spark, for the spark and engine
suites).

The server comes from ``INTERLACE_TEST_PG_HOST``/``_PORT``/``_USER``/``_PASSWORD``/``_DATABASE``
(default ``127.0.0.1:5432``, user ``postgres``, database ``test``). Every test gets a fresh
database ``interlace_test_<random>``, dropped afterwards. When the server cannot be reached the
tests skip, except in CI (``CI=true``), where they fail: a green CI run always means PostgreSQL
was tested.
"""

from __future__ import annotations

import os
import shutil
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import psycopg
import pytest
from interlace.testing import ProjectFolder
from interlace.testing.folder import Fetched
from interlace.testing.prerequisites import require

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
    """The test server's parameters; the tests that need it skip when it is down (fail in
    CI)."""
    require(
        lambda: admin_connect().close(),
        f"the PostgreSQL test server at {PG['host']}:{PG['port']} "
        f"(database {PG['dbname']}, user {PG['user']})",
        "start it (e.g. `pg_ctlcluster 15 main start`) or point INTERLACE_TEST_PG_HOST/_PORT/"
        "_USER/_PASSWORD/_DATABASE at one",
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


class PgProject(ProjectFolder):
    """A project folder whose default connection is a fresh PostgreSQL database.

    Reads of the default connection (``sql``, ``rows``, ``columns``, ``kind``, ...) go through
    an autocommit admin connection, so ``sql`` also runs DDL and several statements at once.
    """

    def __init__(self, root: Path, database: str) -> None:
        super().__init__(root)
        self.database = database

    def config(self, extra: str = "", **connection: Any) -> Self:
        body = textwrap.indent(connection_yaml(self.database, **connection), "    ")
        text = f"name: pg_test\nconnections:\n  default:\n{body}\nexecutor:\n  max_workers: 4\n"
        return self.write({"config.yaml": text + textwrap.dedent(extra)})

    def execute(
        self,
        statement: str,
        params: Any = None,
        *,
        env: str | None = None,
        connection: str | None = None,
    ) -> list[tuple[Any, ...]]:
        """``statement`` (with psycopg ``%s`` ``params``) on the project's database."""
        if connection not in (None, "default"):
            return super().execute(statement, env=env, connection=connection)
        with admin_connect(self.database) as conn:
            cursor = conn.execute(statement, params)
            return list(cursor.fetchall()) if cursor.description is not None else []

    def _fetch(self, query: str, connection: str | None, env: str | None) -> Fetched:
        if connection not in (None, "default"):
            return super()._fetch(query, connection, env)
        with admin_connect(self.database) as conn:
            cursor = conn.execute(query)
            if cursor.description is None:
                return Fetched([], [])
            return Fetched([d.name for d in cursor.description], list(cursor.fetchall()))


@pytest.fixture
def pg_project(tmp_path: Path, pg_database: str) -> PgProject:
    (tmp_path / "models").mkdir()
    return PgProject(tmp_path, pg_database).config()


# -- Spark: one Spark (one JVM, local[2], in-memory catalog) per test worker, shared by the
# spark tests and the engine suite's spark cases
SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def require_java() -> None:
    """Skip (fail when ``CI=true``) when no Java runtime is installed."""
    require(
        bool(os.environ.get("JAVA_HOME") or shutil.which("java")),
        "a Java 17 runtime for Spark (java on the PATH, or JAVA_HOME)",
        "install one (apt-get install -y openjdk-17-jre-headless) or set JAVA_HOME",
    )


@pytest.fixture(scope="session")
def spark_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spark_warehouse")


@pytest.fixture(scope="session")
def spark(spark_warehouse: Path) -> Iterator[Any]:
    """The worker's Spark session (local[2], in-memory catalog)."""
    require_java()
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master("local[2]")
        .appName("interlace-tests")
        .config("spark.sql.warehouse.dir", str(spark_warehouse))
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
    )
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
