"""Every cursor type works end to end (SPEC §5.1): DATE, TIMESTAMP, TIMESTAMPTZ, integers and
strings. Three runs with new rows arriving between them: each row lands once, and the stored
watermark is text that CAST(text AS <type>) turns back into the newest value exactly."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import duckdb
import pytest
from interlace.incremental import cursor_text
from interlace.state import SQLiteStateStore

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

# ``events`` holds every row that arrived so far; ``inc`` (SQL) reads it by cursor, ``pulled``
# is a root Python model that receives the typed watermark as its ``cursor`` parameter
MODELS = """
import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
from interlace import model

KIND = {kind!r}
TYPES = {{
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "VARCHAR": pa.string(),
}}
SCHEMA = pa.schema([("id", pa.int64()), ("c", TYPES[KIND])])
ROOT = Path(__file__).parent.parent


def typed(value):
    if KIND == "DATE":
        return dt.date.fromisoformat(value)
    if KIND.startswith("TIMESTAMP"):
        return dt.datetime.fromisoformat(value)
    return value


def arrived():
    return [{{"id": r["id"], "c": typed(r["c"])}} for r in json.loads((ROOT / "input.json").read_text())]


@model
def events():
    return pa.Table.from_pylist(arrived(), schema=SCHEMA)


@model(strategy="append", cursor="c")
def pulled(cursor):
    with (ROOT / "cursors.txt").open("a") as seen:
        seen.write(repr(cursor) + "\\n")
    rows = [r for r in arrived() if cursor is None or r["c"] > cursor]
    return pa.Table.from_pylist(rows, schema=SCHEMA)
"""

INC_SQL = """
-- @strategy: append
-- @cursor: c
SELECT id, c FROM events
"""

UTC_PLUS_2 = dt.timezone(dt.timedelta(hours=2))


def value(kind: str, n: int) -> Any:
    """Row ``n``'s cursor value as JSON (the model types it), ascending with ``n``."""
    fraction = ".250000" if n == 5 else ""  # sub-second precision must round-trip too
    return {
        "DATE": f"2024-01-{n:02d}",
        "TIMESTAMP": f"2024-01-01 {n:02d}:00:00{fraction}",
        "TIMESTAMPTZ": f"2024-01-01 {n:02d}:00:00{fraction}+02:00",
        "INTEGER": n * 10,
        "BIGINT": 5_000_000_000 + n,  # beyond 32 bits
        "VARCHAR": f"k{n:02d}",
    }[kind]


def python_value(kind: str, n: int) -> Any:
    raw = value(kind, n)
    if kind == "DATE":
        return dt.date.fromisoformat(raw)
    if kind.startswith("TIMESTAMP"):
        return dt.datetime.fromisoformat(raw)
    return raw


# kind -> (DuckDB type name, stored watermark after rows 1-2, 1-4, 1-5)
EXPECTED: dict[str, tuple[str, tuple[str, str, str]]] = {
    "DATE": ("DATE", ("2024-01-02", "2024-01-04", "2024-01-05")),
    "TIMESTAMP": (
        "TIMESTAMP",
        ("2024-01-01 02:00:00", "2024-01-01 04:00:00", "2024-01-01 05:00:00.250000"),
    ),
    "TIMESTAMPTZ": (  # stored in UTC
        "TIMESTAMP WITH TIME ZONE",
        (
            "2024-01-01 00:00:00+00:00",
            "2024-01-01 02:00:00+00:00",
            "2024-01-01 03:00:00.250000+00:00",
        ),
    ),
    "INTEGER": ("INTEGER", ("20", "40", "50")),
    "BIGINT": ("BIGINT", ("5000000002", "5000000004", "5000000005")),
    "VARCHAR": ("VARCHAR", ("k02", "k04", "k05")),
}


def arrow_rows(project: ProjectDir, query: str) -> list[tuple[Any, ...]]:
    """Rows read as Arrow (DuckDB's row fetch of TIMESTAMPTZ needs pytz)."""
    with duckdb.connect(str(project.db_path()), read_only=True) as con:
        table = con.execute(query).to_arrow_table()
    return [tuple(row.values()) for row in table.to_pylist()]


def stored(project: ProjectDir, model: str) -> tuple[str, str] | None:
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        found = store.get_watermark("dev", model)
    finally:
        store.close()
    return None if found is None else (found.value, found.value_type)


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_every_cursor_type_appends_each_row_once_and_stores_an_exact_watermark(
    make_project: MakeProject, kind: str
) -> None:
    project = make_project(
        {"models/events.py": MODELS.format(kind=kind), "models/inc.sql": INC_SQL}
    )
    sql_type, watermarks = EXPECTED[kind]
    for arrived, text in zip((2, 4, 5), watermarks, strict=True):
        rows = [{"id": n, "c": value(kind, n)} for n in range(1, arrived + 1)]
        project.write({"input.json": json.dumps(rows)})
        project.run_ok()

        expected = [(n, python_value(kind, n)) for n in range(1, arrived + 1)]
        for model in ("inc", "pulled"):
            assert arrow_rows(project, f"SELECT id, c FROM {model} ORDER BY id") == expected
            assert stored(project, model) == (text, sql_type)
            # the stored text casts back to the newest value exactly
            same = f"SELECT CAST('{text}' AS {sql_type}) = max(c) FROM {model}"
            assert project.sql(same) == [(True,)]

    seen = (project.root / "cursors.txt").read_text().splitlines()
    assert seen[0] == "None"
    assert len(seen) == 3


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.date(2024, 2, 29), "2024-02-29"),
        (dt.datetime(2024, 1, 1, 9, 30), "2024-01-01 09:30:00"),
        (dt.datetime(2024, 1, 1, 9, 30, 0, 5), "2024-01-01 09:30:00.000005"),
        (dt.datetime(2024, 1, 1, 1, tzinfo=UTC_PLUS_2), "2023-12-31 23:00:00+00:00"),
        (dt.time(7, 15), "07:15:00"),
        (42, "42"),
        (2**40, "1099511627776"),
        ("k07", "k07"),
    ],
)
def test_cursor_text_casts_back_to_the_same_value(value: Any, text: str) -> None:
    assert cursor_text(value) == text
    kind = {
        dt.datetime: "TIMESTAMPTZ" if getattr(value, "tzinfo", None) else "TIMESTAMP",
        dt.date: "DATE",
        dt.time: "TIME",
        int: "BIGINT",
        str: "VARCHAR",
    }[type(value)]
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        back = con.execute(f"SELECT CAST(? AS {kind}) = ?", [text, value]).fetchone()
    assert back == (True,)
