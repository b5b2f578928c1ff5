"""Models read files from storage connections and export tables to them (SPEC §7.1, §14.2)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pytest
from interlace.export import ExportError
from interlace.export_on_demand import export_model

KINDS = ("filesystem", "sftp", "s3")
FORMATS = ("csv", "parquet", "json")
ROWS = [(1, "ann", 10.5), (2, "bob", 20.0), (3, "cy", 7.25)]


def read_back(data: bytes, file_format: str) -> list[tuple[Any, ...]]:
    """Rows of a CSV/Parquet/JSON file's bytes, read by DuckDB."""
    with tempfile.TemporaryDirectory() as folder, duckdb.connect() as con:
        path = Path(folder) / f"file.{file_format}"
        path.write_bytes(data)
        return con.execute(f"SELECT * FROM read_{file_format}('{path}') ORDER BY ALL").fetchall()


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_model_reads_files_from_storage_into_its_engine(
    kind: str, file_format: str, storage_config: Any, storage_project: Any, make_data: Any
) -> None:
    project = storage_project({"raw_files": storage_config(kind)})
    with project.storage("raw_files") as raw:
        raw.write_bytes(f"orders/2024/part-1.{file_format}", make_data(file_format, ROWS[:2]))
        raw.write_bytes(f"orders/2025/part-2.{file_format}", make_data(file_format, ROWS[2:]))
        raw.write_bytes("orders/notes.txt", b"not data")
    project.write(
        {
            "models/orders.py": f"""
                from interlace import model

                @model
                def orders(context):
                    return context.read_files("raw_files", "orders/**/*.{file_format}")
            """,
            "models/big_orders.sql": "select id, name from orders where amount > 10",
        }
    )
    result = project.run_ok()
    assert result["orders"].rows == 3
    assert project.values("main.orders") == ROWS
    assert project.values("main.big_orders") == [(1, "ann"), (2, "bob")]


@pytest.mark.parametrize("kind", KINDS)
def test_reader_options_and_an_explicit_format(
    kind: str, storage_config: Any, storage_project: Any
) -> None:
    project = storage_project({"raw_files": storage_config(kind)})
    with project.storage("raw_files") as raw:
        raw.write_text("drop/prices.data", "sku;price\na;1.5\nb;2.5\n")
    project.write(
        {
            "models/prices.py": """
                from interlace import model

                @model
                def prices(context):
                    table = context.read_files(
                        "raw_files", "drop/prices.data", format="csv", delim=";", header=True
                    )
                    return table.filter(table.price > 2)
            """
        }
    )
    project.run_ok()
    assert project.values("main.prices") == [("b", 2.5)]


@pytest.mark.parametrize("kind", KINDS)
def test_a_model_uses_the_storage_interface_directly(
    kind: str, storage_config: Any, storage_project: Any
) -> None:
    project = storage_project({"raw_files": storage_config(kind)})
    with project.storage("raw_files") as raw:
        raw.write_bytes("inbox/a.txt", b"alpha")
        raw.write_bytes("inbox/b.txt", b"beta!")
    project.write(
        {
            "models/inbox.py": """
                from interlace import model

                @model
                def inbox(context):
                    files = context.storage("raw_files")
                    rows = [
                        {"path": p, "size": len(files.read_bytes(p))}
                        for p in files.glob("inbox/*.txt")
                    ]
                    files.write_text("inbox/_processed", str(len(rows)))
                    return rows
            """
        }
    )
    project.run_ok()
    assert project.values("main.inbox") == [("inbox/a.txt", 5), ("inbox/b.txt", 5)]
    with project.storage("raw_files") as raw:
        assert raw.read_text("inbox/_processed") == "2"


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_export_after_the_run_writes_to_storage(
    kind: str, file_format: str, storage_config: Any, storage_project: Any
) -> None:
    project = storage_project({"lake": storage_config(kind)})
    export = {"format": file_format, "connection": "lake", "path": "exports/{env}/{name}"}
    export["path"] += f".{file_format}"
    project.write(
        {
            "models/totals.py": f"""
                from interlace import model

                @model(export={export!r})
                def totals():
                    return [
                        {{"id": i, "name": n, "amount": a}} for i, n, a in {ROWS!r}
                    ]
            """
        }
    )
    result = project.run_ok()
    with project.storage("lake") as lake:
        path = f"exports/dev/totals.{file_format}"
        assert result["totals"].message == f"exported to {lake.url(path)}"
        assert lake.list("exports/") == [path]  # no partial file left behind
        assert read_back(lake.read_bytes(path), file_format) == ROWS


