"""Materializations: table, view, ephemeral (SQL and Python) and none (SPEC §3.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace.errors import ModelDefinitionError

if TYPE_CHECKING:
    from conftest import MakeProject


def test_table_is_the_default_materialization(make_project: MakeProject) -> None:
    project = make_project({"models/plain.sql": "SELECT 1 AS id"})
    result = project.run_ok()
    assert result.models["plain"].materialize == "table"
    assert result.models["plain"].rows == 1
    assert project.relations()["main.plain"] == "BASE TABLE"


def test_view_is_created_as_a_view_and_reads_upstream_live(make_project: MakeProject) -> None:
    project = make_project(
        {
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
    project.run_ok()
    relations = project.relations()
    assert relations["main.base_view"] == "VIEW"
    assert relations["main.py_view"] == "VIEW"
    assert project.sql("SELECT id FROM base_view ORDER BY id") == [(10,), (20,)]
    assert project.sql("SELECT id FROM py_view") == [(2,)]


def test_changing_a_table_model_into_a_view_replaces_the_table(make_project: MakeProject) -> None:
    project = make_project({"models/thing.sql": "SELECT 1 AS id"})
    project.run_ok()
    assert project.relations()["main.thing"] == "BASE TABLE"
    project.write({"models/thing.sql": "-- @materialize: view\nSELECT 2 AS id"})
    project.run_ok()
    assert project.relations()["main.thing"] == "VIEW"
    assert project.sql("SELECT id FROM thing") == [(2,)]
    project.write({"models/thing.sql": "SELECT 3 AS id"})
    project.run_ok()
    assert project.relations()["main.thing"] == "BASE TABLE"
    assert project.sql("SELECT id FROM thing") == [(3,)]


def test_python_view_of_in_memory_data_fails_with_a_hint(make_project: MakeProject) -> None:
    project = make_project(
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


def test_ephemeral_sql_creates_no_object_and_nested_ephemerals_are_inlined(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/raw_numbers.sql": """
                -- @materialize: ephemeral
                SELECT * FROM range(5) AS t(n)
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
    assert project.sql("SELECT n, same FROM report ORDER BY n") == [(0, 0), (2, 2), (4, 4)]
    assert not [r for r in relations if "__il_" in r]


def test_ephemeral_sql_is_readable_by_a_python_model(make_project: MakeProject) -> None:
    project = make_project(
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
    assert project.sql("SELECT * FROM upper ORDER BY id") == [(1, "A"), (2, "B")]
    assert "main.base" not in project.relations()


def test_ephemeral_python_model_is_consumed_by_python_and_sql_models(
    make_project: MakeProject,
) -> None:
    project = make_project(
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
    assert project.sql("SELECT id, amount FROM doubled ORDER BY id") == [(1, 20), (2, 40)]
    assert project.sql("SELECT total FROM total") == [(30,)]
    relations = project.relations()
    assert "main.source" not in relations
    assert not [r for r in relations if r.startswith("__il_run_")]


def test_selecting_a_consumer_also_runs_its_python_ephemeral_upstream(
    make_project: MakeProject,
) -> None:
    project = make_project(
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
    assert project.sql("SELECT n FROM total") == [(3,)]


def test_materialize_none_sql_runs_the_statement_and_creates_no_model_object(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/create_seed.sql": """
                -- @materialize: none
                CREATE OR REPLACE TABLE seed AS SELECT 7 AS v
            """,
            "models/check_only.sql": """
                -- @materialize: none
                -- @dependencies: [create_seed]
                SELECT * FROM seed
            """,
        }
    )
    project.run_ok()
    relations = project.relations()
    assert "main.create_seed" not in relations
    assert "main.check_only" not in relations
    assert project.sql("SELECT v FROM seed") == [(7,)]


def test_materialize_none_python_model_feeds_its_consumers_for_this_run_only(
    make_project: MakeProject,
) -> None:
    project = make_project(
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
    assert project.sql("SELECT total FROM kept") == [(3,)]


def test_model_defaults_from_config_apply_when_a_model_does_not_say(
    make_project: MakeProject,
) -> None:
    config = """\
    connections:
      default: {type: duckdb, path: "data/{env}.duckdb"}
    models:
      default_schema: analytics
      default_materialize: view
    """
    project = make_project(
        {
            "models/defaulted.sql": "SELECT 1 AS id",
            "models/explicit.sql": "-- @materialize: table\n-- @schema: main\nSELECT 2 AS id",
        },
        config=config,
    )
    project.run_ok()
    relations = project.relations()
    assert relations["analytics.defaulted"] == "VIEW"
    assert relations["main.explicit"] == "BASE TABLE"


def test_view_reading_a_python_ephemeral_model_is_refused_at_load(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/source.py": """
                from interlace import model

                @model(materialize="ephemeral")
                def source():
                    return [{"id": 1}]
            """,
            "models/passthrough.sql": "-- @materialize: ephemeral\nSELECT * FROM source",
            "models/live.sql": "-- @materialize: view\nSELECT * FROM passthrough",
        }
    )
    with pytest.raises(ModelDefinitionError) as info:
        project.load()
    error = info.value
    assert (error.file, error.line, error.model) == ("models/live.sql", 1, "live")
    assert "reads 'source'" in str(error)
    assert "as a table" in (error.hint or "")
