"""Incremental models on every engine (SPEC §5.1, §5.2): a cursor filters upstream rows to
those after the stored watermark, in SQL and Python (ibis) consumers; backfill windows; every
cursor type; tables that are no model; late rows within a lookback."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest
from interlace.migrations import migrate
from interlace.state import SQLiteStateStore

if TYPE_CHECKING:
    from .conftest import EngineProject

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
"""

PY_INC = """

@model(strategy="append", cursor="ts")
def py_inc(events):
    return events.mutate(seen=events.v.upper())
"""

INC_SQL = """
-- @strategy: {strategy}
-- @primary_key: id
-- @cursor: ts
SELECT id, ts, v FROM events
"""


def day(n: int, hour: int = 0) -> str:
    return f"2024-01-{n:02d} {hour:02d}:00:00"


def event(id_: int, n: int, v: str = "x") -> dict[str, Any]:
    return {"id": id_, "ts": day(n), "v": v}


def ts(n: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, n, hour)


def feed(project: EngineProject, rows: list[dict[str, Any]]) -> None:
    project.write({"input.json": json.dumps(rows)})


# the cursor's type as the engine describes it, and as the watermark stores it (Spark: a
# timestamp without time zone is TIMESTAMP_NTZ, an instant TIMESTAMP_LTZ)
STORED_TYPE = {
    "duckdb": {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"},
    "postgres": {"VARCHAR": "TEXT"},
    "mysql": {
        "TIMESTAMP": "DATETIME(6)",
        "TIMESTAMPTZ": "TIMESTAMP(6)",  # no type keeps the zone: instants are kept in UTC
        "INTEGER": "INT",
        "VARCHAR": "TEXT",
    },
    "spark": {
        "TIMESTAMP": "TIMESTAMP_NTZ",
        "TIMESTAMPTZ": "TIMESTAMP_LTZ",
        "INTEGER": "INT",
        "VARCHAR": "STRING",
    },
}


def stamp(project: EngineProject) -> str:
    """How the engine names the type of a timestamp without time zone."""
    return STORED_TYPE[project.engine].get("TIMESTAMP", "TIMESTAMP")


def stored(project: EngineProject, model: str) -> tuple[str, str, str] | None:
    """The stored watermark: (cursor column, value as text, type)."""
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        found = store.get_watermark("dev", model)
    finally:
        store.close()
    return None if found is None else (found.cursor_column, found.value, found.value_type)


def incremental_project(project: EngineProject, strategy: str = "merge_by_key") -> EngineProject:
    sql = INC_SQL.format(strategy=strategy)
    if strategy == "merge_by_key":  # counts of changed rows on every engine
        sql = sql.replace("-- @primary_key: id\n", "-- @primary_key: id\n-- @exact_counts: true\n")
    if strategy == "append":
        sql = sql.replace("-- @primary_key: id\n", "")
    return project.write({"models/events.py": EVENTS, "models/inc.sql": sql})


def inc_rows(project: EngineProject) -> list[tuple[Any, ...]]:
    return project.sql("SELECT id, ts, v FROM main.inc ORDER BY id")


# ---------------------------------------------------------------------------- watermarks


def test_cursor_processes_only_rows_after_the_watermark(project: EngineProject) -> None:
    incremental_project(project, "append")
    feed(project, [event(1, 1), event(2, 2)])
    first = project.run_ok()
    assert first.models["inc"].rows == 2
    assert stored(project, "inc") == ("ts", "2024-01-02 00:00:00", stamp(project))

    feed(project, [event(1, 1), event(2, 2), event(3, 3)])
    second = project.run_ok()
    assert second.models["inc"].rows == 1  # only the new row; append would duplicate the rest
    assert inc_rows(project) == [(1, ts(1), "x"), (2, ts(2), "x"), (3, ts(3), "x")]
    assert stored(project, "inc") == ("ts", "2024-01-03 00:00:00", stamp(project))

    # nothing new upstream: skipped, watermark unchanged
    third = project.run_ok()
    assert third.models["inc"].status == "skipped"
    assert inc_rows(project) == [(1, ts(1), "x"), (2, ts(2), "x"), (3, ts(3), "x")]
    assert stored(project, "inc") == ("ts", "2024-01-03 00:00:00", stamp(project))


def test_sql_and_python_cursor_models_skip_rows_behind_the_watermark_until_a_backfill(
    project: EngineProject,
) -> None:
    inc = INC_SQL.format(strategy="merge_by_key")
    project.write({"models/events.py": EVENTS + PY_INC, "models/inc.sql": inc})
    feed(project, [event(1, 1), event(2, 2)])
    first = project.run_ok()
    assert first.models["inc"].rows == 2 and first.models["py_inc"].rows == 2

    # id 1 changes but keeps its old timestamp: behind the watermark, so not reprocessed
    feed(project, [event(1, 1, "changed"), event(2, 2), event(3, 3, "new")])
    second = project.run_ok()
    assert second.models["inc"].rows == 1 and second.models["py_inc"].rows == 1
    assert project.sql("SELECT id, v FROM main.inc ORDER BY id") == [
        (1, "x"),
        (2, "x"),
        (3, "new"),
    ]
    assert project.sql("SELECT id, seen FROM main.py_inc ORDER BY id") == [
        (1, "X"),
        (2, "X"),
        (3, "NEW"),
    ]

    # a backfill window reprocesses that window only, without moving the watermark
    backfill = project.run_ok(["inc"], since="2024-01-01", until="2024-01-02")
    assert backfill.models["inc"].rows == 1
    assert project.sql("SELECT id, v, ts FROM main.inc ORDER BY id") == [
        (1, "changed", ts(1)),
        (2, "x", ts(2)),
        (3, "new", ts(3)),
    ]
    assert stored(project, "inc") == ("ts", "2024-01-03 00:00:00", stamp(project))


def test_since_until_reprocesses_a_window_without_moving_the_watermark(
    project: EngineProject,
) -> None:
    incremental_project(project)
    feed(project, [event(i, i) for i in range(1, 5)])
    project.run_ok()
    assert stored(project, "inc") == ("ts", "2024-01-04 00:00:00", stamp(project))

    # upstream corrects days 2 and 4; only day 2 is inside the window
    feed(project, [event(1, 1), event(2, 2, "fixed"), event(3, 3), event(4, 4, "fixed")])
    result = project.run_ok(since="2024-01-02", until="2024-01-03")
    assert result.models["inc"].status == "success"
    assert result.models["inc"].rows == 1
    assert result.models["inc"].stats == {"inserted": 0, "updated": 1}
    assert inc_rows(project) == [
        (1, ts(1), "x"),
        (2, ts(2), "fixed"),
        (3, ts(3), "x"),
        (4, ts(4), "x"),
    ]
    assert stored(project, "inc") == ("ts", "2024-01-04 00:00:00", stamp(project))

    # a backfill of old data also runs when nothing changed upstream, and stays put
    again = project.run_ok(since="2024-01-01", until="2024-01-02")
    assert again.models["inc"].status == "success"
    assert again.models["inc"].stats == {"inserted": 0, "updated": 0}
    assert stored(project, "inc") == ("ts", "2024-01-04 00:00:00", stamp(project))


# ---------------------------------------------------------------------------- cursor types

# ``events`` holds every row that arrived so far; ``inc`` (SQL) reads it by cursor, ``pulled``
# is a root Python model that receives the typed watermark as its ``cursor`` parameter
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
    with (ROOT / "cursors.txt").open("a") as seen:
        seen.write(repr(cursor) + "\\n")
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
        "BIGINT": 5_000_000_000 + n,  # beyond 32 bits
        "VARCHAR": f"k{n:02d}",
    }[kind]


