"""Checks declared with a column's description (``fields``: in a SQL header, a Python
model's ``fields=`` and the config) and in a SQL header over several lines run with the model
and block a bad write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace.project import load_project

if TYPE_CHECKING:
    from conftest import MakeProject

MODELS = {
    "models/orders.sql": """
        -- @fields:
        --   id: {type: int64, description: The order id, checks: [not_null, unique]}
        --   note: {description: Free text}
        select * from (values (1, 'a'), (2, null)) as t(id, note)
    """,
    "models/customers.py": """
        from interlace import model


        @model(fields={"name": {"type": "string", "description": "Who", "checks": [
            {"accepted_values": {"values": ["ann", "bob"]}, "severity": "warn"}]}})
        def customers():
            return [{"name": "ann"}, {"name": "cat"}]
    """,
}

CONFIG = """\
name: docs_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
fields:
  orders:
    id: {description: "ignored: the model documents it"}
    note: {checks: [not_null]}
  customers:
    region: {type: string, description: Where they live}
"""


def test_descriptions_and_checks_from_model_header_and_config(make_project: MakeProject) -> None:
    project = make_project(MODELS, config=CONFIG)

    loaded = load_project(project.root)
    result = project.run()

    orders, customers = loaded.models["orders"], loaded.models["customers"]
    assert orders.column_docs["id"].description == "The order id"
    assert orders.column_docs["note"].description == "Free text"
    assert orders.options.fields == {"id": "int64"}
    assert customers.column_docs["region"].description == "Where they live"
    assert customers.options.fields == {"name": "string", "region": "string"}
    checks = {c.name: c.status for c in result.models["orders"].checks}
    assert checks == {"not_null(id)": "passed", "unique(id)": "passed", "not_null(note)": "failed"}
    [warn] = result.models["customers"].checks
    assert warn.severity == "warn" and warn.status == "failed"


def test_checks_listed_over_several_lines_run_and_block_a_bad_write(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/orders.sql": """
                -- @quality_checks:
                --   - not_null: id
                --   - unique: id
                --   - accepted_values:
                --       column: status
                --       values: [new, paid]
                select * from (values (1, 'new'), (2, 'paid')) as t(id, status)
            """
        }
    )
    result = project.run_ok()
    assert [c.name for c in result["orders"].checks] == [
        "not_null(id)",
        "unique(id)",
        "accepted_values(status)",
    ]
    project.write(
        {
            "models/orders.sql": project.root.joinpath("models/orders.sql")
            .read_text()
            .replace("(2, 'paid')", "(2, 'lost')")
        }
    )
    failed = project.run()
    assert failed["orders"].status == "failed"
    assert "accepted_values(status)" in (failed["orders"].error or "")
    assert project.values("orders", order_by="id") == [(1, "new"), (2, "paid")]
