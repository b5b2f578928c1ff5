"""Checks on existing tables without rebuilding (`interlace run --quality-only`, SPEC §8.3), and
check results in `interlace run` output."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from conftest import MakeProject, QualityProject

SHOP = {
    "models/shop.sql": """
        -- @name: customers
        -- @quality_checks: [{unique: id}, {row_count: {max: 5}, severity: warn}]
        SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, name)

        -- @name: orders
        -- @quality_checks: [{not_null: customer_id}]
        SELECT * FROM (VALUES (10, 1), (11, 2)) AS t(id, customer_id)

        -- @name: summary
        SELECT count(*) AS n FROM orders
    """
}


def _tamper(project: QualityProject, *statements: str) -> None:
    """Change published data behind Interlace's back (a manual fix, another tool...)."""
    with duckdb.connect(str(project.root / "data" / "dev.duckdb")) as con:
        for statement in statements:
            con.execute(statement)


def test_check_runs_every_declared_check_on_the_published_tables_without_rebuilding(
    make_project: MakeProject,
) -> None:
    project = make_project(SHOP)
    project.run_ok()
    _tamper(
        project,
        "INSERT INTO customers SELECT range, 'x' FROM range(1, 6)",
        "INSERT INTO orders VALUES (12, NULL)",
    )

    results = project.check()

    by_name = {(r.model, r.name): r for r in results}
    assert list(by_name) == [
        ("customers", "unique(id)"),
        ("customers", "row_count(max=5)"),
        ("orders", "not_null(customer_id)"),
    ]
    unique = by_name[("customers", "unique(id)")]
    assert (unique.status, unique.failing_rows) == ("failed", 4)
    assert unique.sql is not None and '"main"."customers"' in unique.sql
    assert by_name[("customers", "row_count(max=5)")].status == "failed"  # warn checks run too
    assert by_name[("orders", "not_null(customer_id)")].sample == [{"id": 12, "customer_id": None}]
    # nothing was rebuilt: the tampered rows are still there
    assert project.sql("SELECT count(*) FROM customers") == [(7,)]
    assert project.sql("SELECT count(*) FROM orders") == [(3,)]


def test_check_results_are_recorded_as_one_run_in_the_state_store(
    make_project: MakeProject,
) -> None:
    project = make_project(SHOP)
    project.run_ok()
    before = {s.run_id for s in project.stored()}
    results = project.check(["orders"])
    assert [(r.model, r.status) for r in results] == [("orders", "passed")]
    new = [s for s in project.stored() if s.run_id not in before]
    assert [(s.result.model, s.result.name, s.result.status) for s in new] == [
        ("orders", "not_null(customer_id)", "passed")
    ]


def test_check_reports_a_table_that_was_never_built(make_project: MakeProject) -> None:
    project = make_project(SHOP)
    results = project.check(["orders"])
    assert [r.status for r in results] == ["error"]
    assert results[0].message is not None
    assert results[0].message.startswith('cannot read "main"."orders": CatalogException:')
