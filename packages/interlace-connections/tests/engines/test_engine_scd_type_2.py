"""`scd_type_2` on every engine: every version of a row with validity intervals (SPEC §3.2).

Each test runs a real project several times, feeding each run a new batch through
``input.json``. The property test of the full history (random batches against a reference
model) runs on DuckDB in interlace-core's test_scd_type_2.py; the statements are unit tested in
test_strategy_statements.py.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .conftest import EngineProject

SCD2_MODEL = """
import json
from pathlib import Path

import pyarrow as pa
from interlace import model

SCHEMA = pa.schema([("k", pa.int64()), ("t", pa.string()), ("u", pa.int64())])

@model(strategy="scd_type_2", primary_key="k", delete_mode={delete_mode!r}{extra})
def dim():
    rows = json.loads((Path(__file__).parent.parent / "input.json").read_text())
    return pa.Table.from_pylist(rows, schema=SCHEMA)
"""


def dim_project(
    project: EngineProject, delete_mode: str = "ignore", extra: str = ""
) -> EngineProject:
    return project.write({"models/dim.py": SCD2_MODEL.format(delete_mode=delete_mode, extra=extra)})


def feed(project: EngineProject, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Run the project on ``rows``; return the write counts (missing counts are zero)."""
    project.write({"input.json": json.dumps(rows)})
    stats = project.run_ok().models["dim"].stats
    return {k: stats.get(k, 0) for k in ("inserted", "updated", "deleted")}


def counts(inserted: int = 0, updated: int = 0, deleted: int = 0) -> dict[str, int]:
    return {"inserted": inserted, "updated": updated, "deleted": deleted}


def history(project: EngineProject) -> list[dict[str, Any]]:
    return project.rows("dim", "k, valid_from")


def test_scd_type_2_versions_changes_and_never_rewrites_unchanged_rows(
    project: EngineProject, apply_path: str
) -> None:
    dim_project(project)
    assert feed(project, [{"k": 1, "t": "a", "u": 1}, {"k": 2, "t": "b", "u": 2}]) == counts(
        inserted=2
    )
    first = history(project)
    assert [(r["k"], r["t"], r["valid_to"], r["is_current"]) for r in first] == [
        (1, "a", None, True),
        (2, "b", None, True),
    ]
    opened = first[0]["valid_from"]
    # unchanged: nothing is written, ever
    assert feed(project, [{"k": 1, "t": "a", "u": 1}, {"k": 2, "t": "b", "u": 2}]) == counts()
    assert history(project) == first
    # k=1 changes, k=2 disappears (ignored), k=3 is new
    assert feed(project, [{"k": 1, "t": "A", "u": 1}, {"k": 3, "t": None, "u": 3}]) == counts(
        inserted=1, updated=1
    )
    rows = history(project)
    assert [(r["k"], r["t"], r["is_current"]) for r in rows] == [
        (1, "a", False),
        (1, "A", True),
        (2, "b", True),
        (3, None, True),
    ]
    # the old version closes at the instant the new one opens
    assert rows[0]["valid_from"] == opened
    assert rows[0]["valid_to"] == rows[1]["valid_from"] > opened
    assert rows[1]["valid_to"] is None
    assert rows[0]["_scd_hash"] != rows[1]["_scd_hash"]
    assert set(rows[0]) == {"k", "t", "u", "valid_from", "valid_to", "is_current", "_scd_hash"}
    # NULL and '' are different values
    assert feed(project, [{"k": 1, "t": "A", "u": 1}, {"k": 3, "t": "", "u": 3}]) == counts(
        updated=1
    )
    assert [(r["k"], r["t"]) for r in history(project) if r["is_current"]] == [
        (1, "A"),
        (2, "b"),
        (3, ""),
    ]


def test_scd_type_2_soft_closes_versions_of_missing_keys(
    project: EngineProject, apply_path: str
) -> None:
    dim_project(project, delete_mode="soft")
    feed(project, [{"k": 1, "t": "a", "u": 1}, {"k": 2, "t": "b", "u": 2}])
    assert feed(project, [{"k": 1, "t": "a", "u": 1}]) == counts(deleted=1)
    rows = history(project)
    assert [(r["k"], r["is_current"], r["valid_to"] is not None) for r in rows] == [
        (1, True, False),
        (2, False, True),
    ]
    # missing again: nothing more to close
    assert feed(project, [{"k": 1, "t": "a", "u": 1}]) == counts()
    # back: a new current version
    assert feed(project, [{"k": 1, "t": "a", "u": 1}, {"k": 2, "t": "b", "u": 2}]) == counts(
        inserted=1
    )
    assert [(r["k"], r["is_current"]) for r in history(project)] == [
        (1, True),
        (2, False),
        (2, True),
    ]


@pytest.mark.parametrize("full_join", [True, False], ids=["full_join", "separate_update"])
def test_scd_type_2_soft_counts_new_changed_and_gone_keys_of_one_batch(
    project: EngineProject, capabilities: Any, full_join: bool
) -> None:
    # one full join finds new, changed and gone keys; engines without one close gone keys apart
    capabilities(full_join=full_join)
    dim_project(project, delete_mode="soft")
    feed(
        project,
        [{"k": 1, "t": "a", "u": 0}, {"k": 2, "t": "b", "u": 0}, {"k": 3, "t": "c", "u": 0}],
    )
    batch = [{"k": 1, "t": "A", "u": 0}, {"k": 2, "t": "b", "u": 0}, {"k": 4, "t": "d", "u": 0}]
    assert feed(project, batch) == counts(inserted=1, updated=1, deleted=1)
    rows = history(project)
    assert [(r["k"], r["t"]) for r in rows if r["is_current"]] == [(1, "A"), (2, "b"), (4, "d")]
    assert [(r["k"], r["t"]) for r in rows if not r["is_current"]] == [(1, "a"), (3, "c")]
    closed = {r["k"]: r["valid_to"] for r in rows if not r["is_current"]}
    assert closed[1] == closed[3] == next(r["valid_from"] for r in rows if r["k"] == 4)


