"""Materializations on PostgreSQL: table, view, ephemeral, none (SPEC §3.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import PgProject


def test_table_and_view_are_created_and_the_view_reads_upstream_live(
    pg_project: PgProject,
) -> None:
    pg_project.write(
        {
            "models/base.sql": "SELECT * FROM (VALUES (1), (2)) AS t(n)",
            "models/live.sql": """
                -- @materialize: view
                SELECT n * 10 AS n10 FROM base
            """,
        }
    )
    pg_project.run_ok()
    assert pg_project.kind("base") == "BASE TABLE"
    assert pg_project.kind("live") == "VIEW"
    assert pg_project.sql("SELECT n10 FROM main.live ORDER BY 1") == [(10,), (20,)]
    pg_project.sql("INSERT INTO main.base VALUES (3)")
    assert pg_project.sql("SELECT n10 FROM main.live ORDER BY 1") == [(10,), (20,), (30,)]


def test_replacing_a_table_keeps_the_views_that_read_it(pg_project: PgProject) -> None:
    """PostgreSQL binds views to tables; the swap detaches and recreates them in its
    transaction, so views keep working as they do on DuckDB."""
    pg_project.write(
        {
            "models/base.sql": "SELECT 1 AS n, 'a' AS s",
            "models/v1.sql": "-- @materialize: view\nSELECT n, s FROM base",
            "models/v2.sql": "-- @materialize: view\nSELECT n + 1 AS m FROM v1",
        }
    )
    pg_project.run_ok()
    # a view outside the project reading the project's table survives too
    pg_project.sql("CREATE VIEW public.outside AS SELECT s FROM main.base")
    pg_project.write({"models/base.sql": "SELECT 2 AS n, 'b' AS s, true AS extra"})
    result = pg_project.run_ok(["base"])
    assert result.models["base"].status == "success"
    assert pg_project.sql("SELECT n, s FROM main.v1") == [(2, "b")]
    assert pg_project.sql("SELECT m FROM main.v2") == [(3,)]
    assert pg_project.sql("SELECT s FROM public.outside") == [("b",)]


def test_a_table_change_that_breaks_a_view_fails_and_changes_nothing(
    pg_project: PgProject,
) -> None:
    pg_project.write(
        {
            "models/base.sql": "SELECT 1 AS n, 'a' AS s",
            "models/v1.sql": "-- @materialize: view\nSELECT n, s FROM base",
        }
    )
    pg_project.run_ok()
    # schema_mode ignore writes the result as it is: s is gone, so v1 cannot stay
    pg_project.write({"models/base.sql": "-- @schema_mode: ignore\nSELECT 2 AS n"})
    result = pg_project.run(["base"])
    error = result.models["base"].error or ""
    assert result.models["base"].status == "failed"
    assert "view main.v1 reads main.base" in error and "column base.s does not exist" in error
    assert pg_project.rows("base") == [{"n": 1, "s": "a"}]
    assert pg_project.sql("SELECT n, s FROM main.v1") == [(1, "a")]


def test_a_view_model_can_change_its_columns_and_turn_into_a_table(
    pg_project: PgProject,
) -> None:
    pg_project.write(
        {
            "models/base.sql": "SELECT 1 AS n, 'a' AS s",
            "models/v.sql": "-- @materialize: view\nSELECT n FROM base",
            "models/over_v.sql": "-- @materialize: view\nSELECT n FROM v",
        }
    )
    pg_project.run_ok()
    # CREATE OR REPLACE VIEW cannot drop or retype columns in PostgreSQL: drop + create
    pg_project.write({"models/v.sql": "-- @materialize: view\nSELECT s, n::text AS n FROM base"})
    pg_project.run_ok(["v"])
    assert pg_project.sql("SELECT s, n FROM main.v") == [("a", "1")]
    assert pg_project.sql("SELECT n FROM main.over_v") == [("1",)]
    pg_project.write({"models/v.sql": "SELECT s, n FROM base"})
    pg_project.run_ok(["v"])
    assert pg_project.kind("v") == "BASE TABLE"
    assert pg_project.rows("v") == [{"s": "a", "n": 1}]


def test_ephemeral_sql_is_inlined_and_ephemeral_python_lives_for_the_run(
    pg_project: PgProject,
) -> None:
    pg_project.write(
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
    result = pg_project.run_ok()
    assert pg_project.kind("eph") is None and pg_project.kind("scratch") is None
    assert pg_project.rows("from_eph", "id") == [{"id": 1, "v": "A"}, {"id": 2, "v": "B"}]
    assert pg_project.rows("from_scratch") == [{"id": 2, "v": "b", "w": 200}]
    assert result.models["scratch"].rows == 2
    # the run's scratch schema is gone
    assert pg_project.sql(
        "SELECT count(*) FROM pg_namespace WHERE nspname LIKE '\\_\\_il\\_run%%'"
    ) == [(0,)]


def test_materialize_none_runs_its_statement_and_creates_nothing(pg_project: PgProject) -> None:
    pg_project.sql("CREATE TABLE public.audit (n int)")
    pg_project.write(
        {
            "models/side.sql": """
                -- @materialize: none
                INSERT INTO public.audit VALUES (42)
            """,
            "models/py_none.py": """
                from interlace import model

                @model(materialize="none")
                def note(context):
                    context.connection.execute("INSERT INTO public.audit VALUES (7)")
            """,
        }
    )
    pg_project.run_ok()
    assert pg_project.sql("SELECT n FROM public.audit ORDER BY n") == [(7,), (42,)]
    assert pg_project.kind("side") is None and pg_project.kind("note") is None


def test_widening_a_column_that_a_view_reads_keeps_the_view(pg_project: PgProject) -> None:
    """ALTER COLUMN ... TYPE is refused while a view reads the column: the view is detached and
    recreated in the same transaction."""
    pg_project.write(
        {
            "models/facts.sql": """
                -- @strategy: append
                SELECT 1::int AS n
            """,
            "models/facts_view.sql": "-- @materialize: view\nSELECT n FROM facts",
        }
    )
    pg_project.run_ok()
    pg_project.write(
        {
            "models/facts.sql": """
                -- @strategy: append
                SELECT 5000000000::bigint AS n
            """
        }
    )
    result = pg_project.run_ok(["facts"])
    assert "widened n: INTEGER -> BIGINT" in (result.models["facts"].message or "")
    assert pg_project.columns("facts") == {"n": "bigint"}
    assert pg_project.sql("SELECT n FROM main.facts_view ORDER BY n") == [(1,), (5_000_000_000,)]
