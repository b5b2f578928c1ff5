"""Fallback resolution (SPEC §7.3): a non-production environment reads the upstream models it has
not built from the fallback connections (by default the shared ones), inside the engine."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import duckdb
import pytest
from interlace.config import EnvironmentsConfig
from interlace.connection_config import ConnectionConfig, DuckDBConnectionConfig
from interlace.errors import ConfigError
from interlace.fallback import same_database

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

CONFIG = """\
name: fallback_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
  prod:
    type: duckdb
    path: data/prod.duckdb
    shared: true
    access: read
executor:
  max_workers: 2
"""

MODELS = {
    # a root that reads a file of the project, and says which environment built it
    "models/raw_orders.py": """
        import json

        from interlace import model


        @model
        def raw_orders(context):
            rows = json.loads((context.project_root / "orders.json").read_text())
            return [{**row, "built_in": context.env} for row in rows]
    """,
    "models/orders.sql": """
        SELECT id, customer, amount, built_in FROM raw_orders WHERE amount > 0
    """,
    "models/revenue.sql": """
        SELECT customer, sum(amount) AS total, min(built_in) AS built_in
        FROM orders GROUP BY customer
    """,
    "models/order_count.py": """
        from interlace import model


        @model
        def order_count(orders):
            return orders.aggregate(n=orders.id.count(), built_in=orders.built_in.min())
    """,
    "models/big_orders.sql": """
        -- @materialize: ephemeral
        SELECT * FROM orders WHERE amount >= 100
    """,
    "models/big_customers.sql": """
        SELECT DISTINCT customer FROM big_orders
    """,
}

ORDERS = [
    {"id": 1, "customer": "ann", "amount": 50},
    {"id": 2, "customer": "bob", "amount": 150},
    {"id": 3, "customer": "ann", "amount": 100},
    {"id": 4, "customer": "cat", "amount": 0},
]


def write_orders(project: ProjectDir, rows: list[dict[str, object]]) -> None:
    (project.root / "orders.json").write_text(json.dumps(rows), encoding="utf-8")


def built_in_prod(make_project: MakeProject, config: str = CONFIG) -> ProjectDir:
    """The project with everything built in prod (data/prod.duckdb) and nothing in dev."""
    project = make_project(MODELS, config=config)
    write_orders(project, ORDERS)
    project.run_ok(env="prod")
    assert not project.db_path("dev").exists()
    return project


def test_dev_run_reads_an_unbuilt_upstream_from_the_shared_prod_connection(
    make_project: MakeProject,
) -> None:
    project = built_in_prod(make_project)

    result = project.run_ok(["revenue"], env="dev")

    assert project.sql("SELECT * FROM main.revenue ORDER BY customer") == [
        ("ann", 150, "prod"),
        ("bob", 150, "prod"),
    ]
    assert result["revenue"].message == "read from fallback 'prod': orders"
    # nothing else was built in dev, and prod was only read
    assert set(project.relations("dev")) == {"main.revenue"}
    assert project.sql("SELECT count(*) FROM main.orders", env="prod") == [(3,)]


def test_python_model_gets_the_fallback_table_as_its_ibis_input(
    make_project: MakeProject,
) -> None:
    project = built_in_prod(make_project)

    result = project.run_ok(["order_count"], env="dev")

    assert project.sql("SELECT n, built_in FROM main.order_count") == [(3, "prod")]
    assert result["order_count"].message == "read from fallback 'prod': orders"


def test_inlined_ephemeral_upstream_reads_its_own_upstream_from_the_fallback(
    make_project: MakeProject,
) -> None:
    project = built_in_prod(make_project)

    result = project.run_ok(["big_customers"], env="dev")

    assert project.sql("SELECT customer FROM main.big_customers ORDER BY 1") == [
        ("ann",),
        ("bob",),
    ]
    assert result["big_customers"].message == "read from fallback 'prod': orders"


def test_upstream_built_in_the_environment_wins_over_the_fallback(
    make_project: MakeProject,
) -> None:
    project = built_in_prod(make_project)
    write_orders(project, [{"id": 9, "customer": "dan", "amount": 7}])
    project.run_ok(["raw_orders", "orders"], env="dev")

    result = project.run_ok(["revenue"], env="dev")

    assert project.sql("SELECT * FROM main.revenue") == [("dan", 7, "dev")]
    assert result["revenue"].message is None


def test_selected_upstreams_are_built_not_read_from_the_fallback(
    make_project: MakeProject,
) -> None:
    project = built_in_prod(make_project)
    write_orders(project, [{"id": 9, "customer": "dan", "amount": 7}])

    result = project.run_ok(["+revenue"], env="dev")

    assert project.sql("SELECT * FROM main.revenue") == [("dan", 7, "dev")]
    assert all(r.message is None or "fallback" not in r.message for r in result.models.values())


def test_a_model_reading_the_fallback_runs_again_and_sees_new_production_data(
    make_project: MakeProject,
) -> None:
    project = built_in_prod(make_project)
    project.run_ok(["revenue"], env="dev")
    write_orders(project, [{"id": 5, "customer": "eve", "amount": 30}])
    project.run_ok(env="prod")

    result = project.run_ok(["revenue"], env="dev")

    assert result["revenue"].status == "success"
    assert project.sql("SELECT * FROM main.revenue") == [("eve", 30, "prod")]


def test_incremental_model_filters_the_fallback_table_by_its_cursor(
    make_project: MakeProject,
) -> None:
    project = built_in_prod(
        make_project,
    )
    project.write(
        {
            "models/order_log.sql": """
                -- @strategy: append
                -- @cursor: id
                SELECT id, amount FROM orders
            """
        }
    )
    project.run_ok(["order_log"], env="dev")
    assert project.sql("SELECT id, amount FROM main.order_log ORDER BY id") == [
        (1, 50),
        (2, 150),
        (3, 100),
    ]
    write_orders(project, [*ORDERS, {"id": 7, "customer": "eve", "amount": 70}])
    project.run_ok(["+orders"], env="prod")

    result = project.run_ok(["order_log"], env="dev")

    assert result["order_log"].stats == {"inserted": 1}
    assert project.sql("SELECT id, amount FROM main.order_log ORDER BY id") == [
        (1, 50),
        (2, 150),
        (3, 100),
        (7, 70),
    ]


def test_upstream_missing_in_the_fallback_too_fails_naming_both_connections(
    make_project: MakeProject,
) -> None:
    project = make_project(MODELS, config=CONFIG)
    write_orders(project, ORDERS)
    project.run_ok(["raw_orders"], env="prod")  # prod has raw_orders but not orders

    result = project.run(["revenue", "raw_orders"], env="dev")

    assert result["raw_orders"].status == "success"  # independent models still run
    revenue = result["revenue"]
    assert revenue.status == "failed"
    assert revenue.error is not None
    assert revenue.error.startswith(
        "upstream 'orders' is not built in env 'dev' (no main.orders on connection 'default'), "
        "and fallback connection 'prod' does not have it either"
    )
    assert "interlace run --env dev +revenue" in revenue.error


def test_fallback_file_that_does_not_exist_yet_has_nothing(make_project: MakeProject) -> None:
    project = make_project(MODELS, config=CONFIG)

    result = project.run(["revenue"], env="dev")

    assert result["revenue"].status == "failed"
    assert "fallback connection 'prod' does not have it either" in str(result["revenue"].error)
    assert not project.db_path("prod").exists()  # looking did not create it


def test_production_environments_never_fall_back(make_project: MakeProject) -> None:
    config = CONFIG + "environments:\n  production: [prod, staging]\n"
    project = built_in_prod(make_project, config)

    result = project.run(["revenue"], env="staging")

    error = str(result["revenue"].error)
    assert result["revenue"].status == "failed"
    assert "orders" in error and "does not exist" in error
    assert "fallback" not in error


def test_empty_fallback_list_turns_fallback_off(make_project: MakeProject) -> None:
    config = CONFIG + "environments:\n  fallback_connections: []\n"
    project = built_in_prod(make_project, config)

    result = project.run(["revenue"], env="dev")

    assert result["revenue"].status == "failed"
    assert "fallback" not in str(result["revenue"].error)


def test_fallback_connections_are_searched_in_order(make_project: MakeProject) -> None:
    config = """\
