"""Incremental models and backfills (SPEC §5.1, §5.2).

``events`` is a root model fed from ``input.json``; ``inc`` reads it with ``cursor="ts"``, so
each run only sees rows newer than the stored watermark (or the ``since``/``until`` window).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import interlace
import pytest
from interlace.errors import InterlaceError, ModelDefinitionError
from interlace.state import SQLiteStateStore
from interlace.window import WindowError, count_windows, split_windows

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

EVENTS = """
import datetime as dt
import json
from dataclasses import replace
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

INC_SQL = """
-- @strategy: {strategy}
-- @primary_key: id
-- @cursor: ts
SELECT id, ts, v FROM events
"""


def day(n: int, hour: int = 0) -> str:
    return f"2024-01-{n:02d} {hour:02d}:00:00"


def event(id_: int, n: int, v: str = "x", hour: int = 0) -> dict[str, Any]:
    return {"id": id_, "ts": day(n, hour), "v": v}


def ts(n: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, n, hour)


def incremental_project(make_project: MakeProject, strategy: str = "merge_by_key") -> ProjectDir:
    sql = INC_SQL.format(strategy=strategy)
    if strategy == "append":
        sql = sql.replace("-- @primary_key: id\n", "")
    return make_project({"models/events.py": EVENTS, "models/inc.sql": sql})


def feed(project: ProjectDir, rows: list[dict[str, Any]]) -> None:
    project.write({"input.json": json.dumps(rows)})


def watermark(project: ProjectDir, model: str = "inc") -> tuple[str, str, str] | None:
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        found = store.get_watermark("dev", model)
    finally:
        store.close()
    return None if found is None else (found.cursor_column, found.value, found.value_type)


def inc_rows(project: ProjectDir) -> list[tuple[Any, ...]]:
    return project.sql("SELECT id, ts, v FROM inc ORDER BY id")


STRICT_PY_INC = """
from pathlib import Path

from interlace import model

@model(strategy="append", cursor="ts", schema_mode="strict")
def inc(events):
    table = events.select("id", "ts", "v")
    if (Path(__file__).parent.parent / "fail").exists():
        table = table.mutate(extra=table.v)  # a schema change strict mode refuses at publish
    return table
"""


def test_watermark_does_not_move_when_the_write_fails(make_project: MakeProject) -> None:
    project = make_project({"models/events.py": EVENTS, "models/inc.py": STRICT_PY_INC})
    feed(project, [event(1, 1), event(2, 2)])
    project.run_ok()
    assert watermark(project) == ("ts", "2024-01-02 00:00:00", "TIMESTAMP")

    # new rows arrive, and the model fails while publishing them (after reading them)
    feed(project, [event(1, 1), event(2, 2), event(3, 3), event(4, 4)])
    project.write({"fail": ""})
    failed = project.run()
    assert failed.models["inc"].status == "failed"
    assert "new column(s) extra" in (failed.models["inc"].error or "")
    assert watermark(project) == ("ts", "2024-01-02 00:00:00", "TIMESTAMP")
    assert project.sql("SELECT id FROM inc ORDER BY id") == [(1,), (2,)]

    # fixed: the next run picks up exactly the rows the failed run did not publish
    project.remove("fail")
    fixed = project.run_ok()
    assert fixed.models["inc"].rows == 2
    assert project.sql("SELECT id FROM inc ORDER BY id") == [(1,), (2,), (3,), (4,)]
    assert watermark(project) == ("ts", "2024-01-04 00:00:00", "TIMESTAMP")


def test_watermark_does_not_move_when_the_model_raises(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/events.py": EVENTS,
            "models/inc.py": """
                from pathlib import Path

                from interlace import model

                @model(strategy="append", cursor="ts")
                def inc(events):
                    if (Path(__file__).parent.parent / "fail").exists():
                        raise RuntimeError("downstream API is down")
                    return events
            """,
        }
    )
    feed(project, [event(1, 1)])
    project.run_ok()
    feed(project, [event(1, 1), event(2, 2)])
    project.write({"fail": ""})
    assert project.run().models["inc"].error == "RuntimeError: downstream API is down"
    assert watermark(project) == ("ts", "2024-01-01 00:00:00", "TIMESTAMP")
    project.remove("fail")
    assert project.run_ok().models["inc"].rows == 1
    assert project.sql("SELECT id FROM inc ORDER BY id") == [(1,), (2,)]


