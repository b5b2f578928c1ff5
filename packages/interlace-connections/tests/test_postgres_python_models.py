"""Python models on PostgreSQL: lazy ibis inputs, ibis results compiled to PostgreSQL SQL, and
in-memory results (Arrow, pandas, dict rows) loaded with COPY, batch by batch (SPEC §2.2, §2.3)."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import TYPE_CHECKING

from interlace.engines.base import Column

if TYPE_CHECKING:
    from conftest import PgProject


def test_ibis_model_gets_lazy_postgres_tables_and_its_result_runs_in_the_server(
    pg_project: PgProject,
) -> None:
    pg_project.write(
        {
            "models/orders.sql": """
                SELECT * FROM (VALUES (1, 'a', 10.5), (2, 'b', 20.0), (3, 'a', 4.5))
                    AS t(id, customer, amount)
            """,
            "models/per_customer.py": """
                from interlace import model

                SEEN = []

                @model
                def per_customer(orders, context):
                    # the input is a lazy ibis table on this model's own PostgreSQL connection
                    backend = orders._find_backend()
                    assert backend.name == "postgres", backend.name
                    assert backend.con is context.connection
                    return (
                        orders.group_by("customer")
                        .aggregate(total=orders.amount.sum(), n=orders.count())
                        .order_by("customer")
                    )
            """,
        }
    )
    pg_project.run_ok()
    assert pg_project.rows("per_customer", "customer") == [
        {"customer": "a", "total": decimal.Decimal("15.0"), "n": 2},
        {"customer": "b", "total": decimal.Decimal("20.0"), "n": 1},
    ]


def test_ibis_memtable_and_ibis_on_another_backend_are_loaded(pg_project: PgProject) -> None:
    pg_project.write(
        {
            "models/py.py": """
                import ibis
                from interlace import model

                @model
                def from_memtable():
                    return ibis.memtable({"id": [1, 2], "v": ["x", "y"]})

                @model
                def from_duckdb():
                    # built on another connection: streamed across as Arrow batches
                    t = ibis.duckdb.connect().sql("SELECT * FROM range(1, 4) AS t(id)")
                    return t.filter(t.id >= 2)
            """
        }
    )
    pg_project.run_ok()
    assert pg_project.rows("from_memtable", "id") == [{"id": 1, "v": "x"}, {"id": 2, "v": "y"}]
    assert pg_project.rows("from_duckdb", "id") == [{"id": 2}, {"id": 3}]


def test_arrow_types_round_trip_through_copy(pg_project: PgProject) -> None:
    pg_project.write(
        {
            "models/typed.py": """
                import datetime as dt
                import decimal

                import pyarrow as pa
                from interlace import model

                @model
                def typed():
                    ts = dt.datetime(2024, 2, 29, 23, 59, 58, 123456)
                    return pa.table({
                        "i8": pa.array([1, None], pa.int8()),
                        "i32": pa.array([-5, 7], pa.int32()),
                        "i64": pa.array([2**62, None], pa.int64()),
                        "u64": pa.array([2**64 - 1, 0], pa.uint64()),
                        "f32": pa.array([1.5, None], pa.float32()),
                        "f64": pa.array([0.1, float("inf")], pa.float64()),
                        "dec": pa.array([decimal.Decimal("12.34"), None], pa.decimal128(10, 2)),
                        "s": pa.array(['quote " comma, newline\\nend', ""], pa.string()),
                        "s_null": pa.array([None, "x"], pa.large_string()),
                        "cat": pa.array(["a", "b"]).dictionary_encode(),
                        "b": pa.array([True, None]),
                        "d": pa.array([dt.date(2024, 1, 31), None], pa.date32()),
                        "ts": pa.array([ts, None], pa.timestamp("us")),
                        "tsz": pa.array([ts, None], pa.timestamp("us", tz="Europe/Amsterdam")),
                        "t": pa.array([dt.time(12, 30, 1), None], pa.time64("us")),
                        "dur": pa.array([dt.timedelta(days=1, seconds=5), None], pa.duration("us")),
                        "bin": pa.array([b"\\x00\\xffab", None], pa.binary()),
                        "ints": pa.array([[1, None, 3], None], pa.list_(pa.int64())),
                        "strs": pa.array([['a "q"', "b,c"], []], pa.list_(pa.string())),
                        "obj": pa.array([{"k": 1, "n": "x"}, None],
                                        pa.struct([("k", pa.int64()), ("n", pa.string())])),
                        "nulls": pa.array([None, None], pa.null()),
                    })
            """
        }
    )
    pg_project.run_ok()
    assert pg_project.columns("typed") == {
        "i8": "smallint",
        "i32": "integer",
        "i64": "bigint",
        "u64": "numeric",
        "f32": "real",
        "f64": "double precision",
        "dec": "numeric",
        "s": "text",
        "s_null": "text",
        "cat": "text",
        "b": "boolean",
        "d": "date",
        "ts": "timestamp without time zone",
        "tsz": "timestamp with time zone",
        "t": "time without time zone",
        "dur": "interval",
        "bin": "bytea",
        "ints": "ARRAY",
        "strs": "ARRAY",
        "obj": "jsonb",
        "nulls": "text",
    }
    rows = pg_project.rows("typed", "i32")
    ts = dt.datetime(2024, 2, 29, 23, 59, 58, 123456)
    assert rows[0] == {
        "i8": 1,
        "i32": -5,
        "i64": 2**62,
        "u64": decimal.Decimal(2**64 - 1),
        "f32": 1.5,
        "f64": 0.1,
        "dec": decimal.Decimal("12.34"),
        "s": 'quote " comma, newline\nend',
        "s_null": None,
        "cat": "a",
        "b": True,
        "d": dt.date(2024, 1, 31),
        "ts": ts,
        "tsz": ts.replace(tzinfo=dt.UTC),  # Arrow reads naive datetimes as UTC instants
        "t": dt.time(12, 30, 1),
        "dur": dt.timedelta(days=1, seconds=5),
        "bin": b"\x00\xffab",
        "ints": [1, None, 3],
        "strs": ['a "q"', "b,c"],
        "obj": {"k": 1, "n": "x"},
        "nulls": None,
    }
    assert rows[1] == {
        "i8": None,
        "i32": 7,
        "i64": None,
        "u64": decimal.Decimal(0),
        "f32": None,
        "f64": float("inf"),
        "dec": None,
        "s": "",
        "s_null": "x",
        "cat": "b",
        "b": None,
        "d": None,
        "ts": None,
        "tsz": None,
        "t": None,
        "dur": None,
        "bin": None,
        "ints": None,
        "strs": [],
        "obj": None,
        "nulls": None,
    }


def test_pandas_list_of_dicts_dict_of_columns_and_async_results(pg_project: PgProject) -> None:
    pg_project.write(
        {
            "models/many.py": """
                import asyncio

                import pandas as pd
                from interlace import model

                @model
                def from_pandas():
                    return pd.DataFrame({"id": [1, 2], "v": ["a", None]})

                @model
                def from_rows():
                    return [{"id": 1, "v": "a"}, {"id": 2}]

                @model
                def from_columns():
                    return {"id": [3, 4], "ok": [True, False]}

                @model
                async def from_async():
                    await asyncio.sleep(0)
                    for i in range(3):
                        yield {"id": i}

                @model(fields={"id": "int64", "label": "string"})
                def empty():
                    return []
            """
        }
    )
    pg_project.run_ok()
    assert pg_project.rows("from_pandas", "id") == [{"id": 1, "v": "a"}, {"id": 2, "v": None}]
    assert pg_project.rows("from_rows", "id") == [{"id": 1, "v": "a"}, {"id": 2, "v": None}]
    assert pg_project.rows("from_columns", "id") == [
        {"id": 3, "ok": True},
        {"id": 4, "ok": False},
    ]
    assert pg_project.rows("from_async", "id") == [{"id": 0}, {"id": 1}, {"id": 2}]
    assert pg_project.rows("empty") == []
    assert pg_project.columns("empty") == {"id": "bigint", "label": "text"}


def test_large_arrow_stream_loads_batch_by_batch_in_bounded_memory(pg_project: PgProject) -> None:
    """1.2M rows from a generator: Arrow memory stays at a few batches, never the stream."""
    pg_project.write(
        {
            "models/big.py": """
                from pathlib import Path

                import numpy as np
                import pyarrow as pa
                from interlace import model

                BATCHES, ROWS = 24, 50_000

                @model(schema="bulk")
                def big():
                    peak = 0
                    for b in range(BATCHES):
                        start = b * ROWS
                        yield pa.RecordBatch.from_pydict({
                            "id": pa.array(np.arange(start, start + ROWS), pa.int64()),
                            "payload": pa.array(np.full(ROWS, "x" * 40)),
                        })
                        peak = max(peak, pa.total_allocated_bytes())
                    (Path(__file__).parent.parent / "peak.txt").write_text(str(peak))
            """
        }
    )
    result = pg_project.run_ok()
    assert result.models["big"].rows == 1_200_000
    assert pg_project.sql("SELECT count(*), sum(id), min(id), max(id) FROM bulk.big") == [
        (1_200_000, sum(range(1_200_000)), 0, 1_199_999)
    ]
    peak = int((pg_project.root / "peak.txt").read_text())
    one_batch = 50_000 * (8 + 40 + 4)
    # holding the stream would take ~24 batches; the loader holds one at a time
    assert peak < 6 * one_batch, (peak, one_batch)


def test_describe_reports_types_schema_modes_understand(pg_project: PgProject) -> None:
    from interlace.api import open_engines
    from interlace.schema_modes import normalize

    pg_project.sql(
        "CREATE TABLE public.t (a int, b bigint, c double precision, d numeric(12, 2), "
        "e varchar(5), f text, g timestamp, h timestamptz, i boolean, j int[], k bytea)"
    )
    project = pg_project.load()
    engine = open_engines(project)["default"]
    session = engine.session()
    try:
        columns = session.describe("public", "t")
        assert session.relation_kind("public", "t") == "table"
        assert session.relation_kind("public", "missing") is None
    finally:
        session.close()
        engine.close()
    assert columns == [
        Column("a", "INTEGER"),
        Column("b", "BIGINT"),
        Column("c", "DOUBLE"),
        Column("d", "DECIMAL(12,2)"),
        Column("e", "VARCHAR(5)"),
        Column("f", "TEXT"),
        Column("g", "TIMESTAMP"),
        Column("h", "TIMESTAMPTZ"),
        Column("i", "BOOLEAN"),
        Column("j", "INTEGER[]"),
        Column("k", "BYTEA"),
    ]
    assert [normalize(c.type) for c in columns[:6]] == [
        "INTEGER",
        "BIGINT",
        "DOUBLE",
        "DECIMAL(12,2)",
        "VARCHAR(5)",
        "VARCHAR",
    ]
