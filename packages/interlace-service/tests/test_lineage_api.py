"""Column lineage, plans and column descriptions over HTTP (SPEC §13)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import ServeProject
    from interlace_service.testing import Served

FILES = {
    "models/orders.sql": """
        -- @cache: {strategy: if_exists}
        -- @fields: {id: {type: int64, description: The order id}}
        select * from (values (1, 'ann', 5.0), (2, 'bob', 7.5)) as t(id, customer, amount)
    """,
    "models/revenue.sql": """
        select customer, sum(amount) as total from orders group by customer
    """,
}


@pytest.fixture(scope="module")
def served(serve_project: ServeProject) -> Served:
    served = serve_project(FILES)
    served.run_ok()
    return served


def test_lineage_of_a_model_and_of_one_column(served: Served) -> None:
    everything = served.call("GET", "/api/v1/lineage/revenue").json
    total = served.call("GET", "/api/v1/lineage/revenue?column=total&direction=upstream").json

    assert everything["status"] == "known" and everything["origin"] == "sql"
    assert [c["name"] for c in everything["columns"]] == ["customer", "total"]
    [column] = total["columns"]
    assert column["upstream"] == [{"model": "orders", "column": "amount", "depth": 1}]
    assert "downstream" not in column
    assert total["edges"] == [["orders.amount", "revenue.total"]]


def test_lineage_errors_name_the_model_or_list_the_columns(served: Served) -> None:
    no_model = served.call("GET", "/api/v1/lineage/nope")
    no_column = served.call("GET", "/api/v1/lineage/revenue?column=totl")

    assert no_model.status == 404
    assert no_column.status == 422
    assert "its columns: customer, total" in str(no_column.json)


def test_plan_over_http_matches_the_cli_json(served: Served) -> None:
    plan = served.call("GET", "/api/v1/plan?select=revenue").json

    assert plan["summary"] == {"run": 0, "may_run": 0, "skip": 1, "breaking": 0}
    [revenue] = plan["models"]
    assert (revenue["model"], revenue["action"], revenue["reason_kind"]) == (
        "revenue",
        "skip",
        "unchanged",
    )


def test_declared_columns_carry_their_descriptions(served: Served) -> None:
    columns = served.call("GET", "/api/v1/models/orders/columns").json

    assert columns["declared"] == [{"name": "id", "type": "int64", "description": "The order id"}]
