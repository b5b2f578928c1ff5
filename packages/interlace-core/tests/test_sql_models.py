"""SQL model files: YAML headers, several models per file, dependency discovery (SPEC §2.4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace.errors import ModelDefinitionError
from interlace.sql_models import split_sql_file

if TYPE_CHECKING:
    from conftest import MakeProject


def test_header_values_are_yaml() -> None:
    (block,) = split_sql_file(
        "-- @name: revenue\n"
        "-- @tags: [finance, daily]\n"
        "-- @primary_key: [day, region]\n"
        '-- @schedule: {cron: "0 2 * * *"}\n'
        "-- @strict: true\n"
        "-- a plain comment is not a header\n"
        "SELECT 1 AS day\n",
        "models/revenue.sql",
    )
    assert block.options == {
        "name": "revenue",
        "tags": ["finance", "daily"],
        "primary_key": ["day", "region"],
        "schedule": {"cron": "0 2 * * *"},
        "strict": True,
    }
    assert block.option_lines["schedule"] == 4
    assert block.sql_line == 7


def test_sql_header_options_reach_the_model_spec(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/revenue.sql": """
                -- @tags: [finance, daily]
                -- @description: Revenue per day
                -- @owner: data-team
                -- @schema: marts
                SELECT 1 AS day
            """
        }
    )
    spec = project.load().models["revenue"]
    assert spec.name == "revenue"  # defaults to the file name
    assert spec.tags == ("finance", "daily")
    assert spec.description == "Revenue per day"
    assert spec.options.owner == "data-team"
    assert spec.schema == "marts"
    project.run_ok()
    assert project.sql("SELECT day FROM marts.revenue") == [(1,)]


def test_several_models_in_one_file_are_split_on_name_lines(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/staging.sql": """
                -- @name: stg_customers
                SELECT * FROM (VALUES (1, 'Ann'), (2, 'Bob')) AS t(id, name);

                -- @name: stg_orders
                -- @tags: [orders]
                SELECT * FROM (VALUES (10, 1), (11, 1), (12, 2)) AS t(id, customer_id)

                -- @name: orders_per_customer
                SELECT c.name, count(*) AS orders
                FROM stg_customers AS c
                JOIN stg_orders AS o ON o.customer_id = c.id
                GROUP BY c.name
            """
        }
    )
    loaded = project.load()
    assert set(loaded.models) == {"stg_customers", "stg_orders", "orders_per_customer"}
    assert loaded.models["stg_orders"].tags == ("orders",)
    assert loaded.models["stg_orders"].line == 4
    assert set(loaded.models["orders_per_customer"].depends_on) == {"stg_customers", "stg_orders"}
    project.run_ok()
    assert project.sql("SELECT * FROM orders_per_customer ORDER BY name") == [
        ("Ann", 2),
        ("Bob", 1),
    ]


def test_dependencies_are_found_from_qualified_and_unqualified_references(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/raw.sql": """
                -- @schema: raw
                SELECT 1 AS id
            """,
            "models/lookup.sql": "SELECT 1 AS id, 'one' AS label",
            "models/joined.sql": """
                SELECT r.id, l.label
                FROM raw.raw AS r
                JOIN lookup AS l USING (id)
                WHERE r.id IN (SELECT id FROM main.lookup)
            """,
        }
    )
    loaded = project.load()
    assert set(loaded.models["joined"].depends_on) == {"raw", "lookup"}
    assert loaded.graph.order.index("joined") > loaded.graph.order.index("raw")
    project.run_ok()
    assert project.sql("SELECT * FROM joined") == [(1, "one")]


def test_tables_that_are_not_models_are_not_dependencies(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/setup.sql": """
                -- @materialize: none
                CREATE TABLE IF NOT EXISTS external_source AS SELECT 42 AS answer
            """,
            "models/reads_external.sql": """
                -- @dependencies: [setup]
                SELECT answer FROM external_source
            """,
        }
    )
    loaded = project.load()
    assert loaded.models["reads_external"].depends_on == ("setup",)
    project.run_ok()
    assert project.sql("SELECT * FROM reads_external") == [(42,)]


def test_dependencies_header_adds_an_edge_the_sql_does_not_show(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/first.sql": "SELECT 1 AS id",
            "models/second.sql": """
                -- @dependencies: [first]
                SELECT 2 AS id
            """,
        }
    )
    graph = project.load().graph
    assert graph.parents["second"] == ("first",)
    assert graph.order == ("first", "second")


def test_cte_names_are_not_mistaken_for_models(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/orders.sql": "SELECT 1 AS id, 10 AS amount",
            # a model named like the CTE exists too: the CTE shadows it inside this query
            "models/totals.sql": "SELECT 99 AS id, 0 AS amount",
            "models/report.sql": """
                WITH totals AS (SELECT sum(amount) AS total FROM orders)
                SELECT total FROM totals
            """,
        }
    )
    loaded = project.load()
    assert loaded.models["report"].depends_on == ("orders",)
    project.run_ok()
    assert project.sql("SELECT * FROM report") == [(10,)]


def test_table_functions_and_self_named_ctes_are_not_dependencies(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/numbers.sql": """
                WITH numbers AS (SELECT range AS n FROM range(3))
                SELECT n FROM numbers
            """
        }
    )
    assert project.load().models["numbers"].depends_on == ()
    project.run_ok()
    assert project.sql("SELECT n FROM numbers ORDER BY n") == [(0,), (1,), (2,)]


def test_header_line_after_the_query_is_an_error_naming_its_line(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/late.sql": """
                SELECT 1 AS id
                -- @tags: [x]
            """
        }
    )
    with pytest.raises(ModelDefinitionError) as info:
        project.load()
    assert "models/late.sql:2" in str(info.value)
    assert "@tags" in str(info.value)
    assert "@name" in str(info.value)  # the fix: start a new model with -- @name:
