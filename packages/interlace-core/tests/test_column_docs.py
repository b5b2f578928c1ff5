"""Column descriptions and checks in `fields` (SPEC §4.4, §13): in `@model`, in a SQL header and
in the config; descriptions are documentation (no rebuild), column checks run like any check."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from interlace.errors import InterlaceError
from interlace.fingerprint import fingerprints
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


def test_a_description_change_does_not_change_the_fingerprint(make_project: MakeProject) -> None:
    project = make_project(MODELS)
    before = fingerprints(load_project(project.root))

    project.write(
        {"models/orders.sql": MODELS["models/orders.sql"].replace("The order id", "The id")}
    )

    assert fingerprints(load_project(project.root)) == before


@pytest.mark.parametrize(
    ("files", "config", "message"),
    [
        (
            {"models/a.sql": "-- @fields: {id: {descr: x}}\nselect 1 as id"},
            None,
            r"models/a\.sql:1: model 'a': fields: column 'id' has unknown key 'descr'",
        ),
        (
            {"models/a.sql": "-- @fields: {id: {sources: [nodot]}}\nselect 1 as id"},
            None,
            r"source 'nodot' is not MODEL\.COLUMN",
        ),
        (
            {"models/a.sql": "select 1 as id"},
            "fields:\n  nope:\n    id: {description: x}\n",
            r"config\.yaml:\d+: fields names unknown model 'nope'",
        ),
        (
            {"models/a.sql": "select 1 as id"},
            "fields:\n  a:\n    id: {type: not_a_type}\n",
            r"config\.yaml:\d+: fields of 'a': column 'id'",
        ),
    ],
)
def test_bad_column_declarations_name_the_file_and_column(
    make_project: MakeProject, files: dict[str, str], config: str | None, message: str
) -> None:
    base = "name: p\nconnections:\n  default:\n    type: duckdb\n    path: data/{env}.duckdb\n"
    project = make_project(files, config=base + (config or ""))

    with pytest.raises(InterlaceError, match=message):
        load_project(project.root)
