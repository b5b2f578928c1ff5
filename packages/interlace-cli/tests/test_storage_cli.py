"""Storage connections on the command line: `info` lists them, `run` and `export` write to them
(SPEC §7.1, §13.4, §14.2). The S3 and SFTP servers are tested in interlace-connections."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from conftest import Folder

PROJECT = {
    "config.yaml": """
        name: shop
        connections:
          default:
            type: duckdb
            path: data/{env}.duckdb
          lake:
            type: filesystem
            path: lake
          archive:
            type: filesystem
            path: missing-archive
            create: false
        """,
    "models/totals.py": """
        from interlace import model

        @model(export={"format": "csv", "connection": "lake", "path": "exports/{name}.csv"})
        def totals(context):
            return context.read_files("lake", "raw/*.csv")
    """,
    "lake/raw/a.csv": "id,amount\n1,10\n2,20\n",
}


def test_run_reads_from_and_exports_to_a_storage_connection(project: Folder) -> None:
    project.write(PROJECT)
    ran = project.interlace("run")
    assert ran.code == 0, ran
    exported = project.root / "lake" / "exports" / "totals.csv"
    assert f"exported to {exported}" in re.sub(r"\s*\n\s*", "", ran.stdout)
    assert exported.read_text().splitlines() == ["id,amount", "1,10", "2,20"]


def test_export_command_writes_to_a_storage_connection(project: Folder) -> None:
    project.write(PROJECT)
    assert project.interlace("run").code == 0
    done = project.interlace("export", "totals", "--connection", "lake", "--to", "out/t.parquet")
    assert done.code == 0, done
    written = project.root / "lake" / "out" / "t.parquet"
    assert f"(2 rows) to {written}" in done.stdout
    with duckdb.connect() as con:
        assert con.execute(f"SELECT * FROM '{written}' ORDER BY 1").fetchall() == [
            (1, 10),
            (2, 20),
        ]
    outside = project.interlace("export", "totals", "--connection", "lake", "--to", "../x.csv")
    assert outside.code != 0 and "outside the connection's base folder" in outside.output
    assert not outside.has_traceback


def test_info_lists_storage_connections_with_their_reachability(project: Folder) -> None:
    project.write(PROJECT)
    shown = project.interlace("info")
    assert shown.code == 0, shown
    lake = next(line for line in shown.stdout.splitlines() if "│ lake" in line)
    assert "filesystem" in lake and "reachable" in lake
    archive = next(line for line in shown.stdout.splitlines() if "│ archive" in line)
    assert "unreachable" in archive
