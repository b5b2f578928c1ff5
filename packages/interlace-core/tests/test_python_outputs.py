"""Every return shape a Python model may produce (SPEC §2.3) lands as a table (§4.4 options)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import MakeProject


def test_ibis_expression_over_upstream_tables_runs_inside_the_engine(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/orders.sql": """
                SELECT * FROM (VALUES (1, 'a', 10), (2, 'a', 5), (3, 'b', 7))
                    AS t(id, customer, amount)
            """,
            "models/customers.sql": "SELECT * FROM (VALUES ('a', 'Ann'), ('b', 'Bob')) AS t(id, name)",
            "models/revenue.py": """
                from interlace import model

                @model
                def revenue(orders, customers):
                    joined = orders.join(customers, orders.customer == customers.id)
                    return joined.group_by("name").agg(total=joined.amount.sum())
            """,
        }
    )
    result = project.run_ok()
    assert result.models["revenue"].rows == 2
    assert project.load().models["revenue"].depends_on == ("orders", "customers")
    assert project.rows("revenue") == [
        {"name": "Ann", "total": 15},
        {"name": "Bob", "total": 7},
    ]


def test_pyarrow_table_is_written_with_its_types(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/arrow_table.py": """
                import pyarrow as pa
                from interlace import model

                @model
                def arrow_table():
                    return pa.table({
                        "id": pa.array([1, 2], pa.int32()),
                        "label": ["x", None],
                    })
            """
        }
    )
    project.run_ok()
    assert project.columns("arrow_table") == {"id": "INTEGER", "label": "VARCHAR"}
    assert project.sql("SELECT * FROM arrow_table ORDER BY id") == [(1, "x"), (2, None)]


def test_record_batch_reader_is_streamed_into_the_table(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/reader.py": """
                import pyarrow as pa
                from interlace import model

                @model
                def reader():
                    schema = pa.schema([("n", pa.int64())])
                    batches = (pa.record_batch([pa.array(range(i, i + 100))], schema=schema)
                               for i in range(0, 1000, 100))
                    return pa.RecordBatchReader.from_batches(schema, batches)
            """
        }
    )
    result = project.run_ok()
    assert result.models["reader"].rows == 1000
    assert project.sql("SELECT min(n), max(n), count(DISTINCT n) FROM reader") == [(0, 999, 1000)]


def test_pandas_dataframe_is_written(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/frame.py": """
                import pandas as pd
                from interlace import model

                @model
                def frame():
                    return pd.DataFrame({"id": [1, 2, 3], "score": [0.5, 1.5, None]})
            """
        }
    )
    project.run_ok()
    assert project.columns("frame") == {"id": "BIGINT", "score": "DOUBLE"}
    assert project.sql("SELECT id, score FROM frame ORDER BY id") == [
        (1, 0.5),
        (2, 1.5),
        (3, None),
    ]


def test_polars_dataframe_and_lazyframe_are_written(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/pl.py": """
                import polars as pl
                from interlace import model

                @model
                def eager():
                    return pl.DataFrame({"id": [1, 2], "name": ["a", "b"]})

                @model
                def lazy():
                    return pl.LazyFrame({"id": [3]}).with_columns(double=pl.col("id") * 2)
            """
        }
    )
    project.run_ok()
    assert project.sql("SELECT * FROM eager ORDER BY id") == [(1, "a"), (2, "b")]
    assert project.sql("SELECT * FROM lazy") == [(3, 6)]


def test_list_of_dicts_with_differing_keys_keeps_every_column(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/rows.py": """
                from interlace import model

                @model
                def rows():
                    return [
                        {"id": 1, "a": "first"},
                        {"id": 2, "b": 2.5},
                        {"id": 3, "a": "third", "c": True},
                    ]
            """
        }
    )
    result = project.run_ok()
    assert result.models["rows"].rows == 3
    assert list(project.columns("rows")) == ["id", "a", "b", "c"]
    assert project.rows("rows", order_by="id") == [
        {"id": 1, "a": "first", "b": None, "c": None},
        {"id": 2, "a": None, "b": 2.5, "c": None},
        {"id": 3, "a": "third", "b": None, "c": True},
    ]


def test_dict_of_columns_is_written(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/cols.py": """
                from interlace import model

                @model
                def cols():
                    return {"id": [1, 2, 3], "name": ["a", "b", "c"]}
            """
        }
    )
    project.run_ok()
    assert project.sql("SELECT * FROM cols ORDER BY id") == [(1, "a"), (2, "b"), (3, "c")]


def test_generator_of_arrow_batches_is_streamed(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/batches.py": """
                import pyarrow as pa
                from interlace import model

                @model
                def batches():
                    for start in range(0, 30, 10):
                        yield pa.record_batch({"n": list(range(start, start + 10))})
                    yield pa.table({"n": [30, 31]})  # a Table counts as batches too
            """
        }
    )
    result = project.run_ok()
    assert result.models["batches"].rows == 32
    assert project.sql("SELECT count(*), sum(n) FROM batches") == [(32, sum(range(32)))]


def test_generator_of_dict_rows_spanning_several_batches_writes_every_row(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/events.py": """
                from interlace import model

                @model
                def events():
                    for i in range(25_001):
                        yield {"id": i, "kind": "even" if i % 2 == 0 else "odd"}
            """
        }
    )
    result = project.run_ok()
    assert result.models["events"].rows == 25_001
    assert project.sql("SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind") == [
        ("even", 12_501),
        ("odd", 12_500),
    ]
    assert project.sql("SELECT count(DISTINCT id), max(id) FROM events") == [(25_001, 25_000)]


def test_generator_of_dict_rows_with_a_new_key_after_the_first_batch_fails_loudly(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/late_key.py": """
                from interlace import model

                @model
                def late_key():
                    for i in range(10_005):
                        row = {"id": i}
                        if i == 10_003:
                            row["surprise"] = "x"
                        yield row
            """
        }
    )
    result = project.run()
    failure = result.models["late_key"]
    assert failure.status == "failed"
    assert failure.error_type == "UnsupportedResultError"
    assert "row 10003 has column(s) ['surprise']" in (failure.error or "")
    assert "fields=" in (failure.error or "")
    assert "late_key" not in project.relations()


def test_async_model_is_awaited(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/fetched.py": """
                import asyncio
                from interlace import model

                @model
                async def fetched():
                    await asyncio.sleep(0)
                    return [{"id": 1}, {"id": 2}]

                @model
                async def fetch_stream():
                    for i in range(3):
                        await asyncio.sleep(0)
                        yield {"id": i}
            """
        }
    )
    project.run_ok()
    assert project.sql("SELECT id FROM fetched ORDER BY id") == [(1,), (2,)]
    assert project.sql("SELECT id FROM fetch_stream ORDER BY id") == [(0,), (1,), (2,)]


def test_model_returning_none_runs_for_its_side_effect_and_creates_nothing(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/audit.py": """
                from interlace import model

                @model
                def audit(context):
                    context.connection.execute("CREATE TABLE IF NOT EXISTS audit_log (ts INTEGER)")
                    context.connection.execute("INSERT INTO audit_log VALUES (1)")
            """
        }
    )
    result = project.run_ok()
    assert result.models["audit"].rows is None
    assert "main.audit" not in project.relations()
    assert project.sql("SELECT * FROM audit_log") == [(1,)]


def test_empty_list_with_fields_creates_an_empty_typed_table(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/nothing_yet.py": """
                import datetime
                from interlace import model

                @model(fields={"id": "int64", "name": str, "at": datetime.datetime,
                               "price": "decimal(10, 2)"})
                def nothing_yet():
                    return []
            """
        }
    )
    result = project.run_ok()
    assert result.models["nothing_yet"].rows == 0
    assert project.columns("nothing_yet") == {
        "id": "BIGINT",
        "name": "VARCHAR",
        "at": "TIMESTAMP",
        "price": "DECIMAL(10,2)",
    }


def test_empty_result_without_fields_fails_with_a_hint_to_declare_fields(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/nothing.py": """
                from interlace import model

                @model
                def nothing():
                    return []
            """
        }
    )
    result = project.run()
    assert result.models["nothing"].status == "failed"
    assert "fields=" in (result.models["nothing"].error or "")


def test_fields_cast_columns_and_add_declared_missing_ones(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/typed.py": """
                from interlace import model

                @model(fields={"id": "int32", "amount": "decimal(10, 2)", "day": "date",
                               "note": "string"})
                def typed():
                    return [{"id": "1", "amount": 1.5, "day": "2024-01-31"}]
            """
        }
    )
    project.run_ok()
    assert project.columns("typed") == {
        "id": "INTEGER",
        "amount": "DECIMAL(10,2)",
        "day": "DATE",
        "note": "VARCHAR",
    }
    row = project.rows("typed")[0]
    assert row["id"] == 1
    assert str(row["amount"]) == "1.50"
    assert row["day"] == dt.date(2024, 1, 31)
    assert row["note"] is None


def test_column_mapping_renames_and_fields_apply_to_the_new_names(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/renamed.py": """
                from interlace import model

                @model(column_mapping={"CustomerID": "customer_id", "Total": "total"},
                       fields={"total": "float64"})
                def renamed():
                    return [{"CustomerID": 7, "Total": 3, "other": "kept"}]
            """
        }
    )
    project.run_ok()
    assert project.columns("renamed") == {
        "customer_id": "BIGINT",
        "total": "DOUBLE",
        "other": "VARCHAR",
    }
    assert project.sql("SELECT * FROM renamed") == [(7, 3.0, "kept")]


def test_column_mapping_of_a_missing_column_fails_naming_it(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/renamed.py": """
                from interlace import model

                @model(column_mapping={"nope": "yes"})
                def renamed():
                    return [{"id": 1}]
            """
        }
    )
    failure = project.run().models["renamed"]
    assert failure.status == "failed"
    assert "nope" in (failure.error or "")
    assert "id" in (failure.error or "")


def test_strict_keeps_only_declared_columns(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/narrow.py": """
                import pyarrow as pa
                from interlace import model

                @model(fields={"id": "int64", "name": "string"}, strict=True)
                def narrow():
                    return pa.table({"id": [1], "name": ["a"], "secret": ["s"], "junk": [0]})
            """
        }
    )
    project.run_ok()
    assert project.columns("narrow") == {"id": "BIGINT", "name": "VARCHAR"}
    assert project.sql("SELECT * FROM narrow") == [(1, "a")]


def test_unsupported_return_type_fails_with_the_type_and_the_accepted_shapes(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/answer.py": """
                from interlace import model

                @model
                def answer():
                    return 42
            """
        }
    )
    result = project.run()
    failure = result.models["answer"]
    assert result.status == "failed"
    assert failure.status == "failed"
    assert failure.error_type == "UnsupportedResultError"
    assert "int" in (failure.error or "")
    assert "list of dicts" in (failure.error or "")
    assert failure.location == "models/answer.py:3"


def test_list_of_non_dicts_fails_naming_the_element_type(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/tuples.py": """
                from interlace import model

                @model
                def tuples():
                    return [(1, 2)]
            """
        }
    )
    failure = project.run().models["tuples"]
    assert failure.status == "failed"
    assert "tuple" in (failure.error or "")


def test_an_arrow_stream_from_the_models_own_connection_is_written_whole(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader taken from ``context.connection`` is a pending result of the task's cursor: it
    is read before the cursor runs anything else (which would empty it, or wait forever on the
    cursor's lock), in memory up to a limit and spilled to a file beyond it."""
    import interlace.engines.duckdb as duckdb_engine

    monkeypatch.setattr(duckdb_engine, "SPOOL_MEMORY", 64 * 1024)  # spill the big one
    project = make_project(
        {
            "models/small.py": """
                from interlace import model

                @model
                def small(context):
                    return context.connection.sql("SELECT 1 AS x").arrow()
            """,
            "models/big.py": """
                from interlace import model

                @model
                def big(context):
                    return context.connection.sql(
                        "SELECT range AS id, 'row ' || range AS label FROM range(200000)"
                    ).arrow()
            """,
        }
    )
    result = project.run_ok()
    assert result.models["small"].rows == 1
    assert result.models["big"].rows == 200_000
    assert project.sql("SELECT count(*), count(DISTINCT id), max(label) FROM big") == [
        (200_000, 200_000, "row 99999")
    ]


