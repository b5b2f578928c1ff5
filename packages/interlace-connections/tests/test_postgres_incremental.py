"""Incremental models on PostgreSQL: a cursor filters upstream rows to those after the stored
watermark, in SQL and in Python (ibis) consumers (SPEC §5.1)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

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
