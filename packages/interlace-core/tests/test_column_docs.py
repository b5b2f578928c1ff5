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

# column descriptions only: checks are interlace-quality's (its tests run them)
DOCUMENTED = """
    -- @fields:
    --   id: {type: int64, description: The order id}
    --   note: {description: Free text}
    select * from (values (1, 'a'), (2, null)) as t(id, note)
"""


def test_a_description_change_does_not_change_the_fingerprint(make_project: MakeProject) -> None:
    project = make_project({"models/orders.sql": DOCUMENTED})
    before = fingerprints(load_project(project.root))

    project.write({"models/orders.sql": DOCUMENTED.replace("The order id", "The id")})

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
