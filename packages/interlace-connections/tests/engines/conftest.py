"""The engine-independent behaviour suite: every test runs once per engine.

In the manner of ibis's backend test suite, a test takes the ``engine`` fixture (directly or
through ``project``) and runs on DuckDB, on PostgreSQL, on MySQL/MariaDB and on Spark (local
mode, one Spark per test worker; select an engine's cases with ``-k spark``, say). Where an engine does not (yet) do
what the test expects, the test says so with a mark, which turns that one case into a strict
xfail: it must fail there, and the day it passes the suite says so::

    @pytest.mark.notimpl(["duckdb"], reason="DuckDB binds views late: ...")
    def test_a_table_change_that_breaks_a_view_fails(project: EngineProject) -> None: ...

``project`` is an empty project on the engine (DuckDB file, a fresh PostgreSQL or MySQL database,
or the worker's Spark with an emptied in-memory catalog),
a :class:`interlace.testing.ProjectFolder`: ``write``, ``run_ok``, ``rows``, ``sql``,
``execute`` (a statement as another tool would run it), ``columns``, ``kind``, ``relations``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

import pytest
from interlace.testing import ProjectFolder

from ..conftest import PgProject, admin_connect
from ..mysql_server import MySQLProject, mysql_connect
from ..mysql_server import mysql_server as mysql_server  # the fixture
from ..spark.conftest import SparkProject

ENGINES = ("duckdb", "postgres", "mysql", "spark")

DUCKDB_CONFIG = """\
name: engine_test
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
executor:
  max_workers: 4
"""

# how each engine spells the types the tests look at (information_schema.columns.data_type)
TYPES = {
    "duckdb": {
        "integer": "INTEGER",
        "bigint": "BIGINT",
        "double": "DOUBLE",
        "text": "VARCHAR",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMP",
    },
    "postgres": {
        "integer": "integer",
        "bigint": "bigint",
        "double": "double precision",
        "text": "text",
        "boolean": "boolean",
        "timestamp": "timestamp without time zone",
    },
    "mysql": {
        "integer": "int",
        "bigint": "bigint",
        "double": "double",
        "text": "text",
        "boolean": "tinyint",
        "timestamp": "datetime",
    },
    "spark": {
        "integer": "INT",
        "bigint": "BIGINT",
        "double": "DOUBLE",
        "text": "STRING",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMP_NTZ",
    },
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "notimpl(engines, reason, raises=None): the engines in the list do not do what the "
        "test expects; there the test is a strict xfail",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """MySQL has no MERGE statement: the ``merge`` path of ``apply_path`` is no case there (not
    a skip: every collected case runs)."""
    dropped = [item for item in items if _mysql_merge(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not _mysql_merge(item)]


def _mysql_merge(item: pytest.Item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    return bool(params.get("engine") == "mysql" and params.get("apply_path") == "merge")


class DuckProject(ProjectFolder):
    """A project whose default connection is a DuckDB file."""

    engine = "duckdb"

    def config(self, extra: str = "") -> Self:
        """The default config plus ``extra`` YAML (``models:`` defaults, say)."""
        return self.write({"config.yaml": DUCKDB_CONFIG + extra})


class PostgresProject(PgProject):
    engine = "postgres"


EngineProject = DuckProject | PostgresProject | MySQLProject | SparkProject


def schema_names(project: EngineProject) -> list[str]:
    """The schemas of the project's database (Spark has no information_schema; on MySQL a
    schema is a database of the shared server)."""
    if isinstance(project, SparkProject | MySQLProject):
        return project.schemas()
    rows = project.sql("SELECT schema_name FROM information_schema.schemata")
    return [str(name) for (name,) in rows]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The engine under test; a ``notimpl`` mark naming it makes the test a strict xfail."""
    name = str(request.param)
    for mark in request.node.iter_markers("notimpl"):
        if name in mark.args[0]:
            reason = mark.kwargs.get("reason") or (mark.args[1] if len(mark.args) > 1 else "")
            assert reason, "a notimpl mark says why"
            xfail: dict[str, Any] = {"reason": f"{name}: {reason}", "strict": True}
            if mark.kwargs.get("raises") is not None:
                xfail["raises"] = mark.kwargs["raises"]
            request.applymarker(pytest.mark.xfail(**xfail))
    return name