def test_a_generator_reading_its_connection_while_streamed_is_written_whole(
    make_project: MakeProject,
) -> None:
    """A generator's batches are scanned as they come (no copy of the stream): its body runs
    inside DuckDB's scan, where ``context.connection`` and ``context.ibis`` are a cursor of
    their own, so reading the database there neither waits forever nor empties anything."""
    project = make_project(
        {
            "models/numbers.sql": "select range as id from range(50000)",
            "models/lazy.py": """
                import pyarrow as pa
                from interlace import model

                @model(dependencies=["numbers"])
                def lazy(context):
                    yield pa.record_batch({"id": [-1]})
                    # runs while DuckDB scans the stream: reads through a side cursor
                    reader = context.connection.sql(
                        "select id from main.numbers order by id"
                    ).to_arrow_reader(10_000)
                    yield from reader
                    total = context.ibis.table("numbers", database="main").count().execute()
                    yield pa.record_batch({"id": [int(total)]})
            """,
            "models/taken_first.py": """
                from interlace import model

                @model(dependencies=["numbers"])
                def taken_first(context):
                    reader = context.connection.sql(
                        "select id from main.numbers"
                    ).to_arrow_reader(10_000)
                    yield from reader
            """,
        }
    )
    result = project.run_ok()
    assert result.models["lazy"].rows == 50_002
    assert project.sql("select count(*), min(id), max(id) from lazy") == [(50_002, -1, 50_000)]
    assert result.models["taken_first"].rows == 50_000
