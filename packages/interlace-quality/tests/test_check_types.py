"""Every check type, passing and failing, on real tables (SPEC §8.1).

Failing checks here are ``warn`` so the run goes through and the result can be read; blocking
behaviour of ``error`` checks is in test_write_audit_publish.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from conftest import MakeProject


def test_not_null_passes_on_complete_rows_and_counts_rows_with_a_null_in_any_column(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/people.sql": """
                -- @name: complete
                -- @quality_checks: [{not_null: [id, email]}]
                SELECT * FROM (VALUES (1, 'a@x'), (2, 'b@x')) AS t(id, email)

                -- @name: holes
                -- @quality_checks: [{not_null: id, severity: warn}, {not_null: [id, email], severity: warn}]
                SELECT * FROM (VALUES (1, 'a@x'), (2, NULL), (NULL, 'c@x')) AS t(id, email)
            """
        }
    )
    result = project.run_ok()
    passed = project.checks_of(result, "complete")["not_null(id, email)"]
    assert (passed.status, passed.failing_rows, passed.sample) == ("passed", 0, [])
    holes = project.checks_of(result, "holes")
    one, both = holes["not_null(id)"], holes["not_null(id, email)"]
    assert (one.status, one.failing_rows) == ("failed", 1)
    assert one.sample == [{"id": None, "email": "c@x"}]
    assert (both.status, both.failing_rows) == ("failed", 2)
    assert both.message == "2 row(s) have NULL in id or email"
    assert "IS NULL" in (both.sql or "")
    assert (one.check_type, one.severity) == ("not_null", "warn")


def test_unique_compares_columns_together_and_ignores_null_keys(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/visits.sql": """
                -- @quality_checks: [{unique: [customer_id, day]}, {unique: customer_id, severity: warn}, {unique: note}]
                SELECT * FROM (VALUES
                    (1, 'mon', NULL), (1, 'tue', NULL), (2, 'mon', 'x'), (3, 'mon', NULL)
                ) AS t(customer_id, day, note)
            """
        }
    )
    checks = project.checks_of(project.run_ok(), "visits")
    assert checks["unique(customer_id, day)"].status == "passed"
    assert checks["unique(note)"].status == "passed"  # NULLs are not duplicates of each other
    single = checks["unique(customer_id)"]
    assert (single.status, single.failing_rows) == ("failed", 2)
    assert single.sample == [{"customer_id": 1, "occurrences": 2}]
    assert single.message == "2 row(s) share their customer_id with another row"


def test_accepted_values_reports_rows_outside_the_list_and_lets_null_through(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/orders.sql": """
                -- @quality_checks: [{accepted_values: {column: status, values: [new, paid]}}, {accepted_values: {column: status, values: [new]}, severity: warn, name: only_new}, {accepted_values: {column: qty, values: [1, 2]}}]
                SELECT * FROM (VALUES (1, 'new', 1), (2, 'paid', 2), (3, NULL, 1)) AS t(id, status, qty)
            """
        }
    )
    checks = project.checks_of(project.run_ok(), "orders")
    assert checks["accepted_values(status)"].status == "passed"
    assert checks["accepted_values(qty)"].status == "passed"
    narrow = checks["only_new"]
    assert narrow.check_type == "accepted_values"
    assert narrow.failing_rows == 1
    assert narrow.sample == [{"id": 2, "status": "paid", "qty": 2}]
    assert narrow.message == "1 row(s) have a status outside ['new']"


def test_row_count_checks_min_and_max(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/counts.sql": """
                -- @name: three
                -- @quality_checks: [{row_count: {min: 1, max: 3}}, {type: row_count, min: 4, severity: warn}, {type: row_count, max: 2, severity: warn}]
                SELECT * FROM range(3) AS t(i)

                -- @name: empty
                -- @quality_checks: [{row_count: {min: 1}, severity: warn}]
                SELECT * FROM range(3) AS t(i) WHERE i > 10
            """
        }
    )
    result = project.run_ok()
    three = project.checks_of(result, "three")
    assert three["row_count(min=1, max=3)"].status == "passed"
    assert three["row_count(min=4)"].status == "failed"
    assert three["row_count(min=4)"].message == "3 row(s), fewer than the minimum 4"
    assert three["row_count(max=2)"].status == "failed"
    assert three["row_count(max=2)"].message == "3 row(s), more than the maximum 2"
    empty = result.models["empty"].checks[0]
    assert (empty.status, empty.message) == ("failed", "0 row(s), fewer than the minimum 1")


def test_freshness_compares_the_newest_timestamp_or_date_with_max_age(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/events.sql": """
                -- @name: recent
                -- @quality_checks: [{freshness: {column: at, max_age: 1h}}, {freshness: {column: day, max_age: 2d}}, {freshness: {column: naive, max_age: 3h}}]
                SELECT now() - INTERVAL 10 MINUTE AS at, current_date AS day,
                       CAST(timezone('UTC', now()) AS TIMESTAMP) - INTERVAL 2 HOUR AS naive

                -- @name: stale
                -- @quality_checks: [{freshness: {column: at, max_age: 1d}, severity: warn}, {freshness: {column: naive, max_age: 1h}, severity: warn}, {freshness: {column: label, max_age: 1d}, severity: warn}]
                SELECT TIMESTAMP '2020-01-01 00:00:00' AS at, 'x' AS label,
                       CAST(timezone('UTC', now()) AS TIMESTAMP) - INTERVAL 2 HOUR AS naive

                -- @name: no_rows
                -- @quality_checks: [{freshness: {column: at, max_age: 1d}, severity: warn}]
                SELECT now() AS at WHERE false
            """
        }
    )
    result = project.run_ok()
    assert [c.status for c in result.models["recent"].checks] == ["passed"] * 3
    stale = project.checks_of(result, "stale")
    old, naive = stale["freshness(at, 1d)"], stale["freshness(naive, 1h)"]
    label = stale["freshness(label, 1d)"]
    assert old.status == "failed"
    assert old.message is not None
    assert old.message.startswith("the newest at is 2020-01-01 00:00:00, ")
    assert old.message.endswith("old (max_age 1d)")
    assert naive.status == "failed"  # a naive timestamp is read as UTC
    assert label.status == "error"
    assert label.message == "freshness needs a date or timestamp column; 'label' is string"
    empty = result.models["no_rows"].checks[0]
    assert (empty.status, empty.message) == ("failed", "no row has a value in at")


def test_sql_expression_must_be_true_for_every_row_and_null_fails(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/payments.sql": """
                -- @quality_checks: [{expression: "amount >= 0"}, {expression: "amount IS NULL OR amount < 100"}, {expression: "amount < 100", severity: warn, name: below_100}]
                SELECT * FROM (VALUES (1, 10), (2, 50), (3, NULL)) AS t(id, amount)
            """
        }
    )
    # amount >= 0 is NULL for id 3: that row fails, so this error check blocks the model
    failed = project.run()
    assert failed.models["payments"].status == "failed"
    checks = project.checks_of(failed, "payments")
    blocked = checks["expression(amount >= 0)"]
    assert (blocked.status, blocked.failing_rows) == ("failed", 1)
    assert blocked.sample == [{"id": 3, "amount": None}]
    assert blocked.message == "1 row(s) where amount >= 0 is not true"
    assert checks["expression(amount IS NULL OR amount < 100)"].status == "passed"


def test_python_expression_gets_an_ibis_table_and_may_return_a_column_a_scalar_or_a_count(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/sales.py": """
                from interlace import model


                def positive(t):
                    return t.amount > 0


                @model(
                    quality_checks=[
                        {"expression": positive, "severity": "warn"},
                        {"expression": lambda t: t.count() >= 3, "name": "three rows"},
                        {"expression": lambda t: (t.amount > 100).sum(), "name": "none huge"},
                        {"expression": lambda t: 2, "name": "two bad", "severity": "warn"},
                        {"expression": lambda t: True, "name": "always"},
                    ]
                )
                def sales():
                    return [{"id": 1, "amount": 5}, {"id": 2, "amount": -1}, {"id": 3, "amount": 0}]
            """
        }
    )
    checks = project.checks_of(project.run_ok(), "sales")
    column = checks["expression(positive)"]
    assert (column.status, column.failing_rows) == ("failed", 2)
    assert sorted(r["id"] for r in column.sample) == [2, 3]
    assert column.sql is not None and "amount" in column.sql
    assert checks["three rows"].status == "passed"
    assert checks["none huge"].status == "passed"
    assert (checks["two bad"].status, checks["two bad"].failing_rows) == ("failed", 2)
    assert checks["always"].status == "passed"


def test_relationships_resolve_models_by_name_and_schema_and_read_other_tables(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/shop.sql": """
                -- @name: customers
                -- @schema: crm
                SELECT * FROM (VALUES (1), (2)) AS t(id)

                -- @name: regions
                -- @materialize: ephemeral
                SELECT * FROM (VALUES ('eu'), ('us')) AS t(code)

                -- @name: orders
                -- @quality_checks: [{relationships: {column: customer_id, to: customers, field: id}, severity: warn}, {relationships: {column: customer_id, to: crm.customers, field: id}, severity: warn}, {relationships: {column: region, to: regions, field: code}}, {relationships: {column: country, to: ext.countries, field: code}}, {relationships: {column: customer_id, to: customer, field: id}, severity: warn}]
                SELECT * FROM (VALUES (1, 1, 'eu', 'de'), (2, 7, 'us', 'us'), (3, NULL, 'us', 'de'))
                    AS t(id, customer_id, region, country)
            """
        }
    )
    db = project.root / "data" / "dev.duckdb"
    db.parent.mkdir()
    with duckdb.connect(str(db)) as con:  # a table outside the project
        con.execute(
            "CREATE SCHEMA ext; CREATE TABLE ext.countries AS SELECT * FROM (VALUES ('de'), ('us')) t(code)"
        )
    checks = project.checks_of(project.run_ok(), "orders")
    by_name = checks["relationships(customer_id -> customers.id)"]
    by_schema = checks["relationships(customer_id -> crm.customers.id)"]
    ephemeral = checks["relationships(region -> regions.code)"]
    outside = checks["relationships(country -> ext.countries.code)"]
    typo = checks["relationships(customer_id -> customer.id)"]
    for check in (by_name, by_schema):
        assert (check.status, check.failing_rows) == ("failed", 1)
        assert check.sample == [{"id": 2, "customer_id": 7, "region": "us", "country": "us"}]
    assert by_name.name == "relationships(customer_id -> customers.id)"
    assert by_name.message == "1 row(s) have a customer_id that is not in customers.id"
    assert ephemeral.status == "passed"
    assert outside.status == "passed"
    assert typo.status == "error"
    assert typo.message is not None and "'customer' is not a model of the project" in typo.message


def test_relationships_report_a_missing_parent_field_with_its_columns(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/shop.sql": """
                -- @name: customers
                SELECT 1 AS id, 'a' AS name

                -- @name: orders
                -- @quality_checks: [{relationships: {column: customer_id, to: customers, field: key}, severity: warn}]
                SELECT 1 AS customer_id FROM customers
            """
        }
    )
    check = project.run_ok().models["orders"].checks[0]
    assert check.status == "error"
    assert check.message == "column 'key' is not in 'customers'; its columns are: id, name"


def test_range_checks_inclusive_and_exclusive_bounds_numbers_and_dates(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/readings.sql": """
                -- @quality_checks: [{range: {column: value, min: 0, max: 10}}, {range: {column: value, min: 0, max: 10, inclusive: false}, severity: warn}, {range: {column: day, min: 2024-01-01}}, {range: {column: day, max: 2024-01-31}, severity: warn}]
                SELECT * FROM (VALUES (0, DATE '2024-01-01'), (10, DATE '2024-02-01'), (NULL, NULL))
                    AS t(value, day)
            """
        }
    )
    checks = project.checks_of(project.run_ok(), "readings")
    inclusive, exclusive = checks["range(0 <= value <= 10)"], checks["range(0 < value < 10)"]
    since, until = checks["range(2024-01-01 <= day)"], checks["range(day <= 2024-01-31)"]
    assert inclusive.status == "passed"
    assert (exclusive.status, exclusive.failing_rows) == ("failed", 2)
    assert exclusive.message == "2 row(s) are outside 0 < value < 10"
    assert since.status == "passed"
    assert (until.status, until.failing_rows) == ("failed", 1)
    assert [str(r["day"]) for r in until.sample] == ["2024-02-01"]


def test_where_filters_the_rows_a_check_looks_at(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/orders.sql": """
                -- @quality_checks: [{not_null: paid_at, where: "status = 'paid'"}, {type: row_count, max: 1, where: "status = 'paid'"}]
                SELECT * FROM (VALUES ('paid', TIMESTAMP '2024-01-01'), ('new', NULL)) AS t(status, paid_at)
            """
        }
    )
    checks = project.checks_of(project.run_ok(), "orders")
    assert checks["not_null(paid_at) where status = 'paid'"].status == "passed"
    assert checks["row_count(max=1) where status = 'paid'"].status == "passed"


def test_samples_hold_at_most_five_rows_while_the_count_covers_all(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/big.sql": """
                -- @quality_checks: [{expression: "i < 0", severity: warn}]
                SELECT range AS i FROM range(12)
            """
        }
    )
    check = project.run_ok().models["big"].checks[0]
    assert check.failing_rows == 12
    assert len(check.sample) == 5
    assert all(set(row) == {"i"} for row in check.sample)


def test_relationships_run_the_referenced_model_first(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/shop.sql": """
                -- @name: customers
                SELECT * FROM range(3) AS t(id)

                -- @name: orders
                -- @quality_checks: [{relationships: {column: customer_id, to: customers, field: id}}]
                SELECT 2 AS customer_id
            """
        }
    )
    assert "customers" in project.load().graph.parents["orders"]
    result = project.run_ok()
    assert list(result.models) == ["customers", "orders"]
    assert result.models["orders"].checks[0].status == "passed"
