"""Where checks are declared, and how bad declarations are reported (SPEC §8.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import interlace
import interlace.plugins
import pytest
from interlace.errors import ConfigError, ModelDefinitionError

if TYPE_CHECKING:
    from conftest import MakeProject

CONFIG_WITH_CHECKS = """\
name: quality_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
quality:
  checks:
    orders:
      - {row_count: {min: 1}}
    sales.customers:
      - {type: unique, columns: id, severity: warn}
"""


def test_checks_come_from_the_decorator_the_sql_header_and_the_config(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/customers.py": """
                from interlace import model


                @model(schema="sales", quality_checks=[{"not_null": "id"}])
                def customers():
                    return [{"id": 1}, {"id": 2}]
            """,
            "models/orders.sql": """
                -- @quality_checks: [{relationships: {column: customer_id, to: customers, field: id}}]
                SELECT 1 AS id, 2 AS customer_id
            """,
        },
        config=CONFIG_WITH_CHECKS,
    )
    result = project.run_ok()
    assert {c.name for c in result.models["customers"].checks} == {"not_null(id)", "unique(id)"}
    assert {c.name for c in result.models["orders"].checks} == {
        "relationships(customer_id -> customers.id)",
        "row_count(min=1)",
    }
    assert all(c.status == "passed" for m in result.models.values() for c in m.checks)


def _load_error(project: Any) -> ModelDefinitionError:
    with pytest.raises(ModelDefinitionError) as info:
        project.load()
    return info.value


def test_an_unknown_check_type_names_the_model_the_place_and_the_types(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/orders.sql": """
                -- @name: orders
                -- @quality_checks: [{not_null: id}, {not_nul: id}]
                SELECT 1 AS id
            """
        }
    )
    error = _load_error(project)
    assert (error.model, error.file, error.line) == ("orders", "models/orders.sql", 1)
    assert error.message == "quality check #2 {'not_nul': 'id'}: unknown check type 'not_nul'"
    assert error.hint is not None
    assert error.hint.startswith("did you mean 'not_null'? check types: not_null, unique, ")
    for kind in (
        "accepted_values",
        "row_count",
        "freshness",
        "expression",
        "relationships",
        "range",
    ):
        assert kind in error.hint


def test_an_unknown_parameter_lists_the_keys_of_the_check_type(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/orders.py": """
                from interlace import model


                @model(quality_checks=[{"accepted_values": {"colum": "status", "values": ["a"]}}])
                def orders():
                    return [{"status": "a"}]
            """
        }
    )
    error = _load_error(project)
    assert (error.model, error.file, error.line) == ("orders", "models/orders.py", 4)
    assert "unknown parameter 'colum' for accepted_values" in error.message
    assert error.hint == (
        "did you mean 'column'? accepted_values keys: column, values, name, severity, where"
    )


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ("'not_null'", "quality check #1 'not_null': is not a mapping"),
        ("{type: row_count}", "quality check #1 {'type': 'row_count'}: give min, max or both"),
        ("{accepted_values: {column: s}}", "accepted_values needs 'values'"),
        ("{not_null: id, severity: fatal}", "severity must be 'error' or 'warn', not 'fatal'"),
        ("{not_null: id, serverity: warn}", "unknown key 'serverity' beside 'not_null'"),
        ("{not_null: id, unique: id}", "names several check types (not_null, unique)"),
        ("{row_count: 5}", "'row_count' takes a mapping of its parameters, not 5"),
        ("{freshness: {column: at, max_age: soon}}", "invalid duration 'soon'"),
        ("{not_null: []}", "name at least one column"),
        ("{not_null: id, where: 'status ='}", "the SQL 'status =' does not parse"),
        ("{expression: 'amount > 0; DROP TABLE x'}", "is a BLOCK, not a boolean expression"),
        ("{range: {column: x, mn: 1}}", "unknown parameter 'mn' for range"),
        (
            "{not_null: id, name: a}, {unique: id, name: a}",
            "quality checks #1 and #2 are both named 'a'",
        ),
    ],
)
def test_bad_declarations_are_load_errors_that_say_what_is_wrong(
    make_project: MakeProject, declared: str, message: str
) -> None:
    project = make_project(
        {"models/orders.sql": f"-- @quality_checks: [{declared}]\nSELECT 1 AS id, 'x' AS s\n"}
    )
    error = _load_error(project)
    assert message in error.message
    assert error.model == "orders"


def test_a_bad_check_in_the_config_points_at_the_config_file(make_project: MakeProject) -> None:
    project = make_project(
        {"models/orders.sql": "SELECT 1 AS id\n"},
        config=CONFIG_WITH_CHECKS.replace("{row_count: {min: 1}}", "{row_cnt: {min: 1}}").replace(
            "    sales.customers:\n      - {type: unique, columns: id, severity: warn}\n", ""
        ),
    )
    error = _load_error(project)
    assert (error.file, error.model) == ("config.yaml", "orders")
    assert "unknown check type 'row_cnt'" in error.message


def test_config_checks_for_an_unknown_model_are_a_config_error(make_project: MakeProject) -> None:
    project = make_project({"models/other.sql": "SELECT 1 AS id\n"}, config=CONFIG_WITH_CHECKS)
    with pytest.raises(ConfigError) as info:
        project.load()
    assert info.value.message == "quality.checks names unknown model 'orders'"


def test_an_expression_the_engine_rejects_is_a_check_error_not_a_crash(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/orders.sql": """
                -- @quality_checks: [{expression: "no_such_function(id) > 0"}]
                SELECT 1 AS id
            """
        }
    )
    result = project.run()
    check = result.models["orders"].checks[0]
    assert (check.status, check.severity) == ("error", "error")
    assert check.message is not None
    assert check.message.startswith("the check's SQL failed: CatalogException: ")
    assert "no_such_function" in check.message
    assert "no_such_function" in (check.sql or "").lower()
    assert result.models["orders"].status == "failed"  # an error check that cannot run blocks


def test_a_project_without_checks_needs_no_runner(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(interlace.plugins, "check_runner", lambda: None)
    project = make_project({"models/orders.sql": "SELECT 1 AS id\n"})
    assert interlace.run_sync(project.root).success


def test_an_expression_failing_while_it_runs_blocks_the_write_and_reports_the_other_checks(
    make_project: MakeProject,
) -> None:
    models = """
        -- @quality_checks: [{expression: "CAST(code AS INTEGER) > 0"}, {not_null: code}]
        SELECT {code} AS code
    """
    project = make_project({"models/items.sql": models.replace("{code}", "'1'")})
    project.run_ok()
    project.write({"models/items.sql": models.replace("{code}", "'x'")})
    result = project.run()
    cast, not_null = result.models["items"].checks
    assert cast.status == "error"
    assert cast.message is not None
    assert cast.message.startswith("the check's SQL failed: ConversionException: ")
    assert not_null.status == "error"
    assert not_null.message == (
        "not run: the database aborted the transaction when "
        "'expression(CAST(code AS INTEGER) > 0)' failed"
    )
    assert project.sql("SELECT code FROM items") == [("1",)]