@pytest.fixture
def new_project(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], EngineProject]]:
    """``new_project()``: another empty project on ``engine`` (PostgreSQL: its own database,
    dropped after the test)."""
    counter = iter(range(1_000))
    databases: list[str] = []
    mysql_projects: list[MySQLProject] = []

    def make() -> EngineProject:
        root = tmp_path / f"project{next(counter)}"
        if engine == "duckdb":
            return DuckProject.create(root, config=DUCKDB_CONFIG)
        if engine == "spark":  # the worker's Spark, its catalog emptied for each project
            session = request.getfixturevalue("spark")
            return SparkProject.on(root, session, request.getfixturevalue("spark_warehouse"))
        if engine == "mysql":
            request.getfixturevalue("mysql_server")
            database = f"interlace_test_{uuid.uuid4().hex[:12]}"
            _mysql_execute(f"CREATE DATABASE `{database}`")
            (root / "models").mkdir(parents=True)
            mysql_projects.append(MySQLProject(root, database).config())
            return mysql_projects[-1]
        request.getfixturevalue("pg_server")  # fails the test when the server is down
        database = f"interlace_test_{uuid.uuid4().hex[:12]}"
        with admin_connect() as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        databases.append(database)
        (root / "models").mkdir(parents=True)
        return PostgresProject(root, database).config()

    yield make
    for database in databases:
        with admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    for mysql_project in mysql_projects:  # its database, and those its models made
        for schema in mysql_project.schemas():
            name = mysql_project.database if schema == "main" else schema
            _mysql_execute(f"DROP DATABASE IF EXISTS `{name}`")


def _mysql_execute(statement: str) -> None:
    con = mysql_connect()
    try:
        con.cursor().execute(statement)
    finally:
        con.close()


@pytest.fixture
def project(new_project: Callable[[], EngineProject]) -> EngineProject:
    """An empty project (a config and a ``models/`` folder) on ``engine``."""
    return new_project()


@pytest.fixture
def types(engine: str) -> dict[str, str]:
    """``types["bigint"]``: the engine's name for a type, as ``project.columns`` reports it."""
    return TYPES[engine]


def engine_class(engine: str) -> type[Any]:
    if engine == "duckdb":
        from interlace.engines.duckdb import DuckDBEngine

        return DuckDBEngine
    if engine == "spark":
        from interlace_connections.spark.engine import SparkEngine

        return SparkEngine
    if engine == "mysql":
        from interlace_connections.mysql.engine import MySQLEngine

        return MySQLEngine
    from interlace_connections.postgres.engine import PostgresEngine

    return PostgresEngine


@pytest.fixture
def capabilities(engine: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``capabilities(**flags)``: the engine under test with some capability flags changed."""
    cls = engine_class(engine)

    def change(**flags: bool) -> None:
        if hasattr(cls, "capabilities"):
            changed = dataclasses.replace(cls.capabilities, **flags)
            monkeypatch.setattr(cls, "capabilities", changed)
            return
        default = cls.default_capabilities  # ibis engines (MySQL) say theirs per instance

        def patched(self: Any) -> Any:
            return dataclasses.replace(default(self), **flags)

        monkeypatch.setattr(cls, "default_capabilities", patched)

    return change


@pytest.fixture(params=["merge", "delete_insert"])
def apply_path(request: pytest.FixtureRequest, engine: str, capabilities: Any) -> str:
    """Run the test through both ways of applying a diff: MERGE and DELETE+INSERT (MySQL has
    no MERGE statement: its cases of the MERGE path are not collected, see
    :func:`pytest_collection_modifyitems`)."""
    capabilities(merge=True, prefer_merge=request.param == "merge")
    return str(request.param)
