"""Incremental models on PostgreSQL: a cursor filters upstream rows to those after the stored
watermark, in SQL and in Python (ibis) consumers (SPEC §5.1)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import PgProject

EVENTS = """
import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
from interlace import model

SCHEMA = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us")), ("v", pa.string())])

@model
def events():
    rows = json.loads((Path(__file__).parent.parent / "input.json").read_text())
    for row in rows:
        row["ts"] = dt.datetime.fromisoformat(row["ts"])
    return pa.Table.from_pylist(rows, schema=SCHEMA)

@model(strategy="append", cursor="ts")
def py_inc(events):
    return events.mutate(seen=events.v.upper())
"""

INC_SQL = """
-- @strategy: merge_by_key
-- @primary_key: id
-- @cursor: ts
SELECT id, ts, v FROM events
"""


def event(id_: int, day: int, v: str = "x") -> dict[str, Any]:
    return {"id": id_, "ts": f"2024-01-{day:02d} 00:00:00", "v": v}


def test_cursor_models_process_only_rows_after_the_watermark(pg_project: PgProject) -> None:
    pg_project.write({"models/events.py": EVENTS, "models/inc.sql": INC_SQL})
    pg_project.write({"input.json": json.dumps([event(1, 1), event(2, 2)])})
    first = pg_project.run_ok()
    assert first.models["inc"].rows == 2 and first.models["py_inc"].rows == 2

    # id 1 changes but keeps its old timestamp: behind the watermark, so not reprocessed
    pg_project.write(
        {"input.json": json.dumps([event(1, 1, "changed"), event(2, 2), event(3, 3, "new")])}
    )
    second = pg_project.run_ok()
    assert second.models["inc"].rows == 1 and second.models["py_inc"].rows == 1
    assert pg_project.sql("SELECT id, v FROM main.inc ORDER BY id") == [
        (1, "x"),
        (2, "x"),
        (3, "new"),
    ]
    assert pg_project.sql("SELECT id, seen FROM main.py_inc ORDER BY id") == [
        (1, "X"),
        (2, "X"),
        (3, "NEW"),
    ]

    # a backfill window reprocesses that window only, without moving the watermark
    backfill = pg_project.run_ok(["inc"], since="2024-01-01", until="2024-01-02")
    assert backfill.models["inc"].rows == 1
    assert pg_project.sql("SELECT id, v, ts FROM main.inc ORDER BY id") == [
        (1, "changed", dt.datetime(2024, 1, 1)),
        (2, "x", dt.datetime(2024, 1, 2)),
        (3, "new", dt.datetime(2024, 1, 3)),
    ]


# ---------------------------------------------------------------------------- cursor types

TYPED_MODELS = """
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
    rows = json.loads((ROOT / "input.json").read_text())
    return [{{"id": r["id"], "c": typed(r["c"])}} for r in rows]


@model
def events():
    return pa.Table.from_pylist(arrived(), schema=SCHEMA)


@model(strategy="append", cursor="c")
def pulled(cursor):
    rows = [r for r in arrived() if cursor is None or r["c"] > cursor]
    return pa.Table.from_pylist(rows, schema=SCHEMA)
"""

TYPED_INC_SQL = """
-- @strategy: append
-- @cursor: c
SELECT id, c FROM events
"""


def cursor_json(kind: str, n: int) -> Any:
    """Row ``n``'s cursor value as JSON (the model types it), ascending with ``n``."""
    fraction = ".250000" if n == 5 else ""  # sub-second precision must round-trip too
    return {
        "DATE": f"2024-01-{n:02d}",
        "TIMESTAMP": f"2024-01-01 {n:02d}:00:00{fraction}",
        "TIMESTAMPTZ": f"2024-01-01 {n:02d}:00:00{fraction}+02:00",
        "INTEGER": n * 10,
        "BIGINT": 5_000_000_000 + n,
        "VARCHAR": f"k{n:02d}",
    }[kind]


def cursor_python(kind: str, n: int) -> Any:
    raw = cursor_json(kind, n)
    if kind == "DATE":
        return dt.date.fromisoformat(raw)
    if kind.startswith("TIMESTAMP"):
        return dt.datetime.fromisoformat(raw)
    return raw


# kind -> (PostgreSQL type as described, stored watermark after rows 1-2, 1-4, 1-5)
TYPED: dict[str, tuple[str, tuple[str, str, str]]] = {
    "DATE": ("DATE", ("2024-01-02", "2024-01-04", "2024-01-05")),
    "TIMESTAMP": (
        "TIMESTAMP",
        ("2024-01-01 02:00:00", "2024-01-01 04:00:00", "2024-01-01 05:00:00.250000"),
    ),
    "TIMESTAMPTZ": (  # stored in UTC
        "TIMESTAMPTZ",
        (
            "2024-01-01 00:00:00+00:00",
            "2024-01-01 02:00:00+00:00",
            "2024-01-01 03:00:00.250000+00:00",
        ),
    ),
    "INTEGER": ("INTEGER", ("20", "40", "50")),
    "BIGINT": ("BIGINT", ("5000000002", "5000000004", "5000000005")),
    "VARCHAR": ("TEXT", ("k02", "k04", "k05")),
}