def cursor_python(kind: str, n: int) -> Any:
    raw = cursor_json(kind, n)
    if kind == "DATE":
        return dt.date.fromisoformat(raw)
    if kind.startswith("TIMESTAMP"):
        return dt.datetime.fromisoformat(raw)
    return raw


# the stored watermark after rows 1-2, 1-4, 1-5
WATERMARKS = {
    "DATE": ("2024-01-02", "2024-01-04", "2024-01-05"),
    "TIMESTAMP": ("2024-01-01 02:00:00", "2024-01-01 04:00:00", "2024-01-01 05:00:00.250000"),
    "TIMESTAMPTZ": (  # stored in UTC
        "2024-01-01 00:00:00+00:00",
        "2024-01-01 02:00:00+00:00",
        "2024-01-01 03:00:00.250000+00:00",
    ),
    "INTEGER": ("20", "40", "50"),
    "BIGINT": ("5000000002", "5000000004", "5000000005"),
    "VARCHAR": ("k02", "k04", "k05"),
}


@pytest.mark.parametrize("kind", list(WATERMARKS))
def test_every_cursor_type_appends_each_row_once_and_stores_an_exact_watermark(
    project: EngineProject, kind: str
) -> None:
    project.write(
        {"models/events.py": TYPED_MODELS.format(kind=kind), "models/inc.sql": TYPED_INC_SQL}
    )
    sql_type = STORED_TYPE[project.engine].get(kind, kind)
    watermarks = WATERMARKS[kind]
    if kind == "TIMESTAMPTZ" and project.engine == "mysql":  # UTC, without an offset
        watermarks = tuple(text.removesuffix("+00:00") for text in watermarks)
    for arrived, text in zip((2, 4, 5), watermarks, strict=True):
        rows = [{"id": n, "c": cursor_json(kind, n)} for n in range(1, arrived + 1)]
        feed(project, rows)
        project.run_ok()

        expected = [(n, cursor_python(kind, n)) for n in range(1, arrived + 1)]
        if kind == "TIMESTAMPTZ" and project.engine == "mysql":  # no type keeps a zone: UTC
            expected = [(n, v.astimezone(dt.UTC).replace(tzinfo=None)) for n, v in expected]
        for model in ("inc", "pulled"):
            assert project.sql(f"SELECT id, c FROM main.{model} ORDER BY id") == expected
            assert stored(project, model) == ("c", text, sql_type)
            # the stored text casts back to the newest value exactly
            same = f"SELECT CAST('{text}' AS {sql_type}) = max(c) FROM main.{model}"
            assert project.sql(same) == [(True,)]

    seen = (project.root / "cursors.txt").read_text().splitlines()
    assert seen[0] == "None"
    assert len(seen) == 3