@pytest.mark.parametrize("kind", KINDS)
def test_export_model_on_demand_to_a_storage_connection(
    kind: str, storage_config: Any, storage_project: Any
) -> None:
    project = storage_project({"lake": storage_config(kind)})
    project.write(
        {
            "models/totals.py": f"""
                from interlace import model

                @model
                def totals():
                    return [{{"id": i, "name": n, "amount": a}} for i, n, a in {ROWS!r}]
            """
        }
    )
    project.run_ok()
    written, rows = export_model(project.load(), "totals", path="out/{name}.csv", connection="lake")
    with project.storage("lake") as lake:
        assert written == lake.url("out/totals.csv")
        assert rows == 3
        assert read_back(lake.read_bytes("out/totals.csv"), "csv") == ROWS
        # a second export replaces the file
        export_model(project.load(), "totals", path="out/totals.csv", connection="lake")
        assert lake.list("out/") == ["out/totals.csv"]


def test_a_path_given_on_demand_is_local_even_when_the_model_exports_to_storage(
    storage_config: Any, storage_project: Any
) -> None:
    project = storage_project({"lake": storage_config("filesystem")})
    project.write(
        {
            "models/totals.py": """
                from interlace import model

                @model(export={"format": "parquet", "connection": "lake"})
                def totals():
                    return [{"id": 1}]
            """
        }
    )
    project.run_ok()
    local = project.root / "local.csv"
    written, _ = export_model(project.load(), "totals", path=str(local))
    assert written == local and local.read_text().splitlines() == ["id", "1"]


def test_export_path_outside_the_storage_base_fails_the_model(
    storage_config: Any, storage_project: Any
) -> None:
    project = storage_project({"lake": storage_config("filesystem")})
    project.write(
        {
            "models/totals.py": """
                from interlace import model

                @model(export={"format": "csv", "connection": "lake", "path": "../{name}.csv"})
                def totals():
                    return [{"id": 1}]
            """
        }
    )
    result = project.run()
    assert result["totals"].status == "failed"
    assert "outside the connection's base folder" in (result["totals"].error or "")
    assert "the table itself was published" in (result["totals"].error or "")
    assert project.values("main.totals") == [(1,)]


def test_export_to_an_unknown_or_a_database_connection_is_an_error(
    storage_project: Any,
) -> None:
    project = storage_project({})
    project.write(
        {
            "models/totals.py": """
                from interlace import model

                @model(export={"format": "csv", "connection": "nowhere"})
                def totals():
                    return [{"id": 1}]
            """
        }
    )
    result = project.run()
    assert "export.connection: there is no connection called 'nowhere'" in (
        result["totals"].error or ""
    )
    with pytest.raises(ExportError, match="'default' is a duckdb connection, not a storage"):
        export_model(project.load(), "totals", path="x.csv", connection="default")


def test_no_matching_files_fails_the_model_with_the_pattern(
    storage_config: Any, storage_project: Any
) -> None:
    project = storage_project({"raw_files": storage_config("filesystem")})
    project.write(
        {
            "models/orders.py": """
                from interlace import model

                @model
                def orders(context):
                    return context.read_files("raw_files", "orders/*.parquet")
            """
        }
    )
    result = project.run()
    assert result["orders"].status == "failed"
    assert "connection 'raw_files': no files match 'orders/*.parquet'" in (
        result["orders"].error or ""
    )


def test_a_model_cannot_run_on_a_storage_connection(
    storage_config: Any, storage_project: Any
) -> None:
    project = storage_project({"raw_files": storage_config("filesystem")})
    project.write({"models/x.sql": "-- @connection: raw_files\nselect 1 as a"})
    with pytest.raises(Exception, match="'raw_files' is a storage connection"):
        project.run()


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("kind", ("local", *KINDS))
def test_a_postgres_model_is_exported_from_arrow_batches(
    kind: str, file_format: str, storage_config: Any, storage_project: Any, pg_database: str
) -> None:
    """Engines without a COPY to files of their own stream the rows out as Arrow batches."""
    from ..conftest import PG

    pg = {"type": "postgres", "host": PG["host"], "port": PG["port"], "user": PG["user"]}
    connections: dict[str, Any] = {"pg": {**pg, "database": pg_database}}
    export: dict[str, Any] = {"format": file_format, "path": f"exports/{{name}}.{file_format}"}
    if kind != "local":
        connections["lake"] = storage_config(kind)
        export["connection"] = "lake"
    project = storage_project(connections)
    values = ", ".join(f"({i}, '{n}', {a})" for i, n, a in ROWS)
    project.write(
        {
            "models/totals.sql": f"""
                -- @connection: pg
                -- @export: {json.dumps(export)}
                SELECT id, name, amount::float8 AS amount
                FROM (VALUES {values}) AS t(id, name, amount)
            """
        }
    )
    result = project.run_ok()
    path = f"exports/totals.{file_format}"
    if kind == "local":
        assert result["totals"].message == f"exported to {path}"
        data = (project.root / path).read_bytes()
    else:
        with project.storage("lake") as lake:
            assert result["totals"].message == f"exported to {lake.url(path)}"
            assert lake.list("exports/") == [path]
            data = lake.read_bytes(path)
    assert read_back(data, file_format) == ROWS
