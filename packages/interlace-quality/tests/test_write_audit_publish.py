"""Write-audit-publish: error checks guard publication, warn checks only report (SPEC §8.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import MakeProject

GOOD_ORDERS = """
    -- @name: orders
    -- @quality_checks: [{unique: id}, {not_null: customer_id}]
    SELECT * FROM (VALUES (1, 10), (2, 20)) AS t(id, customer_id)

    -- @name: order_count
    SELECT count(*) AS n FROM orders
"""

BAD_ORDERS = """
    -- @name: orders
    -- @quality_checks: [{unique: id}, {not_null: customer_id}]
    SELECT * FROM (VALUES (1, 10), (2, 20), (2, NULL), (3, 30)) AS t(id, customer_id)

    -- @name: order_count
    SELECT count(*) AS n FROM orders
"""


def test_a_failing_error_check_keeps_the_old_table_and_skips_descendants(
    make_project: MakeProject,
) -> None:
    project = make_project({"models/orders.sql": GOOD_ORDERS})
    project.run_ok()
    project.write({"models/orders.sql": BAD_ORDERS})

    result = project.run()

    orders = result.models["orders"]
    assert orders.status == "failed"
    assert orders.error_type == "QualityCheckError"
    assert orders.error is not None
    assert "2 error check(s) failed, the previous table is kept" in orders.error
    checks = {c.name: c for c in orders.checks}
    assert (checks["unique(id)"].status, checks["unique(id)"].failing_rows) == ("failed", 2)
    assert checks["not_null(customer_id)"].sample == [{"id": 2, "customer_id": None}]
    assert project.sql("SELECT id, customer_id FROM orders ORDER BY id") == [(1, 10), (2, 20)]
    count = result.models["order_count"]
    assert (count.status, count.skip_kind) == ("skipped", "upstream_failed")
    assert project.sql("SELECT n FROM order_count") == [(2,)]
    leftovers = project.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '__il_stage_%'"
    )
    assert leftovers == []


def test_a_failing_error_check_on_the_first_build_publishes_nothing(
    make_project: MakeProject,
) -> None:
    project = make_project({"models/orders.sql": BAD_ORDERS})
    result = project.run()
    assert result.models["orders"].status == "failed"
    tables = project.sql("SELECT table_name FROM information_schema.tables")
    assert tables == []


def test_a_failing_warn_check_lets_the_write_through_and_is_reported(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/orders.sql": BAD_ORDERS.replace(
                "[{unique: id}, {not_null: customer_id}]",
                "[{unique: id, severity: warn}, {not_null: customer_id, severity: warn}]",
            )
        }
    )
    result = project.run_ok()
    assert project.sql("SELECT count(*) FROM orders") == [(4,)]
    assert project.sql("SELECT n FROM order_count") == [(4,)]
    statuses = {c.name: (c.severity, c.status) for c in result.models["orders"].checks}
    assert statuses == {
        "unique(id)": ("warn", "failed"),
        "not_null(customer_id)": ("warn", "failed"),
    }


def test_an_error_check_on_a_missing_column_blocks_publication_and_names_the_columns(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/orders.sql": """
                -- @quality_checks: [{not_null: custmer_id}]
                SELECT 1 AS id, 10 AS customer_id
            """
        }
    )
    result = project.run()
    orders = result.models["orders"]
    assert orders.status == "failed"
    check = orders.checks[0]
    assert check.status == "error"
    assert check.message == (
        "column 'custmer_id' is not in model 'orders'; its columns are: id, customer_id"
    )
    assert orders.error is not None and "custmer_id" in orders.error
    assert project.sql("SELECT count(*) FROM information_schema.tables") == [(0,)]


def test_error_checks_guard_a_view_before_it_is_replaced(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/active.sql": """
                -- @materialize: view
                -- @quality_checks: [{accepted_values: {column: state, values: [active]}}]
                SELECT 'active' AS state
            """
        }
    )
    project.run_ok()
    project.write(
        {
            "models/active.sql": """
                -- @materialize: view
                -- @quality_checks: [{accepted_values: {column: state, values: [active]}}]
                SELECT 'paused' AS state
            """
        }
    )
    result = project.run()
    assert result.models["active"].status == "failed"
    assert project.sql("SELECT state FROM active") == [("active",)]


def test_incremental_appends_are_audited_before_they_land(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/events.sql": """
                -- @strategy: append
                -- @quality_checks: [{range: {column: value, min: 0}}]
                SELECT 1 AS value
            """
        }
    )
    project.run_ok()
    project.write(
        {
            "models/events.sql": """
                -- @strategy: append
                -- @quality_checks: [{range: {column: value, min: 0}}]
                SELECT -1 AS value
            """
        }
    )
    result = project.run()
    assert result.models["events"].status == "failed"
    assert project.sql("SELECT value FROM events") == [(1,)]


def test_check_results_are_stored_with_status_count_sample_and_sql(
    make_project: MakeProject,
) -> None:
    project = make_project({"models/orders.sql": BAD_ORDERS})
    result = project.run()
    stored = project.stored()
    assert {s.run_id for s in stored} == {result.run_id}
    by_name = {s.result.name: s.result for s in stored}
    unique = by_name["unique(id)"]
    assert (unique.model, unique.check_type, unique.severity) == ("orders", "unique", "error")
    assert (unique.status, unique.failing_rows) == ("failed", 2)
    assert unique.sample == [{"id": 2, "occurrences": 2}]
    assert unique.sql is not None and "GROUP BY" in unique.sql
    assert unique.message == "2 row(s) share their id with another row"