# ---------------------------------------------------------------------------- raw sources

# the example of docs/incremental.md, word for word
PAGE_VIEWS_SQL = """
-- @name: page_views
-- @strategy: append
-- @cursor: viewed_at
select * from raw.page_views
"""

RAW_PAGE_VIEWS = """
create schema raw;
create table raw.page_views (id integer, url varchar, viewed_at timestamp);
insert into raw.page_views values
    (1, '/a', '2024-01-01 10:00:00'),
    (2, '/b', '2024-01-01 11:00:00'),
    (3, '/a', '2024-01-01 12:00:00'),
    (4, '/c', '2024-01-02 09:00:00'),
    (5, '/b', '2024-01-02 10:00:00');
"""


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, day, hour, minute)


FIRST_FIVE = [
    (1, "/a", at(1, 10)),
    (2, "/b", at(1, 11)),
    (3, "/a", at(1, 12)),
    (4, "/c", at(2, 9)),
    (5, "/b", at(2, 10)),
]


def test_append_cursor_over_a_migrated_table_appends_each_row_once(
    project: EngineProject,
) -> None:
    migration = RAW_PAGE_VIEWS
    if project.engine == "mysql":  # a migration is written in the database's own SQL
        migration = migration.replace("varchar", "varchar(100)").replace("timestamp", "datetime(6)")
    project.write(
        {"models/page_views.sql": PAGE_VIEWS_SQL, "migrations/001_raw_page_views.sql": migration}
    )
    assert migrate(project.load()).success

    for run in range(3):
        result = project.run_ok()
        # a root model (it reads no model) runs every time; only new rows are appended
        assert result.models["page_views"].rows == (5 if run == 0 else 0)
        assert project.sql("SELECT * FROM main.page_views ORDER BY id") == FIRST_FIVE
    assert stored(project, "page_views") == ("viewed_at", "2024-01-02 10:00:00", stamp(project))

    # new rows arrive, and one old row (behind the watermark: not read again without lookback),
    # written by another tool between runs
    project.execute(
        "insert into raw.page_views values (6, '/d', '2024-01-03 08:00:00'), "
        "(7, '/a', '2024-01-03 09:30:00'), (8, '/late', '2024-01-01 00:00:00')"
    )
    result = project.run_ok()
    assert result.models["page_views"].rows == 2
    assert project.sql("SELECT * FROM main.page_views ORDER BY id") == [
        *FIRST_FIVE,
        (6, "/d", at(3, 8)),
        (7, "/a", at(3, 9, 30)),
    ]
    assert stored(project, "page_views") == ("viewed_at", "2024-01-03 09:30:00", stamp(project))
    assert project.run_ok().models["page_views"].rows == 0
    assert project.count("page_views") == 7


def test_append_cursor_over_a_table_another_tool_fills(project: EngineProject) -> None:
    # a schema of its own (on MySQL schemas are databases of the whole server, and the test
    # above has `raw`)
    hours = ", ".join(f"({i}, TIMESTAMP '2024-01-01 0{i}:00:00')" for i in range(1, 6))
    project.execute(
        "CREATE SCHEMA feed; CREATE TABLE feed.page_views (id integer, viewed_at timestamp); "
        f"INSERT INTO feed.page_views VALUES {hours}"
    )
    project.write({"models/page_views.sql": PAGE_VIEWS_SQL.replace("raw.", "feed.")})
    for run in range(3):
        result = project.run_ok()
        assert result.models["page_views"].rows == (5 if run == 0 else 0)
    project.execute(
        "INSERT INTO feed.page_views VALUES (6, '2024-01-01 06:00'), (7, '2024-01-01 07:30')"
    )
    assert project.run_ok().models["page_views"].rows == 2
    assert project.sql("SELECT id FROM main.page_views ORDER BY id") == [(i,) for i in range(1, 8)]
    assert stored(project, "page_views") == ("viewed_at", "2024-01-01 07:30:00", stamp(project))


