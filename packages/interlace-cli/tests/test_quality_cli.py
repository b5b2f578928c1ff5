"""`interlace run --quality-only` and check lines in `interlace run` output (the CLI side of
interlace-quality)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from conftest import Folder

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


def _tamper(project: Folder, *statements: str) -> None:
    """Change published data behind Interlace's back (a manual fix, another tool...)."""
    with duckdb.connect(str(project.root / "data" / "dev.duckdb")) as con:
        for statement in statements:
            con.execute(statement)


def test_quality_only_cli_prints_checks_by_model_and_fails_on_an_error_check(
    project: Folder,
) -> None:
    project.write(SHOP)
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
    project: Folder,
) -> None:
    project.write(SHOP)
    assert project.interlace("run").code == 0
    _tamper(project, "INSERT INTO customers SELECT range + 10, 'x' FROM range(5)")

    done = project.interlace("run", "--quality-only", "customers")

    assert done.code == 0, done
    assert "quality checks of 1 model(s)" in done.stdout
    assert "    ! row_count(max=5) (warn): 7 row(s), more than the maximum 5" in done.stdout
    assert "orders" not in done.stdout
    assert "1 passed, 1 warning(s)" in done.stdout


def test_quality_only_refuses_options_that_build(project: Folder) -> None:
    project.write(SHOP)
    done = project.interlace("run", "--quality-only", "--full-refresh")
    assert done.code == 1
    assert (
        "error: --quality-only checks the existing tables; it cannot be combined with "
        "--full-refresh"
    ) in done.stderr


def test_run_output_lists_checks_under_their_model(project: Folder) -> None:
    project.write(
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


def test_a_bad_check_declaration_is_a_clean_cli_error(project: Folder) -> None:
    project.write({"models/orders.sql": "-- @quality_checks: [{uniqe: id}]\nSELECT 1 AS id\n"})
    for args in (("run",), ("run", "--quality-only")):
        done = project.interlace(*args)
        assert done.code == 1
        assert "Traceback" not in done.output
        assert (
            "error: models/orders.sql:1: model 'orders': quality check #1 {'uniqe': 'id'}: "
            "unknown check type 'uniqe'"
        ) in done.stderr
        assert "hint: did you mean 'unique'?" in done.stderr
