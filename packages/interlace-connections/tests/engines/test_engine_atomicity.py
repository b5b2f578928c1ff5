"""Every write is atomic on every engine: a model that fails mid-way leaves the previous table as
it was, and leaves no staging table behind (SPEC §3.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .conftest import schema_names

if TYPE_CHECKING:
    from .conftest import EngineProject

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

GENERATOR = """
import pyarrow as pa
from pathlib import Path
from interlace import model

@model(strategy={strategy!r})
def feed():
    fail = (Path(__file__).parent.parent / "fail").exists()
    for b in range(5):
        if fail and b == 3:
            raise RuntimeError("feed broke after three batches")
        yield pa.RecordBatch.from_pydict({{"id": list(range(b * 10, b * 10 + 10))}})
"""


def leftovers(project: EngineProject) -> list[str]:
    """Staging tables and run schemas a write left behind."""
    found = [name for name in project.relations() if "__il_" in name]
    found += [s for s in schema_names(project) if s.startswith("__il_run")]
    if project.engine == "postgres":  # any relation, temporary ones of other sessions too
        relations = project.sql("SELECT relname FROM pg_class WHERE relname LIKE '\\_\\_il%'")
        found += [str(name) for (name,) in relations]
    return found


def assert_broken_stream_keeps_previous_rows(project: EngineProject, strategy: str) -> None:
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
    assert leftovers(project) == []


@pytest.mark.parametrize("strategy", ["replace", "append"])
def test_generator_failing_after_some_batches_leaves_the_table_untouched(
    project: EngineProject, strategy: str
) -> None:
    assert_broken_stream_keeps_previous_rows(project, strategy)


@pytest.mark.parametrize("strategy", ["replace", "append"])
def test_generator_failing_mid_stream_on_a_forced_rerun_leaves_the_table_untouched(
    project: EngineProject, strategy: str
) -> None:
    project.write({"models/feed.py": GENERATOR.format(strategy=strategy)})
    project.run_ok()
    before = project.rows("feed", "id")
    assert len(before) == 50
    (project.root / "fail").touch()
    result = project.run(force=True)
    feed = result.models["feed"]
    assert feed.status == "failed"
    assert "feed broke after three batches" in (feed.error or "")
    assert feed.location == "models/feed.py:10"  # the model's own line, not the loader's
    assert project.rows("feed", "id") == before
    assert leftovers(project) == []


def test_failed_run_then_fixed_model_converges(project: EngineProject) -> None:
    assert_broken_stream_keeps_previous_rows(project, "replace")
    project.write({"models/stream.py": GOOD_STREAM.format(strategy="replace").replace("3", "4")})
    result = project.run_ok()
    assert result.models["stream"].rows == 4
    assert project.count("stream") == 4
    assert leftovers(project) == []


@pytest.mark.notimpl(
    ["spark"],
    reason="a DuckDB-dialect model's CAST(column AS INTEGER) is refused on Spark before it "
    "runs (DuckDB rounds a fraction, Spark truncates, and the column's type is not known when "
    "the SQL is checked)",
)
def test_sql_model_failing_at_run_time_leaves_its_previous_table(project: EngineProject) -> None:
    project.write(
        {
            "models/amounts.sql": "SELECT * FROM (VALUES ('1'), ('2')) AS t(raw)",
            "models/parsed.sql": "SELECT CAST(raw AS INTEGER) AS amount FROM amounts",
        }
    )
    project.run_ok()
    assert project.sql("SELECT amount FROM main.parsed ORDER BY 1") == [(1,), (2,)]

    # upstream now carries a value the cast cannot take: amounts succeeds, parsed fails
    project.write({"models/amounts.sql": "SELECT * FROM (VALUES ('3'), ('three')) AS t(raw)"})
    result = project.run()
    assert result.models["amounts"].status == "success"
    failure = result.models["parsed"]
    assert failure.status == "failed"
    assert "three" in (failure.error or "")
    assert failure.location == "models/parsed.sql:1"
    assert project.sql("SELECT amount FROM main.parsed ORDER BY 1") == [(1,), (2,)]
    assert leftovers(project) == []

    project.write({"models/amounts.sql": "SELECT * FROM (VALUES ('3'), ('4')) AS t(raw)"})
    project.run_ok()
    assert project.sql("SELECT amount FROM main.parsed ORDER BY 1") == [(3,), (4,)]


@pytest.mark.notimpl(["duckdb"], reason="DuckDB's integer division by zero is NULL, not an error")
def test_sql_model_failing_inside_the_publish_transaction_keeps_the_previous_table(
    project: EngineProject,
) -> None:
    nums = "(SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3) AS t"  # every engine's SQL
    project.write({"models/nums.sql": f"SELECT n FROM {nums}"})
    project.run_ok()
    # division by zero on the last row: the CREATE TABLE AS of the staging copy fails
    project.write({"models/nums.sql": f"SELECT 10 / (3 - n) AS n FROM {nums}"})
    result = project.run()
    assert result.models["nums"].status == "failed"
    error = (result.models["nums"].error or "").lower()
    assert "division by zero" in error or "division by 0" in error  # MySQL says 0
    assert project.rows("nums", "n") == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_append_with_a_failing_cast_inserts_nothing(project: EngineProject) -> None:
    project.write(
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
    assert project.sql("SELECT amount FROM main.ledger") == [(1,)]
    assert leftovers(project) == []


def test_append_with_a_failing_coercion_inserts_nothing(project: EngineProject) -> None:
    project.write(
        {
            "models/log.sql": """
                -- @strategy: append
                -- @schema_mode: flexible
                SELECT 1 AS n
            """
        }
    )
    project.run_ok()
    # flexible coerces the text to the table's integer type: one value does not fit
    project.write(
        {
            "models/log.sql": """
                -- @strategy: append
                -- @schema_mode: flexible
                SELECT * FROM (VALUES ('2'), ('not a number')) AS t(n)
            """
        }
    )
    result = project.run()
    assert result.models["log"].status == "failed"
    assert project.rows("log") == [{"n": 1}]
    assert leftovers(project) == []


def test_staging_tables_left_by_a_killed_run_are_removed_by_the_next_run(
    project: EngineProject,
) -> None:
    project.write({"models/item.sql": "SELECT 1 AS id"})
    project.run_ok()
    project.execute(
        'CREATE TABLE main."__il_stage_item_deadbeef" AS SELECT 1 AS id; '
        'CREATE SCHEMA "__il_run_deadbeef0000"; '
        'CREATE TABLE "__il_run_deadbeef0000".scratch AS SELECT 1 AS id'
    )
    project.run_ok()
    assert leftovers(project) == []
    assert project.kind("item") == "table"
