"""Fallback environments on PostgreSQL (SPEC §7.3): a dev database reads the upstreams it has not
built from the shared production database on the same server. PostgreSQL cannot query another
database, so the rows are copied into the reader's session as Arrow batches (filtered by an
incremental model's cursor on the production side)."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import interlace
import pytest
from interlace.testing import ProjectFolder

from .conftest import PG, admin_connect

MODELS = {
    "models/orders.sql": """
        SELECT id, customer, amount, CAST(current_database() AS TEXT) AS built_in
        FROM (VALUES (1, 'ann', 50), (2, 'bob', 150), (3, 'ann', 100)) AS t(id, customer, amount)
    """,
    "models/revenue.sql": """
        SELECT customer, sum(amount) AS total FROM orders GROUP BY customer
    """,
    "models/big.sql": """
        -- @materialize: ephemeral
        SELECT * FROM orders WHERE amount >= 100
    """,
    "models/big_customers.sql": """
        SELECT DISTINCT customer, built_in FROM big
    """,
    "models/order_log.sql": """
        -- @strategy: append
        -- @cursor: id
        SELECT id, amount FROM orders
    """,
    "models/order_count.py": """
        from interlace import model

        @model
        def order_count(orders):
            return orders.aggregate(n=orders.id.count())
    """,
}


@pytest.fixture
def databases(pg_server: dict[str, Any]) -> Iterator[str]:
    """``<base>_dev`` and ``<base>_prod``: one database per environment."""
    base = f"interlace_fb_{uuid.uuid4().hex[:10]}"
    with admin_connect() as con:
        for env in ("dev", "prod"):
            con.execute(f'CREATE DATABASE "{base}_{env}"')
    try:
        yield base
    finally:
        with admin_connect() as con:
            for env in ("dev", "prod"):
                con.execute(f'DROP DATABASE IF EXISTS "{base}_{env}" WITH (FORCE)')


def make(root: Path, base: str) -> Path:
    server = f"    host: {PG['host']}\n    port: {PG['port']}\n    user: {PG['user']}\n"
    config = (
        "name: pg_fallback\nconnections:\n"
        f"  default:\n    type: postgres\n{server}    database: {base}_{{env}}\n"
        f"  prod:\n    type: postgres\n{server}    database: {base}_prod\n"
        "    shared: true\n    access: read\n"
    )
    return ProjectFolder.create(root, config=config).write(MODELS).root


def sql(database: str, query: str) -> list[tuple[Any, ...]]:
    with admin_connect(database) as con:
        return con.execute(query).fetchall()


def test_dev_reads_unbuilt_upstreams_from_the_prod_database(tmp_path: Path, databases: str) -> None:
    root = make(tmp_path, databases)
    prod = interlace.run_sync(root, env="prod", select=["orders"])
    assert prod.status == "success", {n: r.error for n, r in prod.models.items()}

    dev = interlace.run_sync(root, env="dev", select=["revenue", "big_customers", "order_count"])

    assert dev.status == "success", {n: r.error for n, r in dev.models.items()}
    for name in ("revenue", "big_customers", "order_count"):
        assert dev.models[name].message == "read from fallback 'prod': orders"
    dev_db = f"{databases}_dev"
    assert sql(dev_db, "SELECT customer, total FROM main.revenue ORDER BY 1") == [
        ("ann", 150),
        ("bob", 150),
    ]
    built_in = f"{databases}_prod"
    assert sql(dev_db, "SELECT customer, built_in FROM main.big_customers ORDER BY 1") == [
        ("ann", built_in),
        ("bob", built_in),
    ]
    assert sql(dev_db, "SELECT n FROM main.order_count") == [(3,)]
    # dev built only what was selected; orders stays prod's
    tables = sql(
        dev_db,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1",
    )
    assert tables == [("big_customers",), ("order_count",), ("revenue",)]


def test_incremental_reader_takes_only_new_rows_from_the_prod_database(
    tmp_path: Path, databases: str
) -> None:
    root = make(tmp_path, databases)
    assert interlace.run_sync(root, env="prod", select=["orders"]).status == "success"
    first = interlace.run_sync(root, env="dev", select=["order_log"])
    assert first.models["order_log"].rows == 3

    with admin_connect(f"{databases}_prod") as con:
        con.execute("INSERT INTO main.orders VALUES (7, 'eve', 70, 'later')")
    second = interlace.run_sync(root, env="dev", select=["order_log"])

    assert second.models["order_log"].stats == {"inserted": 1}
    assert sql(f"{databases}_dev", "SELECT id FROM main.order_log ORDER BY id") == [
        (1,),
        (2,),
        (3,),
        (7,),
    ]


def test_an_upstream_that_prod_lacks_too_names_both_databases(
    tmp_path: Path, databases: str
) -> None:
    root = make(tmp_path, databases)

    result = interlace.run_sync(root, env="dev", select=["revenue"])

    error = result.models["revenue"].error or ""
    assert result.models["revenue"].status == "failed"
    assert "upstream 'orders' is not built in env 'dev'" in error
    assert "fallback connection 'prod' does not have it either" in error


def test_promote_copies_a_duckdb_dev_build_into_the_postgres_prod_database(
    tmp_path: Path, databases: str
) -> None:
    """dev runs on an embedded DuckDB file, prod on PostgreSQL: promote moves the tables across
    engines as Arrow batches, and prod runs on from them."""
    from interlace.promote import promote

    server = f"    host: {PG['host']}\n    port: {PG['port']}\n    user: {PG['user']}\n"
    (tmp_path / "models").mkdir()
    (tmp_path / "config.yaml").write_text(
        "name: cross_promote\nconnections:\n"
        "  local:\n    type: duckdb\n    path: data/{env}.duckdb\n"
        f"  pg:\n    type: postgres\n{server}    database: {databases}_prod\n"
        "models:\n  default_connection: local\n",
        encoding="utf-8",
    )
    (tmp_path / "config.prod.yaml").write_text(
        "models:\n  default_connection: pg\n", encoding="utf-8"
    )
    for rel in ("models/orders.sql", "models/revenue.sql"):
        (tmp_path / rel).write_text(textwrap.dedent(MODELS[rel]).lstrip("\n"), encoding="utf-8")
    assert interlace.run_sync(tmp_path, env="dev").status == "success"

    result = promote(tmp_path, "dev", "prod", all_models=True)

    assert result.rows == {"orders": 3, "revenue": 2}
    prod_db = f"{databases}_prod"
    assert sql(prod_db, "SELECT customer, total FROM main.revenue ORDER BY 1") == [
        ("ann", 150),
        ("bob", 150),
    ]
    # the built_in column was computed by DuckDB in dev and travelled as it was
    assert sql(prod_db, "SELECT DISTINCT built_in FROM main.orders") == [("dev",)]
    # prod runs on from the promoted tables (same schema: no type change is reported)
    again = interlace.run_sync(tmp_path, env="prod")
    assert again.status == "success", {n: r.error for n, r in again.models.items()}
    assert sql(prod_db, "SELECT DISTINCT built_in FROM main.orders") == [(prod_db,)]
