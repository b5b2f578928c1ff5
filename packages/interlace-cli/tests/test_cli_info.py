"""`interlace info [MODEL]`: project, connections with reachability, models (SPEC §13.4)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Folder

PROJECT = {
    "config.yaml": """
        name: shop
        connections:
          default:
            type: duckdb
            path: data/{env}.duckdb
          archive:
            type: duckdb
            path: data/archive.duckdb
        """,
    "models/raw.py": '''
        from interlace import model


        @model(schema="raw", tags=["raw"], owner="data-team")
        def customers():
            """Customers of the shop."""
            return [{"customer_id": 1, "name": "Ada"}, {"customer_id": 2, "name": "Bob"}]
    ''',
    "models/marts.sql": """
        -- @name: customer_names
        -- @schema: marts
        -- @description: One row per customer name.
        select distinct name from raw.customers

        -- @name: name_count
        -- @schema: marts
        select count(*) as n from customer_names
    """,
}


def row_of(output: str, name: str) -> str:
    """The table row that starts with ``name``."""
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line) if c.strip()]
        if cells and cells[0] == name:
            return line
    raise AssertionError(f"no row for {name!r} in:\n{output}")


def fields_of(output: str) -> dict[str, str]:
    """``key value`` lines of `interlace info MODEL` as a dict."""
    fields = {}
    for line in output.splitlines():
        key, _, value = line.strip().partition(" ")
        if key and key not in fields:
            fields[key] = value.strip()
    return fields


def test_info_shows_connections_with_reachability_and_models(project: Folder) -> None:
    project.write(PROJECT)

    result = project.interlace("info")

    assert result.code == 0, result
    assert "project shop" in result.stdout
    assert "env dev" in result.stdout
    assert "reachable" in row_of(result.stdout, "default")
    assert "reachable" in row_of(result.stdout, "archive")
    assert "models (3)" in result.stdout
    customers = row_of(result.stdout, "customers")
    assert "python" in customers
    assert "models/raw.py:4" in customers
    names = row_of(result.stdout, "customer_names")
    assert "sql" in names
    assert "customers" in names.split("customer_names", 1)[1]


def test_info_reports_an_unreachable_connection(project: Folder) -> None:
    project.write(PROJECT)
    project.write({"data/archive.duckdb": "this is not a database\n"})

    result = project.interlace("info")

    assert result.code == 0, result
    assert "unreachable" in row_of(result.stdout, "archive")
    assert "unreachable" not in row_of(result.stdout, "default")
    assert not result.has_traceback, result


def test_info_no_check_does_not_touch_the_databases(project: Folder) -> None:
    project.write(PROJECT)

    result = project.interlace("info", "--no-check")

    assert result.code == 0, result
    assert "not checked" in row_of(result.stdout, "default")
    assert not (project.root / "data").exists()


def test_info_model_shows_lineage_sql_and_recent_runs(project: Folder) -> None:
    project.write(PROJECT)
    before = project.interlace("info", "customer_names")
    run = project.interlace("run")

    after = project.interlace("info", "customer_names")

    assert before.code == 0, before
    assert "recent runs" not in before.stdout
    assert run.code == 0, run
    assert after.code == 0, after
    fields = fields_of(after.stdout)
    assert fields["model"] == "customer_names"
    assert fields["kind"] == "sql"
    assert fields["file"] == "models/marts.sql:1"
    assert fields["upstream"] == "customers"
    assert fields["downstream"] == "name_count"
    assert fields["description"] == "One row per customer name."
    assert "select distinct name from raw.customers" in after.stdout
    assert "recent runs" in after.stdout
    assert re.search(r"success\s*│\s*2\b", after.stdout), after


def test_info_python_model_shows_its_source(project: Folder) -> None:
    project.write(PROJECT)

    result = project.interlace("info", "raw.customers")

    assert result.code == 0, result
    assert "def customers():" in result.stdout
    fields = fields_of(result.stdout)
    assert fields["owner"] == "data-team"
    assert fields["downstream"] == "customer_names"
    assert fields["upstream"] == ""


def test_info_unknown_model_exits_1_with_a_hint(project: Folder) -> None:
    project.write(PROJECT)

    result = project.interlace("info", "customer_name")

    assert result.code == 1, result
    assert "matches no model" in result.stderr
    assert "did you mean customer_names" in result.stderr
    assert not result.has_traceback, result


def test_info_of_a_big_project_lists_every_model_in_aligned_columns(project: Folder) -> None:
    models = {f"models/m_{i:03d}.sql": f"select {i} as n" for i in range(150)}
    project.write(
        {"config.yaml": PROJECT["config.yaml"], **models, "models/top.sql": "select * from m_007"}
    )

    result = project.interlace("info", "--no-check")

    assert result.code == 0, result
    lines = result.stdout.splitlines()
    title = lines.index("models (151)")
    header = lines[title + 1]
    assert header.split() == [
        "name", "kind", "materialize", "strategy", "schema", "upstream", "tags", "file"
    ]  # fmt: skip
    rows = {line.split()[0]: line for line in lines[title + 2 :] if line.strip()}
    assert set(rows) == {f"m_{i:03d}" for i in range(150)} | {"top"}
    top = rows["top"]
    assert top.split()[:6] == ["top", "sql", "table", "replace", "main", "m_007"]
    # every column starts where its header does
    assert top.index("m_007") == header.index("upstream")
    assert top.index("models/top.sql") == header.index("file")
