"""Materializations on every engine: table, view, ephemeral (SQL and Python), none (SPEC §3.1)."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from .conftest import schema_names

if TYPE_CHECKING:
    from .conftest import EngineProject


def run_schemas(project: EngineProject) -> list[str]:
    """The scratch schemas of runs (Python ephemeral models live there for one run)."""
    return [name for name in schema_names(project) if name.startswith("__il_run")]


# ---------------------------------------------------------------------------- table and view


@pytest.mark.notimpl(
    ["spark"],
    reason="a table model's name is a view over its published version on Spark: another tool "
    "cannot INSERT INTO it (Spark refuses inserts into views)",
)
def test_table_is_the_default_and_a_view_reads_upstream_live(project: EngineProject) -> None:
    project.write(
        {
            "models/plain.sql": "SELECT 1 AS id",
            "models/base.sql": "SELECT * FROM (VALUES (1), (2)) AS t(id)",
            "models/base_view.sql": """
                -- @materialize: view
                SELECT id * 10 AS id FROM base
            """,
            "models/py_view.py": """
                from interlace import model

                @model(materialize="view")
                def py_view(base):
                    return base.filter(base.id > 1)
            """,
        }
    )
    result = project.run_ok()
    assert result.models["plain"].materialize == "table"
    assert result.models["plain"].rows == 1
    assert project.kind("plain") == "table"
    assert project.kind("base") == "table"
    assert project.kind("base_view") == "view"
    assert project.kind("py_view") == "view"
    assert project.sql("SELECT id FROM main.base_view ORDER BY id") == [(10,), (20,)]
    assert project.sql("SELECT id FROM main.py_view") == [(2,)]
    # a view reads its upstream live
    project.execute("INSERT INTO main.base VALUES (3)")
    assert project.sql("SELECT id FROM main.base_view ORDER BY id") == [(10,), (20,), (30,)]
    assert project.sql("SELECT id FROM main.py_view ORDER BY id") == [(2,), (3,)]


def test_replacing_a_table_keeps_the_views_that_read_it(project: EngineProject) -> None:
    """PostgreSQL binds views to tables; the swap detaches and recreates them in its
    transaction, so views keep working as they do on DuckDB."""
    project.write(
        {
            "models/base.sql": "SELECT 1 AS n, 'a' AS s",
            "models/v1.sql": "-- @materialize: view\nSELECT n, s FROM base",
            "models/v2.sql": "-- @materialize: view\nSELECT n + 1 AS m FROM v1",
        }
    )
    project.run_ok()
    # a view outside the project reading the project's table survives too
    project.execute("CREATE SCHEMA outside; CREATE VIEW outside.reader AS SELECT s FROM main.base")
    project.write({"models/base.sql": "SELECT 2 AS n, 'b' AS s, true AS extra"})
    result = project.run_ok(["base"])
    assert result.models["base"].status == "success"
    assert project.sql("SELECT n, s FROM main.v1") == [(2, "b")]
    assert project.sql("SELECT m FROM main.v2") == [(3,)]
    assert project.sql("SELECT s FROM outside.reader") == [("b",)]


@pytest.mark.notimpl(
    ["duckdb"],
    reason="DuckDB binds a view when it is queried: the table change is published and the "
    "view fails later",
)
@pytest.mark.notimpl(
    ["spark"],
    reason="Spark resolves a view when it is queried: the table change is published and the "
    "view fails later",
)
@pytest.mark.notimpl(
    ["mysql"],
    reason="MySQL resolves a view when it is queried: the table change is published and the "
    "view fails later",
)
def test_a_table_change_that_breaks_a_view_fails_and_changes_nothing(
    project: EngineProject,
) -> None:
    project.write(
        {
            "models/base.sql": "SELECT 1 AS n, 'a' AS s",
            "models/v1.sql": "-- @materialize: view\nSELECT n, s FROM base",
        }
    )
    project.run_ok()
    # schema_mode ignore writes the result as it is: s is gone, so v1 cannot stay
    project.write({"models/base.sql": "-- @schema_mode: ignore\nSELECT 2 AS n"})
    result = project.run(["base"])
    error = result.models["base"].error or ""
    assert result.models["base"].status == "failed"
    assert "view main.v1 reads main.base" in error and "column base.s does not exist" in error
    assert project.rows("base") == [{"n": 1, "s": "a"}]
    assert project.sql("SELECT n, s FROM main.v1") == [(1, "a")]


def test_changing_a_table_model_into_a_view_replaces_the_table(project: EngineProject) -> None:
    project.write({"models/thing.sql": "SELECT 1 AS id"})
    project.run_ok()
    assert project.kind("thing") == "table"
    project.write({"models/thing.sql": "-- @materialize: view\nSELECT 2 AS id"})
    project.run_ok()
    assert project.kind("thing") == "view"
    assert project.sql("SELECT id FROM main.thing") == [(2,)]
    project.write({"models/thing.sql": "SELECT 3 AS id"})
    project.run_ok()
    assert project.kind("thing") == "table"
    assert project.sql("SELECT id FROM main.thing") == [(3,)]


def test_a_view_model_can_change_its_columns_and_turn_into_a_table(
    project: EngineProject,
) -> None:
    project.write(
        {
            "models/base.sql": "SELECT 1 AS n, 'a' AS s",
            "models/v.sql": "-- @materialize: view\nSELECT n FROM base",
            "models/over_v.sql": "-- @materialize: view\nSELECT n FROM v",
        }
    )
    project.run_ok()
    # CREATE OR REPLACE VIEW cannot drop or retype columns in PostgreSQL: drop + create
    project.write(
        {"models/v.sql": "-- @materialize: view\nSELECT s, CAST(n AS TEXT) AS n FROM base"}
    )
    project.run_ok(["v"])
    assert project.sql("SELECT s, n FROM main.v") == [("a", "1")]
    assert project.sql("SELECT n FROM main.over_v") == [("1",)]
    project.write({"models/v.sql": "SELECT s, n FROM base"})
    project.run_ok(["v"])
    assert project.kind("v") == "table"
    assert project.rows("v") == [{"s": "a", "n": 1}]


def test_python_view_of_in_memory_data_fails_with_a_hint(project: EngineProject) -> None:
    project.write(
        {
            "models/memview.py": """
                from interlace import model

                @model(materialize="view")
                def memview():
                    return [{"id": 1}]
            """
        }
    )
    failure = project.run().models["memview"]
    assert failure.status == "failed"
    assert "view" in (failure.error or "")
    assert "materialize='table'" in (failure.error or "")


def test_model_defaults_from_config_apply_when_a_model_does_not_say(
    project: EngineProject,
) -> None:
    project.config("models:\n  default_schema: analytics\n  default_materialize: view\n")
    project.write(
        {
            "models/defaulted.sql": "SELECT 1 AS id",
            "models/explicit.sql": "-- @materialize: table\n-- @schema: main\nSELECT 2 AS id",
        }
    )
    project.run_ok()
    relations = project.relations()
    assert relations["analytics.defaulted"] == "view"
    assert relations["main.explicit"] == "table"


def test_widening_a_column_that_a_view_reads_keeps_the_view(
    project: EngineProject, types: dict[str, str]
) -> None:
    """PostgreSQL refuses ALTER COLUMN ... TYPE while a view reads the column: the view is
    detached and recreated in the same transaction."""
    project.write(
        {
            "models/facts.sql": """
                -- @strategy: append
                SELECT CAST(1 AS INTEGER) AS n
            """,
            "models/facts_view.sql": "-- @materialize: view\nSELECT n FROM facts",
        }
    )
    project.run_ok()
    project.write(
        {
            "models/facts.sql": """
                -- @strategy: append
                SELECT CAST(5000000000 AS BIGINT) AS n
            """
        }
    )
    result = project.run_ok(["facts"])
    integer = "INT" if project.engine in ("spark", "mysql") else "INTEGER"  # the engine's name
    assert f"widened n: {integer} -> BIGINT" in (result.models["facts"].message or "")
    assert project.columns("facts") == {"n": types["bigint"]}
    assert project.sql("SELECT n FROM main.facts_view ORDER BY n") == [(1,), (5_000_000_000,)]


# ---------------------------------------------------------------------------- ephemeral


def test_ephemeral_sql_is_inlined_and_ephemeral_python_lives_for_the_run(
    project: EngineProject,
) -> None:
    project.write(
        {
            "models/eph.sql": """
                -- @materialize: ephemeral
                SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, v)
            """,
            "models/from_eph.sql": "SELECT id, upper(v) AS v FROM eph",
            "models/py.py": """
                import pyarrow as pa
                from interlace import model

                @model(materialize="ephemeral")
                def scratch(eph):
                    return eph.mutate(w=eph.id * 100)

                @model
                def from_scratch(scratch):
                    return scratch.filter(scratch.id > 1)
            """,
        }
    )
    result = project.run_ok()
    assert project.kind("eph") is None and project.kind("scratch") is None
    assert project.rows("from_eph", "id") == [{"id": 1, "v": "A"}, {"id": 2, "v": "B"}]
    assert project.rows("from_scratch") == [{"id": 2, "v": "b", "w": 200}]
    assert result.models["scratch"].rows == 2
    assert run_schemas(project) == []  # the run's scratch schema is gone


def test_ephemeral_sql_creates_no_object_and_nested_ephemerals_are_inlined(
    project: EngineProject,
) -> None:
    project.write(
        {
            "models/raw_numbers.sql": """
                -- @materialize: ephemeral
                SELECT * FROM (VALUES (0), (1), (2), (3), (4)) AS t(n)
            """,
            "models/even_numbers.sql": """
                -- @materialize: ephemeral
                SELECT n FROM raw_numbers WHERE n % 2 = 0
            """,
            "models/report.sql": """
                SELECT e.n, r.n AS same
                FROM even_numbers AS e
                JOIN raw_numbers AS r ON r.n = e.n
            """,
        }
    )
    result = project.run_ok()
    assert result.models["raw_numbers"].status == "success"
    assert result.models["raw_numbers"].rows is None
    relations = project.relations()
    assert "main.raw_numbers" not in relations
    assert "main.even_numbers" not in relations
    assert project.sql("SELECT n, same FROM main.report ORDER BY n") == [(0, 0), (2, 2), (4, 4)]
    assert not [r for r in relations if "__il_" in r]


def test_ephemeral_sql_is_readable_by_a_python_model(project: EngineProject) -> None:
    project.write(
        {
            "models/base.sql": """
                -- @materialize: ephemeral
                SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, label)
            """,
            "models/upper.py": """
                from interlace import model

                @model
                def upper(base):
                    return base.mutate(label=base.label.upper())
            """,
        }
    )
    project.run_ok()
    assert project.sql("SELECT * FROM main.upper ORDER BY id") == [(1, "A"), (2, "B")]
    assert "main.base" not in project.relations()


def test_ephemeral_python_model_is_consumed_by_python_and_sql_models(
    project: EngineProject,
) -> None:
    project.write(
        {
            "models/source.py": """
                from interlace import model

                @model(materialize="ephemeral")
                def source():
                    return [{"id": 1, "amount": 10}, {"id": 2, "amount": 20}]

                @model
                def doubled(source):
                    return source.mutate(amount=source.amount * 2)
            """,
            "models/total.sql": "SELECT sum(amount) AS total FROM source",
        }
    )
    result = project.run_ok()
    assert result.models["source"].rows == 2
    assert project.sql("SELECT id, amount FROM main.doubled ORDER BY id") == [(1, 20), (2, 40)]
    assert project.sql("SELECT total FROM main.total") == [(30,)]
    relations = project.relations()
    assert "main.source" not in relations
    assert not [r for r in relations if r.startswith("__il_run_")]
    assert run_schemas(project) == []


def test_selecting_a_consumer_also_runs_its_python_ephemeral_upstream(
    project: EngineProject,
) -> None:
    project.write(
        {
            "models/source.py": """
                from interlace import model

                @model(materialize="ephemeral")
                def source():
                    return {"id": [1, 2, 3]}
            """,
            "models/total.sql": "SELECT count(*) AS n FROM source",
        }
    )
    result = project.run_ok(["total"])
    assert set(result.models) == {"source", "total"}
    assert project.sql("SELECT n FROM main.total") == [(3,)]


# ---------------------------------------------------------------------------- none


def test_materialize_none_runs_its_statement_and_creates_nothing(project: EngineProject) -> None:
    project.execute("CREATE SCHEMA extra; CREATE TABLE extra.audit (n INTEGER)")
    project.write(
        {
            "models/side.sql": """
                -- @materialize: none
                INSERT INTO extra.audit VALUES (42)
            """,
            "models/py_none.py": """
                from interlace import model

                @model(materialize="none")
                def note(context):
                    con = context.connection  # DB-API drivers (MySQL's) run SQL on a cursor
                    runner = con if hasattr(con, "execute") else con.cursor()
                    runner.execute("INSERT INTO extra.audit VALUES (7)")
            """,
        }
    )
    project.run_ok()
    assert project.sql("SELECT n FROM extra.audit ORDER BY n") == [(7,), (42,)]
    assert project.kind("side") is None and project.kind("note") is None


def test_materialize_none_sql_runs_the_statement_and_creates_no_model_object(
    project: EngineProject,
) -> None:
    # DuckDB has a main schema from the start; a fresh PostgreSQL database gets one when a
    # model is first written there, and these models write no model object
    project.execute("CREATE SCHEMA IF NOT EXISTS main")
    project.write(
        {
            "models/create_seed.sql": """
                -- @materialize: none
                CREATE TABLE main.seed AS SELECT 7 AS v
            """,
            "models/check_only.sql": """
                -- @materialize: none
                -- @dependencies: [create_seed]
                SELECT * FROM main.seed
            """,
        }
    )
    project.run_ok()
    relations = project.relations()
    assert "main.create_seed" not in relations
    assert "main.check_only" not in relations
    assert project.sql("SELECT v FROM main.seed") == [(7,)]


def test_materialize_none_python_model_feeds_its_consumers_for_this_run_only(
    project: EngineProject,
) -> None:
    project.write(
        {
            "models/pipeline.py": """
                from interlace import model

                @model(materialise="none")  # the British spelling is accepted
                def scratch():
                    return [{"x": 1}, {"x": 2}]

                @model
                def kept(scratch):
                    return scratch.aggregate(total=scratch.x.sum())
            """
        }
    )
    project.run_ok()
    assert "main.scratch" not in project.relations()
    assert project.sql("SELECT total FROM main.kept") == [(3,)]


# ---------------------------------------------------------------------------- runs side by side

SCRATCH_MODELS = {
    "models/scratch.py": """
        from interlace import model

        @model(materialize="ephemeral")
        def scratch():
            return [{"id": 1}, {"id": 2}]
    """,
    "models/slow.py": """
        import time
        from pathlib import Path

        from interlace import model

        @model
        def slow(scratch):
            root = Path(__file__).parent.parent
            (root / "waiting").touch()
            deadline = time.monotonic() + 60
            while not (root / "go").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            return scratch  # read from the run schema after the other run has started
    """,
    "models/other.sql": "SELECT 1 AS n",
}

# another process running one model of the project, as a second `interlace run` would
OTHER_RUN = """
import sys
from interlace.api import run_sync
result = run_sync(sys.argv[1], ["other"])
sys.exit(0 if result.status == "success" else 1)
"""


def test_a_run_starting_meanwhile_leaves_the_scratch_schema_of_a_running_run_alone(
    project: EngineProject,
) -> None:
    """A run drops the run schemas killed runs left behind; one whose run is alive (its claim
    held, in this process or another) stays."""
    project.write(SCRATCH_MODELS)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(project.run, ["slow"])
        waiting = project.root / "waiting"
        deadline = time.monotonic() + 60
        while not waiting.exists() and not first.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert waiting.exists(), first.result() if first.done() else "slow never started"
        try:
            if project.engine in ("postgres", "mysql"):  # a second process on the server
                other = subprocess.run(
                    [sys.executable, "-c", OTHER_RUN, str(project.root)],
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert other.returncode == 0, other.stderr
            else:  # one process holds a DuckDB file (and a local Spark)
                project.run_ok(["other"])
        finally:
            (project.root / "go").touch()
        result = first.result(timeout=120)
    assert result.models["slow"].status == "success", result.models["slow"].error
    assert project.sql("SELECT id FROM main.slow ORDER BY id") == [(1,), (2,)]
    assert run_schemas(project) == []
