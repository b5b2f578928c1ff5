"""SQLite and MySQL/MariaDB as model engines through ibis: SQL and Python models, the core
strategies (replace, append, merge_by_key) through each engine's capabilities, read access."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

import pytest
from interlace.testing import ProjectFolder
from interlace.testing.folder import Fetched

from . import mysql_server as _mysql
from .mysql_server import mysql_fetch, mysql_sql, mysql_yaml

# the MySQL fixtures, used by name
mysql_server = _mysql.mysql_server
mysql_database = _mysql.mysql_database

# a query -> its column names and rows
Read = Callable[[str], tuple[list[str], list[tuple[Any, ...]]]]


def unread(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    raise AssertionError(f"this test reads nothing back: {sql}")


class EngineProject(ProjectFolder):
    """A project on one ibis engine; reads go straight to its database through ``read``."""

    def __init__(self, root: Path, connection: str, schema: str, read: Read) -> None:
        super().__init__(root)
        self.connection = connection
        self.schema = schema
        self.read = read

    def config(self, **extra: str) -> Self:
        more = "".join(f", {k}: {v}" for k, v in extra.items())
        text = (
            f"name: ibis_test\nconnections:\n  default: {{{self.connection}{more}}}\n"
            f"models:\n  default_schema: {self.schema}\nexecutor:\n  max_workers: 2\n"
        )
        return self.write({"config.yaml": text})

    def _fetch(self, query: str, connection: str | None, env: str | None) -> Fetched:
        names, rows = self.read(query)
        return Fetched(names, [tuple(r) for r in rows])


@pytest.fixture(params=["sqlite", "mysql"])
def engine_project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EngineProject]:
    (tmp_path / "models").mkdir()
    if request.param == "sqlite":
        file = tmp_path / "data" / "dev.sqlite"

        def read(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
            with sqlite3.connect(file) as con:
                cursor = con.execute(sql)
                return [d[0] for d in cursor.description or ()], cursor.fetchall()

        yield EngineProject(tmp_path, "type: sqlite, path: data/dev.sqlite", "main", read)
    else:
        database = request.getfixturevalue("mysql_database")
        yield EngineProject(
            tmp_path,
            f"type: mysql, {mysql_yaml(database)}",
            database,
            lambda sql: mysql_fetch(database, sql),
        )


MODELS = {
    "models/orders.py": """
        from interlace import model

        @model(primary_key="id", strategy="merge_by_key")
        def orders():
            return [
                {"id": 1, "customer": "ann", "amount": 10.5},
                {"id": 2, "customer": "bob", "amount": 20.0},
                {"id": 3, "customer": "ann", "amount": 5.0},
            ]
    """,
    "models/by_customer.sql": """
        SELECT customer, SUM(amount) AS total, COUNT(*) AS n
        FROM orders GROUP BY customer
    """,
    "models/big_spenders.py": """
        from interlace import model

        @model(strategy="append")
        def big_spenders(by_customer):
            return by_customer.filter(by_customer.total > 12).mutate(doubled=by_customer.n * 2)
    """,
}


def test_sql_and_python_models_run_with_replace_append_and_merge(
    engine_project: EngineProject,
) -> None:
    project = engine_project.config().write(MODELS)
    project.run_ok()
    assert project.values("orders") == [(1, "ann", 10.5), (2, "bob", 20.0), (3, "ann", 5.0)]
    assert project.values("by_customer") == [("ann", 15.5, 2), ("bob", 20.0, 1)]
    assert project.values("big_spenders") == [("ann", 15.5, 2, 4), ("bob", 20.0, 1, 2)]
    # merge: one changed row, one new; append adds again; replace rebuilds
    project.write(
        {
            "models/orders.py": MODELS["models/orders.py"]
            .replace('"amount": 20.0', '"amount": 25.0')
            .replace('"amount": 5.0}', '"amount": 5.0}, {"id": 4, "customer": "cy", "amount": 1.0}')
        }
    )
    result = project.run_ok()
    assert result.models["orders"].rows == 4
    assert project.values("orders") == [
        (1, "ann", 10.5),
        (2, "bob", 25.0),
        (3, "ann", 5.0),
        (4, "cy", 1.0),
    ]
    assert project.values("by_customer") == [("ann", 15.5, 2), ("bob", 25.0, 1), ("cy", 1.0, 1)]
    assert len(project.values("big_spenders")) == 4


def test_a_new_column_is_added_to_an_incremental_table(engine_project: EngineProject) -> None:
    project = engine_project.config().write(
        {
            "models/events.sql": """
                -- @strategy: append
                SELECT 1 AS id
            """
        }
    )
    project.run_ok()
    project.write({"models/events.sql": "-- @strategy: append\nSELECT 2 AS id, 'x' AS label\n"})
    project.run_ok()
    assert project.values("events") == [(1, None), (2, "x")]


def test_a_failing_model_leaves_the_published_table_as_it_was(
    engine_project: EngineProject,
) -> None:
    project = engine_project.config().write(
        {"models/t.py": "from interlace import model\n\n@model\ndef t():\n    return [{'x': 1}]\n"}
    )
    project.run_ok()
    project.write(
        {
            "models/t.py": """
                from interlace import model

                @model
                def t():
                    yield {"x": 2}
                    raise RuntimeError("broken source")
            """
        }
    )
    result = project.run()
    assert "broken source" in (result.models["t"].error or "")
    assert project.values("t") == [(1,)]


def test_python_models_get_the_raw_connection_and_an_ibis_backend(
    engine_project: EngineProject,
) -> None:
    project = engine_project.config().write(
        {
            "models/base.sql": "SELECT 1 AS id, 'a' AS name",
            "models/probe.py": """
                import ibis
                from interlace import model

                @model
                def probe(context, base):
                    cursor = context.connection.cursor()
                    cursor.execute("SELECT 40 + 2")
                    answer = cursor.fetchone()[0]
                    return base.mutate(answer=answer, backend=ibis.literal(context.ibis.name))
            """,
        }
    )
    project.run_ok()
    rows = project.values("probe")
    assert rows[0][:3] == (1, "a", 42) and rows[0][3] in ("sqlite", "mysql")


def test_a_read_connection_refuses_materialization_and_raw_writes(
    engine_project: EngineProject,
) -> None:
    project = engine_project.config().write({"models/t.sql": "SELECT 1 AS x"})
    project.run_ok()
    project.config(access="read").write(
        {
            "models/raw_write.py": """
                from interlace import model

                @model(strategy="none")
                def raw_write(context):
                    cursor = context.connection.cursor()
                    cursor.execute("INSERT INTO t VALUES (99)")
            """
        }
    )
    result = project.run(force=True)
    assert "connection 'default' is read-only (access: read)" in (result.models["t"].error or "")
    assert result.models["raw_write"].status == "failed"
    assert "read" in (result.models["raw_write"].error or "").lower()
    assert project.values("t") == [(1,)]


def test_sqlite_python_models_kept_only_for_a_run_are_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    project = EngineProject(tmp_path, "type: sqlite, path: data/dev.sqlite", "main", unread)
    project.config().write(
        {
            "models/tmp.py": """
                from interlace import model

                @model(materialize="ephemeral")
                def tmp():
                    return [{"x": 1}]
            """,
            "models/user.sql": "SELECT * FROM tmp",
        }
    )
    result = project.run()
    assert "SQLite has no schemas" in (result.models["tmp"].error or "")


def test_mysql_writes_the_model_schema_as_a_database(mysql_database: str, tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    project = EngineProject(
        tmp_path,
        f"type: mysql, {mysql_yaml(mysql_database)}",
        mysql_database,
        lambda sql: mysql_fetch(mysql_database, sql),
    )
    project.config().write({"models/t.sql": "SELECT 1 AS x"})
    project.run_ok()
    kinds = mysql_sql(
        mysql_database,
        "SELECT table_name, table_type FROM information_schema.tables "
        f"WHERE table_schema = '{mysql_database}'",
    )
    assert kinds == [("t", "BASE TABLE")]  # no staging table left behind


def test_an_incremental_model_reads_an_upstream_of_another_connection_by_its_cursor(
    engine_project: EngineProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream lives in DuckDB; the incremental model on this engine gets it copied into a
    temporary table (only the rows after its watermark) and appends just those."""
    p = engine_project
    text = (
        f"name: ibis_test\nconnections:\n  default: {{{p.connection}}}\n"
        "  local: {type: duckdb, path: data/local.duckdb}\n"
        f"models:\n  default_schema: {p.schema}\n"
    )
    (p.root / "config.yaml").write_text(text, encoding="utf-8")
    p.write(
        {
            "models/events.py": """
                import os

                from interlace import model

                @model(connection="local", schema="main")
                def events():
                    n = int(os.environ.get("EVENTS", "3"))
                    return [{"id": i, "kind": "k" + str(i % 2)} for i in range(1, n + 1)]
            """,
            "models/event_log.sql": """
                -- @strategy: append
                -- @cursor: id
                SELECT id, kind FROM events
            """,
        }
    )
    p.run_ok()
    monkeypatch.setenv("EVENTS", "5")

    result = p.run_ok()

    assert result.models["event_log"].stats == {"inserted": 2}
    assert p.values(f"{p.schema}.event_log") == [
        (1, "k1"),
        (2, "k0"),
        (3, "k1"),
        (4, "k0"),
        (5, "k1"),
    ]