def test_root_python_model_gets_the_typed_watermark_as_cursor(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/pull.py": """
                import datetime as dt
                import json
                from pathlib import Path

                from interlace import model

                @model(strategy="append", cursor="ts")
                def pull(cursor):
                    root = Path(__file__).parent.parent
                    with (root / "cursors.txt").open("a") as seen:
                        seen.write(repr(cursor) + "\\n")
                    rows = json.loads((root / "input.json").read_text())
                    out = []
                    for row in rows:
                        stamp = dt.datetime.fromisoformat(row["ts"])
                        if cursor is None or stamp > cursor:
                            out.append({"id": row["id"], "ts": stamp})
                    return out
            """
        }
    )
    feed(project, [event(1, 1), event(2, 2)])
    project.run_ok()
    feed(project, [event(1, 1), event(2, 2), event(3, 3, hour=12)])
    project.run_ok()
    seen = (project.root / "cursors.txt").read_text().splitlines()
    assert seen == ["None", "datetime.datetime(2024, 1, 2, 0, 0)"]
    assert project.sql("SELECT id FROM pull ORDER BY id") == [(1,), (2,), (3,)]
    assert watermark(project, "pull") == ("ts", "2024-01-03 12:00:00", "TIMESTAMP")


def test_rows_newer_than_a_backfill_window_are_processed_by_the_next_run(
    make_project: MakeProject,
) -> None:
    project = incremental_project(make_project)
    feed(project, [event(1, 1), event(2, 2)])
    project.run_ok()
    # day 3 arrives, but the run is a backfill of day 1 only
    feed(project, [event(1, 1, "fixed"), event(2, 2), event(3, 3)])
    project.run_ok(since="2024-01-01", until="2024-01-02")
    assert inc_rows(project) == [(1, ts(1), "fixed"), (2, ts(2), "x")]
    # the next regular run sees no new upstream data, yet must not skip day 3
    regular = project.run_ok()
    assert regular.models["inc"].status == "success"
    assert regular.models["inc"].stats == {"inserted": 1, "updated": 0}
    assert inc_rows(project) == [(1, ts(1), "fixed"), (2, ts(2), "x"), (3, ts(3), "x")]
    assert watermark(project) == ("ts", "2024-01-03 00:00:00", "TIMESTAMP")
    assert project.run_ok().models["inc"].status == "skipped"


def test_until_alone_never_skips_rows_after_it(make_project: MakeProject) -> None:
    project = incremental_project(make_project, "append")
    feed(project, [event(1, 1)])
    project.run_ok()
    feed(project, [event(1, 1), event(2, 2), event(3, 3), event(4, 4)])

    capped = project.run_ok(until="2024-01-03")
    assert capped.models["inc"].rows == 1
    assert project.sql("SELECT id FROM inc ORDER BY id") == [(1,), (2,)]
    assert watermark(project) == ("ts", "2024-01-02 00:00:00", "TIMESTAMP")

    project.run_ok()
    assert project.sql("SELECT id FROM inc ORDER BY id") == [(1,), (2,), (3,), (4,)]
    assert watermark(project) == ("ts", "2024-01-04 00:00:00", "TIMESTAMP")


def test_window_1d_runs_one_run_per_day(make_project: MakeProject) -> None:
    project = incremental_project(make_project)
    rows = [event(1, 1, hour=3), event(2, 1, hour=20), event(3, 2), event(4, 3, hour=12)]
    feed(project, rows)
    project.run_ok()
    assert watermark(project) == ("ts", "2024-01-03 12:00:00", "TIMESTAMP")
    feed(project, [{**row, "v": "again"} for row in rows])

    result = project.run_ok(since="2024-01-01", until="2024-01-04", window="1d")
    assert result.status == "success"
    assert len(result.windows) == 3
    assert [w.models["inc"].rows for w in result.windows] == [2, 1, 1]
    assert [w.models["inc"].stats for w in result.windows] == [
        {"inserted": 0, "updated": 2},
        {"inserted": 0, "updated": 1},
        {"inserted": 0, "updated": 1},
    ]
    assert len({w.run_id for w in result.windows}) == 3
    assert result.models == result.windows[-1].models
    assert project.sql("SELECT DISTINCT v FROM inc") == [("again",)]
    assert watermark(project) == ("ts", "2024-01-03 12:00:00", "TIMESTAMP")

    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        runs = store.list_runs()
    finally:
        store.close()
    assert {r.run_id for r in runs} >= {w.run_id for w in result.windows}


def test_window_count_is_computed_without_listing_the_windows() -> None:
    assert count_windows("2000-01-01", "2024-01-01", "1s") == 757_382_400  # 24 years
    assert count_windows("2024-01-01", "2024-01-04", "1d") == 3
    assert count_windows("2024-01-01", "2024-01-04 12:00:00", "1d") == 4  # a short last one
    assert count_windows("2024-01-01T00:00:00+02:00", "2024-01-01T06:00:00+02:00", "90m") == 4
    assert count_windows("2024-01-01", "2024-01-08", "1m") == 10_080
    assert len(split_windows("2024-01-01", "2024-01-04 12:00:00", "1d")) == 4


def test_window_splitting_into_more_than_10000_runs_is_refused_before_any_run(
    make_project: MakeProject,
) -> None:
    project = incremental_project(make_project)
    feed(project, [event(1, 1)])

    with pytest.raises(WindowError) as refused:
        project.run(since="2000-01-01", until="2024-01-01", window="1s")

    assert refused.value.message == (
        "--window 1s splits 2000-01-01 .. 2024-01-01 into 757,382,400 windows; a backfill runs "
        "at most 10,000 (each window is one run)"
    )
    assert refused.value.hint == (
        "use a larger --window (1d makes 8,766), a shorter --since/--until range, or leave "
        "--window out to process the whole range in one run"
    )
    with pytest.raises(WindowError, match="into 10,080 windows"):
        project.run(since="2024-01-01", until="2024-01-08", window="1m")
    assert not project.db_path().exists()  # nothing ran


def test_window_without_incremental_models_runs_the_selection_once(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/events.py": EVENTS,
            "models/daily.sql": "SELECT ts::DATE AS day, count(*) AS n FROM events GROUP BY ALL",
        }
    )
    feed(project, [event(1, 1), event(2, 1, hour=5), event(3, 2)])

    result = project.run_ok(since="2024-01-01", until="2024-01-04", window="1d")

    assert result.windows == ()  # one ordinary run, not one per day
    assert {name: m.status for name, m in result.models.items()} == {
        "events": "success",
        "daily": "success",
    }
    assert project.sql("SELECT * FROM daily ORDER BY day") == [
        (dt.date(2024, 1, 1), 2),
        (dt.date(2024, 1, 2), 1),
    ]
    huge = project.run_ok(since="2000-01-01", until="2024-01-01", window="1s", force=True)
    assert huge.windows == ()
    assert {name: m.status for name, m in huge.models.items()} == {
        "events": "success",
        "daily": "success",
    }
    with pytest.raises(WindowError, match="invalid duration '1 day'"):
        project.run(since="2024-01-01", window="1 day")  # its arguments are still checked


def test_full_refresh_reprocesses_everything_and_moves_the_watermark(
    make_project: MakeProject,
) -> None:
    project = incremental_project(make_project, "append")
    feed(project, [event(1, 1), event(2, 2)])
    project.run_ok()
    project.run_ok()
    feed(project, [event(1, 1), event(2, 2), event(3, 3)])
    result = project.run_ok(full_refresh=True)
    assert result.models["inc"].rows == 3
    assert project.sql("SELECT id FROM inc ORDER BY id") == [(1,), (2,), (3,)]  # no duplicates
    assert watermark(project) == ("ts", "2024-01-03 00:00:00", "TIMESTAMP")


# ---------------------------------------------------------------------------- errors


def test_cursor_column_missing_from_the_result_is_a_clear_error(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/pull.py": """
                from interlace import model

                @model(strategy="append", cursor="updated_at")
                def pull():
                    return [{"id": 1, "ts": 5}]
            """
        }
    )
    result = project.run()
    failure = result.models["pull"]
    assert failure.status == "failed"
    assert failure.error is not None
    assert "cursor column 'updated_at' is not in the result" in failure.error
    assert "result columns: id, ts" in failure.error
    assert failure.location == "models/pull.py:3"
    assert watermark(project, "pull") is None
    assert "main.pull" not in project.relations()


def test_cursor_column_in_no_upstream_table_is_a_clear_error(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/events.py": EVENTS,
            "models/inc.sql": """
                -- @strategy: append
                -- @cursor: updated_at
                SELECT * FROM events
            """,
        }
    )
    feed(project, [event(1, 1)])
    result = project.run()
    error = result.models["inc"].error or ""
    assert "cursor column 'updated_at' is in none of the upstream tables" in error
    assert result.models["events"].status == "success"


def test_since_later_than_until_is_an_error(make_project: MakeProject) -> None:
    project = incremental_project(make_project)
    feed(project, [event(1, 1)])
    with pytest.raises(WindowError, match="not earlier than --until") as info:
        project.run(since="2024-01-05", until="2024-01-02")
    assert info.value.hint is not None and "swap" in info.value.hint
    with pytest.raises(WindowError):
        project.run(since="2024-01-05", until="2024-01-05")
    assert not project.db_path().exists()  # nothing ran


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"since": "2024-01-01", "window": "1 day"}, "invalid duration '1 day'"),
        ({"since": "2024-01-01", "until": "2024-01-03", "window": "0d"}, "longer than zero"),
        ({"window": "1d"}, "--window needs --since"),
        ({"since": "yesterday"}, "neither a number nor an ISO date"),
        ({"since": "1", "until": "2024-01-01"}, "both be dates or both be numbers"),
    ],
)
def test_bad_window_arguments_are_errors_at_call(
    make_project: MakeProject, kwargs: dict[str, str], match: str
) -> None:
    project = incremental_project(make_project)
    feed(project, [event(1, 1)])
    with pytest.raises(WindowError, match=match):
        project.run(**kwargs)


@pytest.mark.parametrize(
    ("cache", "match"),
    [
        ('{"ttl": "7 days"}', "invalid duration '7 days'"),
        ('{"ttl": "-1d"}', "invalid duration"),
        ('{"strategy": "ttl"}', "needs ttl"),
        ('{"ttl": "1d", "when": "always"}', "when"),
    ],
)
def test_invalid_cache_ttl_is_an_error_at_load(
    make_project: MakeProject, cache: str, match: str
) -> None:
    project = make_project(
        {
            "models/pull.py": f"""
                from interlace import model

                @model(cache={cache})
                def pull():
                    return [{{"id": 1}}]
            """
        }
    )
    with pytest.raises(ModelDefinitionError, match=match) as info:
        project.load()
    assert info.value.model == "pull"
    assert (info.value.file or "").endswith("models/pull.py")


def test_cursor_on_a_replace_model_is_an_error_at_load(make_project: MakeProject) -> None:
    project = make_project(
        {"models/inc.sql": "-- @cursor: ts\nSELECT now() AS ts\n"},
    )
    with pytest.raises(InterlaceError, match="strategy 'replace'"):
        interlace.load_project(project.root)


@pytest.mark.parametrize("strategy", ["append", "merge_by_key"])
def test_a_watermark_lost_after_the_commit_is_recovered_from_the_table(
    make_project: MakeProject, strategy: str
) -> None:
    """A run killed after the table committed but before the state store recorded the new
    watermark: the next run reads how far the table got and appends nothing twice."""
    project = incremental_project(make_project, strategy)
    feed(project, [event(1, 1), event(2, 2)])
    project.run_ok()
    feed(project, [event(1, 1), event(2, 2), event(3, 3)])
    project.run_ok()
    # what such a kill leaves: the table has row 3, the state store the first run's watermark
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        current = store.get_watermark("dev", "inc")
        assert current is not None
        store.save_watermark("dev", replace(current, value="2024-01-02 00:00:00"))
    finally:
        store.close()

    feed(project, [event(1, 1), event(2, 2), event(3, 3), event(4, 4)])
    again = project.run_ok()

    assert again.models["inc"].rows == 1  # only row 4: row 3 is not read again
    assert inc_rows(project) == [(i, ts(i), "x") for i in (1, 2, 3, 4)]
    assert watermark(project) == ("ts", "2024-01-04 00:00:00", "TIMESTAMP")


def test_window_bounds_with_and_without_a_time_zone_are_a_clear_error() -> None:
    from interlace.window import WindowError, check_window

    with pytest.raises(WindowError, match="one has a time zone and the other not"):
        check_window("2024-01-01 00:00:00+00:00", "2024-01-02")
    assert check_window("2024-01-01T00:00+02:00", "2024-01-02T00:00+00:00").since
