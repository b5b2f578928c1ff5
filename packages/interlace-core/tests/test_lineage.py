"""Column lineage (SPEC §13.1): SQL traced with sqlglot, ibis models from the SQL they compile
to at run time, other Python models from their declared sources; stored per model version and
computed incrementally."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import sqlglot
from interlace.lineage import ModelLineage, sql_lineage
from interlace.opening import open_state
from interlace.project import load_project
from interlace.project_lineage import (
    LineageError,
    downstream_of,
    lineage_with_stats,
    require_column,
    upstream_of,
)

if TYPE_CHECKING:
    from conftest import MakeProject

UPSTREAM = {
    "orders": {"id": "INTEGER", "customer_id": "INTEGER", "amount": "DOUBLE", "day": "DATE"},
    "customers": {"id": "INTEGER", "name": "VARCHAR"},
}


def trace(sql: str) -> ModelLineage:
    return sql_lineage(
        sqlglot.parse_one(sql, read="duckdb"),
        "duckdb",
        model="m",
        resolve=lambda t: t.name if t.name in UPSTREAM else None,
        upstream_columns=UPSTREAM,
    )


def sources(lineage: ModelLineage) -> dict[str, list[str]]:
    return {c.name: [str(s) for s in c.sources] for c in lineage.columns}


def test_join_with_aliases_and_a_rename() -> None:
    lineage = trace(
        "select o.id, c.name as customer from orders o join customers c on c.id = o.customer_id"
    )

    assert sources(lineage) == {"id": ["orders.id"], "customer": ["customers.name"]}
    assert [c.transform for c in lineage.columns] == ["direct", "renamed"]
    assert lineage.status == "known"
    assert lineage.tables == ("orders", "customers")


def test_ctes_and_derived_tables_are_followed_to_the_tables() -> None:
    lineage = trace(
        """
        with big as (select id, amount * 2 as doubled from orders where amount > 10),
             named as (select b.*, 'x' as tag from big b)
        select doubled, tag from (select * from named) t
        """
    )

    assert sources(lineage) == {"doubled": ["orders.amount"], "tag": []}
    assert lineage.column("doubled").transform == "derived"  # type: ignore[union-attr]
    assert lineage.column("tag").transform == "constant"  # type: ignore[union-attr]


def test_select_star_expands_to_the_upstream_columns_known_from_the_project() -> None:
    lineage = trace("select * from orders o join customers c on c.id = o.customer_id")

    assert [(c.name, [str(s) for s in c.sources]) for c in lineage.columns] == [
        ("id", ["orders.id"]),
        ("customer_id", ["orders.customer_id"]),
        ("amount", ["orders.amount"]),
        ("day", ["orders.day"]),
        ("id", ["customers.id"]),
        ("name", ["customers.name"]),
    ]
    assert lineage.column("amount").type == "DOUBLE"  # type: ignore[union-attr]


def test_select_star_of_a_table_with_unknown_columns_is_partial_with_the_reason() -> None:
    lineage = trace("select * from somewhere_else")

    assert lineage.status == "partial"
    assert "columns are unknown" in (lineage.reason or "")


def test_window_functions_read_their_partition_and_order_columns() -> None:
    lineage = trace(
        "select id, row_number() over (partition by customer_id order by day) as n from orders"
    )

    column = lineage.column("n")
    assert column is not None and column.transform == "window"
    assert [str(s) for s in column.sources] == ["orders.customer_id", "orders.day"]


def test_aggregates_and_casts() -> None:
    lineage = trace(
        "select customer_id, cast(sum(amount) as decimal(18, 2)) as total, count(*) as n "
        "from orders group by 1"
    )

    assert sources(lineage) == {
        "customer_id": ["orders.customer_id"],
        "total": ["orders.amount"],
        "n": [],
    }
    assert lineage.column("total").type == "DECIMAL(18, 2)"  # type: ignore[union-attr]
    assert lineage.column("n").transform == "aggregate"  # type: ignore[union-attr]


def test_unions_merge_the_sources_of_each_branch_by_position() -> None:
    lineage = trace(
        "select id, name from customers union all select customer_id, 'unknown' from orders"
    )

    assert sources(lineage) == {
        "id": ["customers.id", "orders.customer_id"],
        "name": ["customers.name"],
    }


def test_a_statement_that_is_not_a_query_is_unknown_with_the_reason() -> None:
    lineage = trace("insert into t select 1")

    assert lineage.status == "unknown"
    assert lineage.reason == "a INSERT statement, not a query: it has no columns"


PROJECT = {
    "models/orders.sql": """
        select * from (values (1, 10, 5.0), (2, 20, 7.5)) as t(id, customer_id, amount)
    """,
    "models/enriched.py": """
        from interlace import model


        @model
        def enriched(orders):
            return orders.mutate(doubled=orders.amount * 2).select("id", "doubled")
    """,
    "models/declared.py": """
        from interlace import model


        @model(fields={"total": {"type": "double", "sources": ["orders.amount"],
                                 "description": "Sum of amounts"}})
        def declared(context):
            return [{"total": 12.5}]
    """,
    "models/opaque.py": """
        from interlace import model


        @model
        def opaque():
            return [{"x": 1}]
    """,
    "models/report.sql": "select e.id, e.doubled + 1 as score from enriched e",
}


def test_ibis_lineage_is_recorded_when_the_model_runs_and_flows_downstream(
    make_project: MakeProject,
) -> None:
    project = make_project(PROJECT)
    before = load_project(project.root)
    found, _ = lineage_with_stats(before, None)
    assert found["enriched"].status == "unknown"  # planning never runs the function

    project.run_ok()
    loaded = load_project(project.root)
    store = open_state(loaded)
    try:
        found, _ = lineage_with_stats(loaded, store)
    finally:
        store.close()

    assert found["enriched"].origin == "ibis"
    assert [str(s) for s in found["enriched"].column("doubled").sources] == [  # type: ignore[union-attr]
        "orders.amount"
    ]
    assert upstream_of(found, "report", "score") == [
        ("enriched", "doubled", 1),
        ("orders", "amount", 2),
    ]
    assert ("report", "score", "doubled", 2) in downstream_of(found, "orders", "amount")
    assert found["declared"].origin == "declared"
    assert found["declared"].column("total").description == "Sum of amounts"  # type: ignore[union-attr]
    assert found["opaque"].status == "unknown"
    assert "declares no column sources" in (found["opaque"].reason or "")
    # its columns are known from its table after the run, their sources are not
    assert [(c.name, c.sources) for c in found["opaque"].columns] == [("x", ())]


def test_lineage_is_stored_and_only_changed_models_are_traced_again(
    make_project: MakeProject,
) -> None:
    project = make_project(PROJECT)
    project.run_ok()
    loaded = load_project(project.root)
    store = open_state(loaded)
    try:
        _, first = lineage_with_stats(loaded, store)
        _, second = lineage_with_stats(loaded, store)
        project.write({"models/report.sql": "select e.id from enriched e"})
        _, third = lineage_with_stats(load_project(project.root), store)
    finally:
        store.close()

    assert set(first) == {"orders", "report"}
    assert second == []
    assert third == ["report"]


def test_lineage_of_a_column_that_does_not_exist_lists_the_columns(
    make_project: MakeProject,
) -> None:
    project = make_project(PROJECT)
    found, _ = lineage_with_stats(load_project(project.root), None)

    with pytest.raises(LineageError, match="no column 'nope'") as raised:
        require_column(found["report"], "nope")
    assert raised.value.hint == "its columns: id, score"


def test_literal_rows_have_columns_without_sources() -> None:
    lineage = trace("select * from (values (1, 'a')) as t(id, name)")

    assert lineage.status == "known"
    assert [(c.name, c.transform, c.sources) for c in lineage.columns] == [
        ("id", "constant", ()),
        ("name", "constant", ()),
    ]
