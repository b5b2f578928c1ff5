"""The quickstart runs on Spark by changing only its config, with DuckDB's row counts and marts.

The example project is copied and its ``default`` connection swapped for a ``spark`` one (the
worker's Spark, local mode); every relation it publishes holds as many rows as a run of the
unchanged project on DuckDB, and the marts hold the same values.
"""

from __future__ import annotations

import datetime as dt
import decimal
import shutil
from pathlib import Path
from typing import Any

import duckdb
import interlace
import yaml

from .conftest import SPARK_CONF, SparkProject

QUICKSTART = Path(__file__).resolve().parents[4] / "examples" / "quickstart"

COUNTED = [
    "raw.orders",
    "raw.shipments",
    "raw.customers",
    "raw.countries",
    "raw.products",
    "staging.stg_orders",
    "staging.stg_shipments",
    "staging.stg_customers",
    "staging.stg_countries",
    "staging.stg_products",
    "intermediate.orders_enriched",
    "marts.daily_revenue",
    "marts.monthly_revenue_by_region",
    "marts.customer_lifetime_value",
    "marts.product_performance",
    "marts.delivery_performance",
]
COMPARED = [
    "marts.monthly_revenue_by_region",
    "marts.product_performance",
    "marts.delivery_performance",
]


def plain(value: Any) -> Any:
    if isinstance(value, (decimal.Decimal, float)):
        return round(float(value), 4)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, dt.datetime) and value.hour == value.minute == value.second == 0:
        return value.date()  # DuckDB's date_trunc of a DATE is a DATE, Spark's a TIMESTAMP
    return value


def normalised(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted((tuple(plain(v) for v in row) for row in rows), key=repr)


def test_quickstart_runs_on_spark_with_duckdb_results(
    tmp_path: Path, spark_project: SparkProject
) -> None:
    on_duckdb = tmp_path / "duckdb"
    on_spark = tmp_path / "spark"
    for root in (on_duckdb, on_spark):
        shutil.copytree(
            QUICKSTART, root, ignore=shutil.ignore_patterns("data", ".interlace", "__pycache__")
        )
    config_file = on_spark / "config.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["connections"]["default"] = {
        "type": "spark",
        "master": "local[2]",
        "catalog": "in-memory",
        "warehouse": str(spark_project.warehouse),
        "conf": dict(SPARK_CONF),
    }
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))

    for root in (on_duckdb, on_spark):
        result = interlace.run_sync(root)
        assert result.status == "success", {n: m.error for n, m in result.models.items()}
        assert len(result.models) == 21

    assert spark_project.kind("stg_customers", schema="staging") == "view"
    duck = duckdb.connect(str(on_duckdb / "data" / "dev.duckdb"), read_only=True)
    try:
        for relation in COUNTED:
            query = f"SELECT count(*) FROM {relation}"
            expected = duck.execute(query).fetchall()
            assert spark_project.sql(query) == expected, relation
            assert expected[0][0] > 0, relation
        for relation in COMPARED:
            query = f"SELECT * FROM {relation}"
            expected = normalised(duck.execute(query).fetchall())
            assert normalised(spark_project.sql(query)) == expected, relation
    finally:
        duck.close()