def test_scd_type_2_soft_mark_opens_a_tombstone_version(
    project: EngineProject, apply_path: str
) -> None:
    dim_project(project, delete_mode="soft_mark")
    feed(project, [{"k": 1, "t": "a", "u": 1}, {"k": 2, "t": "b", "u": 2}])
    assert feed(project, [{"k": 1, "t": "a", "u": 1}]) == counts(deleted=1)
    rows = history(project)
    assert [(r["k"], r["t"], r["is_current"], r["_is_deleted"]) for r in rows] == [
        (1, "a", True, False),
        (2, "b", False, False),
        (2, "b", True, True),
    ]
    assert rows[1]["valid_to"] == rows[2]["valid_from"]
    assert feed(project, [{"k": 1, "t": "a", "u": 1}]) == counts()
    # a key coming back after its tombstone is a change
    assert feed(project, [{"k": 1, "t": "a", "u": 1}, {"k": 2, "t": "b", "u": 2}]) == counts(
        updated=1
    )
    current = [(r["k"], r["t"], r["_is_deleted"]) for r in history(project) if r["is_current"]]
    assert current == [(1, "a", False), (2, "b", False)]
    assert len(history(project)) == 4


def test_scd_type_2_soft_empty_batch_closes_every_current_version(project: EngineProject) -> None:
    # a result without rows or columns is staged from the table itself
    project.write(
        {
            "models/dim.py": """
                import json
                from pathlib import Path

                from interlace import model

                @model(strategy="scd_type_2", primary_key="k", delete_mode="soft")
                def dim():
                    return json.loads((Path(__file__).parent.parent / "input.json").read_text())
            """
        }
    )
    feed(project, [{"k": 1, "t": "a"}, {"k": 2, "t": "b"}])
    assert feed(project, []) == counts(deleted=2)
    assert [r["is_current"] for r in project.rows("dim", "k")] == [False, False]
    # a key that comes back opens a new version
    assert feed(project, [{"k": 1, "t": "a"}]) == counts(inserted=1)
    rows = history(project)
    assert [(r["k"], r["is_current"]) for r in rows] == [(1, False), (1, True), (2, False)]
    assert rows[0]["_scd_hash"] == rows[1]["_scd_hash"]


def test_scd_type_2_custom_column_names_and_null_versus_empty_string(
    project: EngineProject,
) -> None:
    dim_project(
        project,
        extra=', scd2={"valid_from": "start_at", "valid_to": "end_at", '
        '"is_current": "live", "hash_column": "row_hash"}',
    )
    feed(project, [{"k": 1, "t": None, "u": 0}])
    # NULL -> '' is a change (the hash tells them apart); '' -> '' is not
    assert feed(project, [{"k": 1, "t": "", "u": 0}])["updated"] == 1
    assert feed(project, [{"k": 1, "t": "", "u": 0}])["updated"] == 0
    rows = project.rows("dim", "start_at")
    assert [(r["t"], r["live"]) for r in rows] == [(None, False), ("", True)]
    assert rows[0]["end_at"] == rows[1]["start_at"]
    assert set(rows[0]) == {"k", "t", "u", "start_at", "end_at", "live", "row_hash"}


def test_scd_type_2_tracked_column_missing_from_result_fails_and_keeps_table(
    project: EngineProject,
) -> None:
    dim_project(project, extra=', scd2={"tracked_columns": ["t", "missing"]}')
    project.write({"input.json": json.dumps([{"k": 1, "t": "a", "u": 0}])})
    result = project.run()
    error = result.models["dim"].error or ""
    assert result.models["dim"].status == "failed"
    assert "tracked_columns" in error and "'missing'" in error
    assert "dim" not in [name.split(".")[-1] for name in project.relations()]


def test_scd_type_2_schema_changes_version_only_rows_whose_values_changed(
    project: EngineProject,
) -> None:
    header = "-- @strategy: scd_type_2\n-- @primary_key: k\n"

    def run(query: str) -> dict[str, int]:
        project.write({"models/dim.sql": header + query})
        stats = project.run_ok().models["dim"].stats
        return {k: stats.get(k, 0) for k in ("inserted", "updated", "deleted")}

    run("SELECT * FROM (VALUES (1, 'a'), (2, 'b')) t(k, v)")
    # a new column that is NULL everywhere changes no row
    assert run("SELECT *, NULL::VARCHAR AS x FROM (VALUES (1, 'a'), (2, 'b')) t(k, v)") == counts()
    # the same values in another column order change nothing either
    assert (
        run("SELECT k, NULL::VARCHAR AS x, v FROM (VALUES (1, 'a'), (2, 'b')) t(k, v)")["updated"]
        == 0
    )
    # a value in the new column is a change of that row only
    assert (
        run(
            "SELECT k, v, CASE k WHEN 2 THEN 'new' END AS x FROM (VALUES (1, 'a'), (2, 'b')) t(k, v)"
        )["updated"]
        == 1
    )
    # a value moving from one column to another is a change, though the values are the same
    assert run("SELECT k, NULL::VARCHAR AS v, 'a' AS x FROM (VALUES (1)) t(k)")["updated"] == 1
    assert project.sql("SELECT k, v, x, is_current FROM main.dim ORDER BY k, valid_from") == [
        (1, "a", None, False),
        (1, None, "a", True),
        (2, "b", None, False),
        (2, "b", "new", True),
    ]
