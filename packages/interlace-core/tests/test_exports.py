"""Exports (SPEC §14.2): `export=` writes a model's table to a file after each successful run,
and `export_model` does it on demand; every file is read back with DuckDB."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import duckdb
import pytest
from interlace.errors import InterlaceError, ModelDefinitionError
from interlace.export import ExportError
from interlace.export_on_demand import export_model

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import MakeProject


def read(path: Path, reader: str) -> list[tuple[object, ...]]:
    with duckdb.connect() as con:
        return con.execute(f"SELECT * FROM {reader}('{path}') ORDER BY ALL").fetchall()


ORDERS = """
    from interlace import model

    @model(export=EXPORT)
    def orders():
        return [{"id": 1, "customer": "ann"}, {"id": 2, "customer": "bob"}]
"""


def orders_model(export: str) -> str:
    return ORDERS.replace("EXPORT", export)


def test_csv_export_is_written_after_the_run_with_its_options(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/orders.py": orders_model(
                '{"format": "csv", "path": "exports/{env}/{name}.csv", "delimiter": ";"}'
            )
        }
    )
    result = project.run_ok()
    path = project.root / "exports" / "dev" / "orders.csv"
    assert result["orders"].message == "exported to exports/dev/orders.csv"
    assert path.read_text().splitlines()[0] == "id;customer"
    with duckdb.connect() as con:
        rows = con.execute(f"SELECT * FROM read_csv('{path}', delim=';') ORDER BY id").fetchall()
    assert rows == [(1, "ann"), (2, "bob")]


def test_parquet_export_of_a_sql_model_uses_the_default_path(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/totals.sql": """
                -- @schema: marts
                -- @export: {format: parquet}
                select 'a' as k, 3 as n union all select 'b', 4
            """
        }
    )
    project.run_ok()
    assert read(project.root / "exports" / "totals.parquet", "read_parquet") == [
        ("a", 3),
        ("b", 4),
    ]


def test_json_export_writes_one_object_per_line_or_an_array(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/orders.py": orders_model('"exports/orders.json"'),
            "models/listed.sql": """
                -- @export: {path: "exports/listed.json", array: true}
                select * from orders
            """,
        }
    )
    project.run_ok()
    lines = (project.root / "exports" / "orders.json").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": 1, "customer": "ann"},
        {"id": 2, "customer": "bob"},
    ]
    listed = json.loads((project.root / "exports" / "listed.json").read_text())
    assert listed == [{"id": 1, "customer": "ann"}, {"id": 2, "customer": "bob"}]
    assert read(project.root / "exports" / "orders.json", "read_json_auto") == [
        (1, "ann"),
        (2, "bob"),
    ]


def test_export_follows_the_table_on_every_run(make_project: MakeProject) -> None:
    project = make_project({"models/n.sql": "-- @export: exports/n.csv\nselect 1 as n"})
    project.run_ok()
    project.write({"models/n.sql": "-- @export: exports/n.csv\nselect 2 as n union all select 3"})
    project.run_ok()
    assert read(project.root / "exports" / "n.csv", "read_csv") == [(2,), (3,)]
    assert not [p.name for p in (project.root / "exports").iterdir() if p.name != "n.csv"]


def test_a_failed_model_writes_no_export(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/broken.py": """
                from interlace import model

                @model(export="exports/broken.csv")
                def broken():
                    raise ValueError("source is down")
            """
        }
    )
    result = project.run()
    assert result["broken"].status == "failed"
    assert not (project.root / "exports").exists()


def test_unwritable_export_path_fails_the_model_but_keeps_the_published_table(
    make_project: MakeProject,
) -> None:
    project = make_project({"models/orders.py": orders_model('"blocked/orders.csv"')})
    (project.root / "blocked").write_text("a file where the export folder should be")
    result = project.run()
    failed = result["orders"]
    assert failed.status == "failed"
    assert "cannot write export to blocked/orders.csv" in (failed.error or "")
    assert "cannot create folder blocked" in (failed.error or "")
    assert "the table itself was published" in (failed.error or "")
    assert project.count("orders") == 2


def test_export_options_are_validated_when_the_project_loads(make_project: MakeProject) -> None:
    cases = {
        '{"format": "xlsx"}': ("option 'export.format' has invalid value 'xlsx'", "csv"),
        '{"format": "csv", "colour": 1}': ("option 'export' has unknown key 'colour'", "delimiter"),
        '{"path": "out/orders.txt"}': ("needs a format", ".parquet"),
        '{"format": "json", "delimiter": ";"}': ("'delimiter' applies to csv exports", "json"),
        '{"format": "csv", "path": "out/{table}.csv"}': ("unknown placeholder {table}", "{name}"),
    }
    for export, (message, also) in cases.items():
        project = make_project({"models/orders.py": orders_model(export)})
        with pytest.raises(ModelDefinitionError) as raised:
            project.load()
        text = str(raised.value)
        assert "models/orders.py:3" in text, text
        assert "model 'orders'" in text, text
        assert message in text, text
        assert also in text, text


def test_export_model_writes_an_existing_table_on_demand(make_project: MakeProject) -> None:
    project = make_project({"models/orders.py": orders_model('"exports/orders.parquet"')})
    project.run_ok()
    loaded = project.load()
    written, rows = export_model(loaded, "orders", path="out/all_orders.csv")
    assert (written, rows) == (project.root / "out" / "all_orders.csv", 2)
    assert read(written, "read_csv") == [(1, "ann"), (2, "bob")]
    written, _ = export_model(loaded, "main.orders", format="json", path="out/{name}.data")
    assert read(written, "read_json_auto") == [(1, "ann"), (2, "bob")]
    written, _ = export_model(loaded, "orders")  # the model's own export option
    assert written == project.root / "exports" / "orders.parquet"


def test_export_model_of_a_table_not_built_yet_says_to_run_it(make_project: MakeProject) -> None:
    project = make_project({"models/orders.py": orders_model('"exports/orders.csv"')})
    with pytest.raises(InterlaceError, match="does not exist in env 'dev'") as raised:
        export_model(project.load(), "orders")
    assert "interlace run orders" in str(raised.value)


def test_export_model_to_a_folder_is_a_clear_error(make_project: MakeProject) -> None:
    project = make_project({"models/orders.py": orders_model('"exports/orders.csv"')})
    project.run_ok()
    (project.root / "taken").mkdir()
    with pytest.raises(ExportError, match="it is a folder"):
        export_model(project.load(), "orders", path=project.root / "taken", format="csv")
