"""Spark results stream out as Arrow batches (cross-connection reads, exports), one partition
and one batch at a time, never the whole result in the driver's memory."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from .conftest import SparkProject


def test_a_result_larger_than_a_batch_streams_in_batches(
    spark_project: SparkProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interlace.opening import open_engines
    from interlace_connections.spark import engine as spark_engine

    monkeypatch.setattr(spark_engine, "ROWS_PER_BATCH", 1_000)
    project = spark_project.write(
        {
            "models/numbers.sql": (
                "SELECT n, CAST(n AS VARCHAR) AS label, TIMESTAMP '2024-01-01 00:00:00' AS at "
                "FROM range(5500) AS t(n)"
            )
        }
    )
    project.run_ok()
    engine = open_engines(project.load(), ["default"])["default"]
    session = engine.session()
    try:
        reader = session.fetch_batches("SELECT n, label, at FROM main.numbers ORDER BY n")
        sizes: list[int] = []
        first: dict[str, Any] = {}
        for batch in reader:
            sizes.append(batch.num_rows)
            if not first:
                first = batch.to_pylist()[0]
    finally:
        session.close()
        engine.close()
    assert sum(sizes) == 5500
    assert len(sizes) >= 6 and max(sizes) <= 1_000  # batched, not collected whole
    assert first["n"] == 0 and first["label"] == "0"
    assert str(first["at"]) == "2024-01-01 00:00:00"  # TIMESTAMP_NTZ stays without a zone


def test_a_duckdb_model_and_an_export_read_a_large_spark_model_in_batches(
    spark_project: SparkProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interlace_connections.spark import engine as spark_engine

    seen: list[int] = []
    batches = spark_engine._row_batches

    def counted(rows: Any, schema: Any) -> Any:
        for batch in batches(rows, schema):
            seen.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(spark_engine, "ROWS_PER_BATCH", 2_000)
    monkeypatch.setattr(spark_engine, "_row_batches", counted)
    project = spark_project
    project.add_connection("duck", '{type: duckdb, path: "data/duck.duckdb"}')
    project.write(
        {
            "models/m.sql": """
                -- @name: big
                -- @export: exports/big.parquet
                select n, n % 7 as k from range(10000) as t(n)
                -- @name: summed
                -- @connection: duck
                select count(*) as rows, sum(n) as total from big
            """,
        }
    )
    project.run_ok()
    assert project.sql("SELECT rows, total FROM main.summed", connection="duck") == [
        (10_000, 49_995_000)
    ]
    # the export and the cross-connection read both streamed the 10,000 rows in batches
    assert sum(seen) == 20_000 and len(seen) >= 10 and max(seen) <= 2_000
    exported = duckdb.sql(f"SELECT count(*) FROM '{project.root / 'exports' / 'big.parquet'}'")
    assert exported.fetchall() == [(10_000,)]
