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


def test_quality_only_cli_prints_checks_by_model_and_fails_on_an_error_check(
    make_project: MakeProject,
) -> None:
    project = make_project(SHOP)
    assert project.interlace("run").code == 0
    _tamper(project, "INSERT INTO orders VALUES (12, NULL), (13, NULL)")

    done = project.interlace("run", "--quality-only")

    assert done.code == 1, done
    assert "Traceback" not in done.output
    lines = done.stdout.splitlines()
    assert "  customers" in lines
    assert "    ✓ unique(id)" in lines
    assert "    ✓ row_count(max=5) (warn)" in lines
    assert (
        "    ✗ not_null(customer_id): 2 row(s) have NULL in customer_id  "
        "e.g. {id: 12, customer_id: None}"
    ) in lines
    assert "Failed in" in done.stdout and "1 error check(s) failed, 2 passed" in done.stdout
    assert project.sql("SELECT count(*) FROM orders") == [(4,)]  # not rebuilt


def test_quality_only_cli_exits_0_when_only_warn_checks_fail_and_honours_the_selection(
    make_project: MakeProject,
) -> None:
    project = make_project(SHOP)
    assert project.interlace("run").code == 0
    _tamper(project, "INSERT INTO customers SELECT range + 10, 'x' FROM range(5)")

    done = project.interlace("run", "--quality-only", "customers")

    assert done.code == 0, done
    assert "quality checks of 1 model(s)" in done.stdout
    assert "    ! row_count(max=5) (warn): 7 row(s), more than the maximum 5" in done.stdout
    assert "orders" not in done.stdout
    assert "1 passed, 1 warning(s)" in done.stdout


def test_quality_only_refuses_options_that_build(make_project: MakeProject) -> None:
    project = make_project(SHOP)
    done = project.interlace("run", "--quality-only", "--full-refresh")
    assert done.code == 1
    assert (
        "error: --quality-only checks the existing tables; it cannot be combined with "
        "--full-refresh"
    ) in done.stderr


def test_run_output_lists_checks_under_their_model(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/shop.sql": """
                -- @name: orders
                -- @quality_checks: [{unique: id}, {accepted_values: {column: status, values: [new]}, severity: warn}]
                SELECT * FROM (VALUES (1, 'new'), (2, 'lost')) AS t(id, status)

                -- @name: broken
                -- @quality_checks: [{expression: "amount > 0"}]
                SELECT -5 AS amount
            """
        }
    )
    done = project.interlace("run")
    assert done.code == 1, done
    assert "Traceback" not in done.output
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  ✓ orders"))
    assert lines[at + 1 : at + 3] == [
        "    ✓ unique(id)",
        "    ! accepted_values(status) (warn): 1 row(s) have a status outside ['new']  "
        "e.g. {id: 2, status: 'lost'}",
    ]
    failed = next(i for i, line in enumerate(lines) if line.startswith("  ✗ broken"))
    assert lines[failed + 1] == (
        "    ✗ expression(amount > 0): 1 row(s) where amount > 0 is not true  e.g. {amount: -5}"
    )


def test_a_bad_check_declaration_is_a_clean_cli_error(make_project: MakeProject) -> None:
    project = make_project(
        {"models/orders.sql": "-- @quality_checks: [{uniqe: id}]\nSELECT 1 AS id\n"}
    )
    for args in (("run",), ("run", "--quality-only")):
        done = project.interlace(*args)
        assert done.code == 1
        assert "Traceback" not in done.output
        assert (
            "error: models/orders.sql:1: model 'orders': quality check #1 {'uniqe': 'id'}: "
            "unknown check type 'uniqe'"
        ) in done.stderr
        assert "hint: did you mean 'unique'?" in done.stderr
