"""The Arrow file writer that exports models of engines without a COPY of their own: the same
formats, options and defaults as DuckDB's COPY, checked by reading both files back."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from interlace.file_writer import write_arrow_file

TABLE = pa.table(
    {
        "id": pa.array([1, 2, 3], pa.int64()),
        "name": ["ann", None, "cy;x"],
        "at": [dt.datetime(2024, 1, 31, 12, 0), None, dt.datetime(2024, 2, 1)],
        "amount": pa.array([10.5, 20.0, None], pa.float64()),
    }
)


def both(tmp_path: Path, file_format: str, options: dict[str, Any]) -> tuple[Path, Path]:
    ours = tmp_path / f"ours.{file_format}"
    write_arrow_file(TABLE.to_reader(max_chunksize=2), str(ours), file_format, options)
    theirs = tmp_path / f"theirs.{file_format}"
    spelled = ", ".join(
        [f"FORMAT {file_format}", *(f"{k.upper()} {v!r}" for k, v in options.items())]
    )
    with duckdb.connect() as con:
        con.register("t", TABLE)
        con.execute(
            f"COPY t TO '{theirs}' ({spelled.replace('True', 'true').replace('False', 'false')})"
        )
    return ours, theirs


@pytest.mark.parametrize(
    ("file_format", "options", "reader"),
    [
        ("csv", {}, "read_csv('{}')"),
        ("csv", {"header": False, "delimiter": ";"}, "read_csv('{}', header=false, delim=';')"),
        ("parquet", {}, "read_parquet('{}')"),
        ("parquet", {"compression": "zstd"}, "read_parquet('{}')"),
        ("json", {}, "read_json('{}')"),
        ("json", {"array": True}, "read_json('{}', format='array')"),
    ],
)
def test_files_read_back_like_duckdbs_own(
    tmp_path: Path, file_format: str, options: dict[str, Any], reader: str
) -> None:
    ours, theirs = both(tmp_path, file_format, options)
    with duckdb.connect() as con:
        mine = con.execute(f"SELECT * FROM {reader.format(ours)}").fetchall()
        expected = con.execute(f"SELECT * FROM {reader.format(theirs)}").fetchall()
    assert mine == expected
    assert len(mine) == 3


def test_json_lines_and_array_shapes(tmp_path: Path) -> None:
    lines = tmp_path / "lines.json"
    write_arrow_file(TABLE.to_reader(), str(lines), "json", {})
    rows = [json.loads(line) for line in lines.read_text().splitlines()]
    assert rows[0] == {"id": 1, "name": "ann", "at": "2024-01-31 12:00:00", "amount": 10.5}
    array = tmp_path / "array.json"
    write_arrow_file(TABLE.to_reader(), str(array), "json", {"array": True})
    assert json.loads(array.read_text()) == rows


def test_an_empty_result_still_writes_a_file_with_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    write_arrow_file(TABLE.slice(0, 0).to_reader(), str(path), "parquet", {})
    with duckdb.connect() as con:
        assert con.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()[0][0] == "id"
