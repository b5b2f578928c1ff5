"""The quickstart runs on PostgreSQL by changing only its config, with DuckDB's results (SPEC §7.1).

The example project is copied, its ``default`` connection is swapped for a fresh PostgreSQL
database, and it runs twice. Every table it publishes must hold the same rows as a run of the
unchanged project on DuckDB.
"""

from __future__ import annotations

import datetime as dt
import decimal
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import interlace
import yaml

if TYPE_CHECKING:
    from conftest import PgProject

QUICKSTART = Path(__file__).resolve().parents[3] / "examples" / "quickstart"

# relations the quickstart publishes; big ones are compared by aggregates, marts row by row
SUMMARISED = {
    "raw.orders": "count(*), sum(order_id), sum(quantity), sum(customer_id)",
    "raw.shipments": "count(*), sum(transit_days), sum(label_after_hours)",
    "raw.customers": "count(*), sum(customer_id), count(DISTINCT email)",
    "staging.stg_orders": "count(*), sum(discount_rate), min(ordered_at), max(order_date)",
    "staging.stg_shipments": "count(*), min(shipped_at), max(delivered_at), count(delivered_at)",
    "staging.stg_customers": "count(*), count(DISTINCT last_name), min(email)",
    "intermediate.orders_enriched": "count(*), sum(net_amount), sum(gross_amount), "
    "count(carrier), max(delivered_at), count(DISTINCT region)",
}
COMPARED = [
    "raw.countries",
    "raw.products",
    "staging.stg_countries",
    "staging.stg_products",
    "marts.daily_revenue",
    "marts.monthly_revenue_by_region",
    "marts.customer_lifetime_value",
    "marts.product_performance",
    "marts.delivery_performance",
]


def copy_quickstart(target: Path) -> Path:
    shutil.copytree(
        QUICKSTART, target, ignore=shutil.ignore_patterns("data", ".interlace", "__pycache__")
    )
    return target


def plain(value: Any) -> Any:
    """One spelling per value across engines (numeric types, timestamp zones)."""
    if isinstance(value, (decimal.Decimal, float)):
        return round(float(value), 4)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def normalised(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted((tuple(plain(v) for v in row) for row in rows), key=repr)


def test_quickstart_runs_twice_on_postgres_with_duckdb_results(
    tmp_path: Path, pg_project: PgProject, pg_server: dict[str, Any]
) -> None:
    on_duckdb = copy_quickstart(tmp_path / "duckdb")
    on_postgres = copy_quickstart(tmp_path / "postgres")

    config_file = on_postgres / "config.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["connections"]["default"] = {
        "type": "postgres",
        "host": pg_server["host"],
        "port": pg_server["port"],
        "user": pg_server["user"],
        "database": pg_project.database,
        **({"password": pg_server["password"]} if pg_server["password"] else {}),
    }
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))

    for root in (on_duckdb, on_postgres):
        first = interlace.run_sync(root)
        assert first.status == "success", {n: m.error for n, m in first.models.items()}
        assert len(first.models) == 21
        second = interlace.run_sync(root)
        assert second.status == "success", {n: m.error for n, m in second.models.items()}

    assert pg_project.kind("stg_customers", schema="staging") == "view"
    assert pg_project.kind("int_order_lines") is None  # ephemeral: never stored
    duck = duckdb.connect(str(on_duckdb / "data" / "dev.duckdb"), read_only=True)
    try:
        for relation, aggregates in SUMMARISED.items():
            query = f"SELECT {aggregates} FROM {relation}"
            assert normalised(pg_project.sql(query)) == normalised(
                duck.execute(query).fetchall()
            ), relation
        for relation in COMPARED:
            query = f"SELECT * FROM {relation}"
            expected = normalised(duck.execute(query).fetchall())
            assert normalised(pg_project.sql(query)) == expected, relation
            assert expected, relation
        query = "SELECT count(*), min(days), max(net_revenue) FROM ops.pipeline_runs"
        assert normalised(pg_project.sql(query)) == normalised(duck.execute(query).fetchall())
    finally:
        duck.close()