name: fallback_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
  archive:
    type: duckdb
    path: data/archive.duckdb
  prod:
    type: duckdb
    path: data/prod.duckdb
    shared: true
environments:
  fallback_connections: [archive, prod]
"""
    project = built_in_prod(make_project, config)
    with duckdb.connect(str(project.root / "data" / "archive.duckdb")) as con:
        con.execute(
            "CREATE TABLE main.orders AS SELECT 1 AS id, 'old' AS customer, 5 AS amount, "
            "'archive' AS built_in"
        )

    result = project.run_ok(["revenue"], env="dev")

    assert project.sql("SELECT * FROM main.revenue") == [("old", 5, "archive")]
    assert result["revenue"].message == "read from fallback 'archive': orders"


def test_view_refuses_to_keep_a_query_on_the_fallback(make_project: MakeProject) -> None:
    project = built_in_prod(make_project)
    project.write(
        {
            "models/revenue_view.sql": """
                -- @materialize: view
                SELECT customer, amount FROM orders
            """
        }
    )

    result = project.run(["revenue_view"], env="dev")

    assert result["revenue_view"].status == "failed"
    assert "from fallback connection 'prod'" in str(result["revenue_view"].error)
    assert "a view keeps its query" in str(result["revenue_view"].error)


def test_upstream_view_missing_here_is_read_from_the_fallback(make_project: MakeProject) -> None:
    files = {
        **MODELS,
        "models/orders.sql": """
            -- @materialize: view
            SELECT id, customer, amount, built_in FROM raw_orders WHERE amount > 0
        """,
    }
    project = make_project(files, config=CONFIG)
    write_orders(project, ORDERS)
    project.run_ok(env="prod")

    result = project.run_ok(["revenue"], env="dev")

    assert project.sql("SELECT * FROM main.revenue ORDER BY customer") == [
        ("ann", 150, "prod"),
        ("bob", 150, "prod"),
    ]
    assert result["revenue"].message == "read from fallback 'prod': orders"


def test_unknown_fallback_connection_is_a_config_error(make_project: MakeProject) -> None:
    project = make_project(
        MODELS, config=CONFIG + "environments:\n  fallback_connections: [prdo]\n"
    )

    with pytest.raises(ConfigError, match="names 'prdo', which is not a configured connection"):
        project.load()


def test_default_fallback_is_every_shared_database_connection() -> None:
    connections: dict[str, ConnectionConfig] = {
        "default": DuckDBConnectionConfig(path="data/dev.duckdb"),
        "prod": DuckDBConnectionConfig(path="data/prod.duckdb", shared=True),
        "archive": DuckDBConnectionConfig(path="data/archive.duckdb", shared=True),
    }
    environments = EnvironmentsConfig()
    assert environments.fallbacks(connections) == ["prod", "archive"]
    assert environments.production == ["prod", "production"]
    assert EnvironmentsConfig(fallback_connections=["archive"]).fallbacks(connections) == [
        "archive"
    ]


def test_same_database_compares_where_connections_point() -> None:
    prod = DuckDBConnectionConfig(path="data/prod.duckdb")
    shared_prod = DuckDBConnectionConfig(path="data/prod.duckdb", shared=True, access="read")
    dev = DuckDBConnectionConfig(path="data/dev.duckdb")
    assert same_database(prod, shared_prod)
    assert not same_database(prod, dev)
    assert not same_database(DuckDBConnectionConfig(), DuckDBConnectionConfig())  # :memory:
