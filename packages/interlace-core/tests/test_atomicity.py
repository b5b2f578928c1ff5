"""Every write is atomic: a model that fails mid-way leaves the previous table as it was (§3.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

GOOD_STREAM = """
from interlace import model

@model(strategy="{strategy}")
def stream():
    for i in range(3):
        yield {{"id": i, "v": "old"}}
"""

BROKEN_STREAM = """
import pyarrow as pa
from interlace import model

@model(strategy="{strategy}")
def stream():
    for i in range(5):
        yield pa.record_batch({{"id": list(range(i * 100, i * 100 + 100)), "v": ["new"] * 100}})
    raise RuntimeError("source went away")
"""


def _staging_tables(project: ProjectDir) -> list[str]:
    return [name for name in project.relations() if "__il_stage_" in name]


def _assert_broken_stream_keeps_previous_rows(project: ProjectDir, strategy: str) -> None:
    project.write({"models/stream.py": GOOD_STREAM.format(strategy=strategy)})
    project.run_ok()
    before = project.rows("stream")
    assert before == [{"id": i, "v": "old"} for i in range(3)]

    project.write({"models/stream.py": BROKEN_STREAM.format(strategy=strategy)})
    result = project.run()
    failure = result.models["stream"]
    assert result.status == "failed"
    assert failure.status == "failed"
    # the model's own exception, not the engine's wrapper around the batch stream
    assert failure.error == "RuntimeError: source went away"
    assert failure.location == "models/stream.py:8"
    assert 'models/stream.py", line 8, in stream' in (failure.traceback or "")
    assert "interlace/" not in (failure.traceback or "")
    assert project.rows("stream") == before
    assert _staging_tables(project) == []


def test_generator_failing_after_some_batches_leaves_the_replaced_table_untouched(
    make_project: MakeProject,
) -> None:
    _assert_broken_stream_keeps_previous_rows(make_project(), "replace")


def test_generator_failing_after_some_batches_appends_nothing(make_project: MakeProject) -> None:
    _assert_broken_stream_keeps_previous_rows(make_project(), "append")


def test_failed_run_then_fixed_model_converges(make_project: MakeProject) -> None:
    project = make_project()
    _assert_broken_stream_keeps_previous_rows(project, "replace")
    project.write({"models/stream.py": GOOD_STREAM.format(strategy="replace").replace("3", "4")})
    result = project.run_ok()
    assert result.models["stream"].rows == 4
    assert project.count("stream") == 4
    assert _staging_tables(project) == []


def test_sql_model_failing_at_run_time_leaves_its_previous_table(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/amounts.sql": "SELECT * FROM (VALUES ('1'), ('2')) AS t(raw)",
            "models/parsed.sql": "SELECT CAST(raw AS INTEGER) AS amount FROM amounts",
        }
    )
    project.run_ok()
    assert project.sql("SELECT amount FROM parsed ORDER BY 1") == [(1,), (2,)]

    # upstream now carries a value the cast cannot take: amounts succeeds, parsed fails
    project.write({"models/amounts.sql": "SELECT * FROM (VALUES ('3'), ('three')) AS t(raw)"})
    result = project.run()
    assert result.models["amounts"].status == "success"
    failure = result.models["parsed"]
    assert failure.status == "failed"
    assert "three" in (failure.error or "")
    assert failure.location == "models/parsed.sql:1"
    assert project.sql("SELECT amount FROM parsed ORDER BY 1") == [(1,), (2,)]
    assert _staging_tables(project) == []

    project.write({"models/amounts.sql": "SELECT * FROM (VALUES ('3'), ('4')) AS t(raw)"})
    project.run_ok()
    assert project.sql("SELECT amount FROM parsed ORDER BY 1") == [(3,), (4,)]


def test_append_with_a_failing_cast_inserts_nothing(make_project: MakeProject) -> None:
    project = make_project(
        {"models/ledger.sql": "-- @strategy: append\nSELECT CAST('1' AS INTEGER) AS amount"}
    )
    project.run_ok()
    project.write(
        {
            "models/ledger.sql": """
                -- @strategy: append
                SELECT CAST(x AS INTEGER) AS amount FROM (VALUES ('2'), ('x')) AS t(x)
            """
        }
    )
    assert project.run().models["ledger"].status == "failed"
    assert project.sql("SELECT amount FROM ledger") == [(1,)]
    assert _staging_tables(project) == []


def test_staging_tables_left_by_a_killed_run_are_removed_by_the_next_run(
    make_project: MakeProject,
) -> None:
    project = make_project({"models/item.sql": "SELECT 1 AS id"})
    project.run_ok()
    with duckdb.connect(str(project.db_path())) as con:
        con.execute('CREATE TABLE main."__il_stage_item_deadbeef" AS SELECT 1 AS id')
        con.execute('CREATE SCHEMA "__il_run_deadbeef0000"')
        con.execute('CREATE TABLE "__il_run_deadbeef0000".scratch AS SELECT 1 AS id')
    project.run_ok()
    relations = project.relations()
    assert _staging_tables(project) == []
    assert not project.sql(
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '__il_run_%'"
    )
    assert relations["main.item"] == "BASE TABLE"
