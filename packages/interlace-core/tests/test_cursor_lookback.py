"""Late-arriving rows: ``cursor={"column": ..., "lookback": ...}`` (SPEC §5.1).

Each incremental run re-reads the rows whose cursor is after the watermark minus the lookback.
``merge_by_key`` and ``scd_type_2`` absorb the overlap (re-reading a row changes nothing);
``append`` needs ``primary_key`` and adds only keys the table does not have. The property test
feeds random arrival orders, late rows included, one run per arrival batch.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import interlace
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from interlace.errors import ModelDefinitionError
from interlace.spec import ModelOptions
from interlace.state import SQLiteStateStore

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

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


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, 1, hour, minute)


def event(id_: int, stamp: dt.datetime, v: str = "x") -> dict[str, Any]:
    return {"id": id_, "ts": stamp.isoformat(sep=" "), "v": v}


def feed(project: ProjectDir, rows: list[dict[str, Any]]) -> None:
    project.write({"input.json": json.dumps(rows)})


def watermark(root: Path, model: str) -> str | None:
    store = SQLiteStateStore(root / ".interlace" / "state.db")
    try:
        found = store.get_watermark("dev", model)
    finally:
        store.close()
    return None if found is None else found.value


def sql_model(strategy: str, cursor: str, columns: str = "id, ts, v") -> str:
    return f"""
        -- @strategy: {strategy}
        -- @primary_key: id
        -- @cursor: {cursor}
        SELECT {columns} FROM events
    """


# ---------------------------------------------------------------------------- behaviour


def test_integer_cursor_lookback_is_a_count(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/log.sql": """
                -- @strategy: append
                -- @primary_key: seq
                -- @cursor: {column: seq, lookback: 5}
                SELECT seq, v FROM raw.log
            """
        }
    )
    db = project.db_path()
    db.parent.mkdir(parents=True)
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA raw; CREATE TABLE raw.log AS SELECT 10 AS seq, 'a' AS v")
    project.run_ok()
    with duckdb.connect(str(db)) as con:  # 6 is more than 5 behind the watermark 10
        con.execute("INSERT INTO raw.log VALUES (12, 'b'), (7, 'late'), (4, 'too late')")
    assert project.run_ok().models["log"].rows == 3  # 7, 10 and 12: after 10 - 5
    assert project.sql("SELECT seq, v FROM log ORDER BY seq") == [(7, "late"), (10, "a"), (12, "b")]
    assert watermark(project.root, "log") == "12"


def test_lookback_never_moves_the_watermark_back(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/events.py": EVENTS,
            "models/inc.sql": sql_model("merge_by_key", "{column: ts, lookback: 2h}"),
        }
    )
    feed(project, [event(1, at(10)), event(2, at(12))])
    project.run_ok()
    # the newest row is gone upstream; the batch now ends with a late row at 11:30
    feed(project, [event(1, at(10)), event(3, at(11, 30))])
    assert project.run_ok().models["inc"].rows == 1
    assert watermark(project.root, "inc") == "2024-01-01 12:00:00"
    assert project.sql("SELECT id FROM inc ORDER BY id") == [(1,), (2,), (3,)]


def test_root_python_model_receives_the_watermark_minus_the_lookback(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/pull.py": """
                import datetime as dt
                from pathlib import Path

                from interlace import model

                @model(
                    strategy="append", primary_key="id", cursor={"column": "ts", "lookback": "90m"}
                )
                def pull(cursor):
                    root = Path(__file__).parent.parent
                    with (root / "cursors.txt").open("a") as seen:
                        seen.write(repr(cursor) + "\\n")
                    rows = [{"id": 1, "ts": dt.datetime(2024, 1, 1, 12)}]
                    return [r for r in rows if cursor is None or r["ts"] > cursor]
            """
        }
    )
    project.run_ok()
    second = project.run_ok()
    assert second.models["pull"].stats == {"inserted": 0}  # read again, not appended again
    seen = (project.root / "cursors.txt").read_text().splitlines()
    assert seen == ["None", "datetime.datetime(2024, 1, 1, 10, 30)"]
    assert project.count("pull") == 1


# ---------------------------------------------------------------------------- options and errors


def test_cursor_accepts_a_column_name_or_a_mapping() -> None:
    assert ModelOptions(cursor="ts").cursor is not None
    plain = ModelOptions.model_validate({"cursor": "ts"})
    assert plain.cursor is not None and (plain.cursor.column, plain.cursor.lookback) == ("ts", None)
    assert plain.model_dump()["cursor"] == "ts"  # fingerprints of plain cursors do not change
    late = ModelOptions.model_validate({"cursor": {"column": "ts", "lookback": "2h"}})
    assert late.cursor is not None and late.cursor.lookback == "2h"


def test_append_with_lookback_needs_a_primary_key(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/events.py": EVENTS,
            "models/inc.sql": """
                -- @strategy: append
                -- @cursor: {column: ts, lookback: 2h}
                SELECT * FROM events
            """,
        }
    )
    with pytest.raises(ModelDefinitionError, match="needs primary_key") as info:
        project.load()
    assert info.value.model == "inc"
    assert (info.value.file, info.value.line) == ("models/inc.sql", 1)
    assert "primary_key" in (info.value.hint or "")


def test_append_with_lookback_under_the_default_strategy_needs_a_primary_key(
    make_project: MakeProject,
) -> None:
    config = "name: t\nconnections:\n  default:\n    type: duckdb\n    path: data/{env}.duckdb\n"
    project = make_project(
        {
            "models/inc.py": """
                from interlace import model

                @model(cursor={"column": "ts", "lookback": "1d"})
                def inc():
                    return [{"ts": 1}]
            """
        },
        config=config + "models:\n  default_strategy: append\n",
    )
    with pytest.raises(ModelDefinitionError, match="needs primary_key") as info:
        project.load()
    assert (info.value.model, info.value.file, info.value.line) == ("inc", "models/inc.py", 3)


@pytest.mark.parametrize(
    ("lookback", "match"),
    [
        ("'2 hours'", "invalid lookback '2 hours'"),
        ("'100'", "invalid lookback '100'"),
        ("0", "must be greater than zero"),
        ("-3", "must be greater than zero"),
        ("1.5", "neither a duration nor a count"),
        ("True", "neither a duration nor a count"),
    ],
)
def test_bad_lookback_is_an_error_at_load_that_says_what_to_write(
    make_project: MakeProject, lookback: str, match: str
) -> None:
    project = make_project(
        {
            "models/inc.py": f"""
                from interlace import model

                @model(strategy="merge_by_key", primary_key="id",
                       cursor={{"column": "ts", "lookback": {lookback}}})
                def inc():
                    return [{{"id": 1, "ts": 1}}]
            """
        }
    )
    with pytest.raises(ModelDefinitionError, match=match) as info:
        project.load()
    assert info.value.model == "inc"
    assert info.value.file == "models/inc.py"
    assert "'2h'" in info.value.message and "100" in info.value.message


def test_unknown_cursor_key_in_a_sql_header_is_an_error(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/inc.sql": """
                -- @strategy: merge_by_key
                -- @primary_key: id
                -- @cursor: {column: ts, look_back: 2h}
                SELECT 1 AS id, now() AS ts
            """
        }
    )
    with pytest.raises(ModelDefinitionError, match="unknown key 'look_back'") as info:
        project.load()
    assert info.value.line == 3
    assert "lookback" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("cursor", "match", "write"),
    [
        ("{column: id, lookback: 2h}", "is a duration, which fits a date or timestamp", "100"),
        ("{column: ts, lookback: 5}", "is a count, which fits a numeric cursor", "'2h'"),
        ("{column: v, lookback: 5}", "is a count, which fits a numeric cursor", "remove lookback"),
    ],
)
def test_lookback_that_does_not_fit_the_cursor_type_fails_the_model(
    make_project: MakeProject, cursor: str, match: str, write: str
) -> None:
    project = make_project(
        {"models/events.py": EVENTS, "models/inc.sql": sql_model("merge_by_key", cursor)}
    )
    feed(project, [event(1, at(10))])
    project.run_ok()  # the first run reads everything: no watermark yet
    feed(project, [event(1, at(10)), event(2, at(11))])
    failure = project.run().models["inc"]
    assert failure.status == "failed"
    assert match in (failure.error or "")
    assert write in (failure.error or "")
    assert failure.location == "models/inc.sql:1"


# ---------------------------------------------------------------------------- property

LOOKBACK_HOURS = 2
PROPERTY_CONFIG = (
    "name: lookback\nconnections:\n  default:\n    type: duckdb\n    path: data/{env}.duckdb\n"
)
PROPERTY_SOURCE = """
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from interlace import model