def stored_watermark(pg_project: PgProject, model: str) -> tuple[str, str] | None:
    from interlace.state import SQLiteStateStore

    store = SQLiteStateStore(pg_project.root / ".interlace" / "state.db")
    try:
        found = store.get_watermark("dev", model)
    finally:
        store.close()
    return None if found is None else (found.value, found.value_type)


@pytest.mark.parametrize("kind", list(TYPED))
def test_every_cursor_type_appends_each_row_once_on_postgres(
    pg_project: PgProject, kind: str
) -> None:
    pg_project.write(
        {"models/events.py": TYPED_MODELS.format(kind=kind), "models/inc.sql": TYPED_INC_SQL}
    )
    pg_type, watermarks = TYPED[kind]
    for arrived, text in zip((2, 4, 5), watermarks, strict=True):
        rows = [{"id": n, "c": cursor_json(kind, n)} for n in range(1, arrived + 1)]
        pg_project.write({"input.json": json.dumps(rows)})
        pg_project.run_ok()
        expected = [(n, cursor_python(kind, n)) for n in range(1, arrived + 1)]
        for model in ("inc", "pulled"):
            assert pg_project.sql(f"SELECT id, c FROM main.{model} ORDER BY id") == expected
            assert stored_watermark(pg_project, model) == (text, pg_type)
            same = f"SELECT CAST(%s AS {pg_type}) = max(c) FROM main.{model}"
            assert pg_project.sql(same, (text,)) == [(True,)]


# ---------------------------------------------------------------------------- raw sources, lookback

PAGE_VIEWS_SQL = """
-- @name: page_views
-- @strategy: append
-- @cursor: viewed_at
select * from raw.page_views
"""


def test_append_cursor_over_a_table_outside_interlace_on_postgres(pg_project: PgProject) -> None:
    pg_project.sql(
        "CREATE SCHEMA raw; CREATE TABLE raw.page_views (id integer, viewed_at timestamp); "
        "INSERT INTO raw.page_views SELECT i, TIMESTAMP '2024-01-01' + i * INTERVAL '1 hour' "
        "FROM generate_series(1, 5) AS i"
    )
    pg_project.write({"models/page_views.sql": PAGE_VIEWS_SQL})
    for run in range(3):
        result = pg_project.run_ok()
        assert result.models["page_views"].rows == (5 if run == 0 else 0)
    pg_project.sql(
        "INSERT INTO raw.page_views VALUES (6, '2024-01-01 06:00'), (7, '2024-01-01 07:30')"
    )
    assert pg_project.run_ok().models["page_views"].rows == 2
    assert pg_project.sql("SELECT id FROM main.page_views ORDER BY id") == [
        (i,) for i in range(1, 8)
    ]
    assert stored_watermark(pg_project, "page_views") == ("2024-01-01 07:30:00", "TIMESTAMP")


@pytest.mark.parametrize("strategy", ["append", "merge_by_key"])
def test_lookback_takes_late_rows_once_on_postgres(pg_project: PgProject, strategy: str) -> None:
    pg_project.write(
        {
            "models/events.py": EVENTS,
            "models/late.sql": f"""
                -- @strategy: {strategy}
                -- @primary_key: id
                -- @cursor: {{column: ts, lookback: 2d}}
                SELECT id, ts, v FROM events
            """,
        }
    )
    pg_project.write({"input.json": json.dumps([event(1, 1), event(2, 3)])})
    pg_project.run_ok()
    # 3 arrives late (day 2: after day 3 minus 2 days), 4 too late (day 1 is not after it)
    late = [event(1, 1), event(2, 3), event(3, 2, "late"), event(4, 1, "lost")]
    pg_project.write({"input.json": json.dumps(late)})
    second = pg_project.run_ok()
    assert second.models["late"].stats["inserted"] == 1
    pg_project.run_ok(force=True)  # the overlap again: nothing changes, nothing is added
    assert pg_project.sql("SELECT id, v, ts FROM main.late ORDER BY id") == [
        (1, "x", dt.datetime(2024, 1, 1)),
        (2, "x", dt.datetime(2024, 1, 3)),
        (3, "late", dt.datetime(2024, 1, 2)),
    ]
    assert stored_watermark(pg_project, "late") == ("2024-01-03 00:00:00", "TIMESTAMP")