# ---------------------------------------------------------------------------- lookback


@pytest.mark.parametrize("strategy", ["append", "merge_by_key"])
def test_lookback_takes_late_rows_once(project: EngineProject, strategy: str) -> None:
    project.write(
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
    feed(project, [event(1, 1), event(2, 3)])
    project.run_ok()
    # 3 arrives late (day 2: after day 3 minus 2 days), 4 too late (day 1 is not after it)
    feed(project, [event(1, 1), event(2, 3), event(3, 2, "late"), event(4, 1, "lost")])
    second = project.run_ok()
    assert second.models["late"].stats["inserted"] == 1
    project.run_ok(force=True)  # the overlap again: nothing changes, nothing is added
    assert project.sql("SELECT id, v, ts FROM main.late ORDER BY id") == [
        (1, "x", ts(1)),
        (2, "x", ts(3)),
        (3, "late", ts(2)),
    ]
    assert stored(project, "late") == ("ts", "2024-01-03 00:00:00", stamp(project))


def hour(h: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, 1, h, minute)


def arrival(id_: int, stamp: dt.datetime, v: str = "x") -> dict[str, Any]:
    return {"id": id_, "ts": stamp.isoformat(sep=" "), "v": v}


@pytest.mark.parametrize("strategy", ["merge_by_key", "scd_type_2"])
def test_lookback_merges_rows_that_arrive_late(project: EngineProject, strategy: str) -> None:
    project.write(
        {
            "models/events.py": EVENTS,
            "models/inc.sql": f"""
                -- @strategy: {strategy}
                -- @primary_key: id
                -- @cursor: {{column: ts, lookback: 2h}}
                {"-- @exact_counts: true" if strategy == "merge_by_key" else ""}
                SELECT id, ts, v FROM events
            """,
        }
    )
    feed(project, [arrival(1, hour(10)), arrival(2, hour(12))])
    project.run_ok()
    assert stored(project, "inc") == ("ts", "2024-01-01 12:00:00", stamp(project))

    # 3 arrives late (behind the watermark, inside the lookback); 4 arrives later than 2h;
    # 1 changes at 13:00
    feed(
        project,
        [
            arrival(1, hour(13), "new"),
            arrival(2, hour(12)),
            arrival(3, hour(11), "late"),
            arrival(4, hour(9, 59), "too late"),
        ],
    )
    second = project.run_ok()
    assert second.models["inc"].stats["inserted"] == 1
    assert second.models["inc"].stats["updated"] == 1
    current = "WHERE is_current" if strategy == "scd_type_2" else ""
    expected = [(1, hour(13), "new"), (2, hour(12), "x"), (3, hour(11), "late")]
    assert project.sql(f"SELECT id, ts, v FROM main.inc {current} ORDER BY id") == expected
    assert stored(project, "inc") == ("ts", "2024-01-01 13:00:00", stamp(project))

    # re-reading the overlap (11:00 to 13:00) changes nothing
    again = project.run_ok(force=True)
    assert again.models["inc"].rows == 2  # ids 1 and 2: after 13:00 - 2h
    assert {k: again.models["inc"].stats.get(k, 0) for k in ("inserted", "updated")} == {
        "inserted": 0,
        "updated": 0,
    }
    assert project.sql(f"SELECT id, ts, v FROM main.inc {current} ORDER BY id") == expected
    versions = 4 if strategy == "scd_type_2" else 3  # id 1 has two versions
    assert project.count("inc") == versions


def test_lookback_appends_each_late_key_once(project: EngineProject) -> None:
    project.write(
        {
            "models/events.py": EVENTS,
            "models/inc.py": """
                from interlace import model

                @model(
                    strategy="append",
                    primary_key="id",
                    cursor={"column": "ts", "lookback": "2h"},
                )
                def inc(events):
                    return events
            """,
        }
    )
    feed(project, [arrival(1, hour(10)), arrival(2, hour(12))])
    assert project.run_ok().models["inc"].rows == 2
    feed(project, [arrival(1, hour(10)), arrival(2, hour(12)), arrival(3, hour(11), "late")])
    second = project.run_ok()
    assert second.models["inc"].rows == 2  # 2 and 3 read (after 10:00), only 3 is new
    assert second.models["inc"].stats == {"inserted": 1}
    for _ in range(2):
        project.run_ok(force=True)
    assert project.sql("SELECT id, ts, v FROM main.inc ORDER BY id") == [
        (1, hour(10), "x"),
        (2, hour(12), "x"),
        (3, hour(11), "late"),
    ]