KIND = {kind!r}
SCHEMA = pa.schema([("id", pa.int64()), ("ts", pa.int64()), ("v", pa.int64())])

@model
def events():
    rows = json.loads((Path(__file__).parent.parent / "input.json").read_text())
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    if KIND == "integer":
        return table
    hours = pc.multiply(table["ts"], 3_600_000_000).cast(pa.timestamp("us"))  # hours -> ts
    return table.set_column(1, "ts", hours)
"""


def property_models(kind: str) -> dict[str, str]:
    lookback = LOOKBACK_HOURS if kind == "integer" else f"{LOOKBACK_HOURS}h"
    cursor = f"{{column: ts, lookback: {lookback}}}"
    return {
        "models/events.py": PROPERTY_SOURCE.format(kind=kind),
        "models/merged.sql": sql_model("merge_by_key", cursor),
        "models/appended.sql": sql_model("append", cursor),
    }


# One arrival: (key, hours relative to the newest cursor value that arrived before this batch,
# value). Relative hours > -LOOKBACK_HOURS keep every late row inside the lookback.
arrivals = st.lists(
    st.tuples(st.integers(1, 5), st.integers(-LOOKBACK_HOURS + 1, 2), st.integers(0, 3)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=12, deadline=None)
@given(
    batches=st.lists(arrivals, min_size=2, max_size=4),
    kind=st.sampled_from(["timestamp", "integer"]),
)
def test_late_rows_within_the_lookback_end_up_exactly_once(
    batches: list[list[tuple[int, int, int]]], kind: str
) -> None:
    with tempfile.TemporaryDirectory(prefix="lookback_") as folder:
        root = Path(folder)
        (root / "models").mkdir()
        (root / "config.yaml").write_text(PROPERTY_CONFIG)
        for rel, text in property_models(kind).items():
            (root / rel).write_text(text)

        source: dict[int, tuple[int, int]] = {}  # key -> (cursor hour, value): the current row
        first: dict[int, tuple[int, int]] = {}  # key -> the version append keeps
        newest: int | None = None
        for batch in batches:
            arrived: dict[int, tuple[int, int]] = {}
            for key, offset, value in batch:
                hour = 100 + offset if newest is None else newest + offset
                if key in source:  # a key's versions move forward in time
                    hour = max(hour, source[key][0] + 1)
                arrived[key] = (hour, value)
            source.update(arrived)
            for key, version in arrived.items():
                first.setdefault(key, version)
            newest = max(hour for hour, _ in source.values())

            rows = [{"id": k, "ts": h, "v": v} for k, (h, v) in sorted(source.items())]
            (root / "input.json").write_text(json.dumps(rows))
            result = interlace.run_sync(root)
            assert result.status == "success", {n: r.error for n, r in result.models.items()}

            with duckdb.connect(str(root / "data" / "dev.duckdb"), read_only=True) as con:
                hours = "ts" if kind == "integer" else "CAST(epoch(ts) / 3600 AS BIGINT)"
                merged = con.execute(f"SELECT id, {hours}, v FROM merged ORDER BY id").fetchall()
                appended = con.execute(
                    f"SELECT id, {hours}, v FROM appended ORDER BY id"
                ).fetchall()
            assert merged == [(k, h, v) for k, (h, v) in sorted(source.items())]
            assert appended == [(k, h, v) for k, (h, v) in sorted(first.items())]
            mark = dt.datetime(1970, 1, 1) + dt.timedelta(hours=newest)
            expected_mark = str(newest) if kind == "integer" else mark.isoformat(sep=" ")
            assert watermark(root, "merged") == expected_mark
            assert watermark(root, "appended") == expected_mark
