"""Every write strategy on PostgreSQL, with the exact rows it must publish (SPEC §3.2, §3.3).

The strategies are core's own (one set of sqlglot builders for every engine); these tests prove
the statements they build run on PostgreSQL with the same results as on DuckDB. Tests taking
``apply_path`` run merge_by_key and SCD2 through both MERGE (PostgreSQL's default) and
DELETE+INSERT.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest
from interlace_connections.postgres.engine import PostgresEngine

if TYPE_CHECKING:
    from conftest import PgProject

MERGE_MODEL = """
import json
from pathlib import Path

from interlace import model

@model(strategy="merge_by_key", primary_key={key!r}{extra})
def items():
    return json.loads((Path(__file__).parent.parent / "input.json").read_text())
"""

SCD2_MODEL = """
import json
from pathlib import Path

import pyarrow as pa
from interlace import model

SCHEMA = pa.schema([("k", pa.int64()), ("t", pa.string()), ("u", pa.int64())])

@model(strategy="scd_type_2", primary_key="k", delete_mode={delete_mode!r})
def dim():
    rows = json.loads((Path(__file__).parent.parent / "input.json").read_text())
    return pa.Table.from_pylist(rows, schema=SCHEMA)
"""


@pytest.fixture(params=["merge", "delete_insert"])
def apply_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    prefer_merge = request.param == "merge"
    monkeypatch.setattr(
        PostgresEngine,
        "capabilities",
        dataclasses.replace(PostgresEngine.capabilities, merge=True, prefer_merge=prefer_merge),
    )
    return str(request.param)


def run_batch(project: PgProject, model: str, rows: list[dict[str, Any]]) -> dict[str, int]:
    project.write({"input.json": json.dumps(rows)})
    result = project.run_ok()
    stats = result.models[model].stats
    return {k: stats.get(k, 0) for k in ("inserted", "updated", "deleted")}


def counts(inserted: int = 0, updated: int = 0, deleted: int = 0) -> dict[str, int]:
    return {"inserted": inserted, "updated": updated, "deleted": deleted}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# ---------------------------------------------------------------------------- replace / append


def test_replace_publishes_the_rows_and_a_rerun_is_idempotent(pg_project: PgProject) -> None:
    pg_project.write(
        {
            "models/items.py": """
                from interlace import model

                @model(strategy="replace")
                def items():
                    return [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
            """,
            "models/doubled.sql": "SELECT id, v || v AS vv FROM items",
        }
    )
    for _ in range(2):
        pg_project.run_ok(force=True)
        assert pg_project.rows("items", "id") == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
        assert pg_project.rows("doubled", "id") == [{"id": 1, "vv": "aa"}, {"id": 2, "vv": "bb"}]
    pg_project.write(
        {
            "models/items.py": """
                from interlace import model

                @model(strategy="replace")
                def items():
                    return [{"id": 3, "v": "c", "w": 1.5}]
            """
        }
    )
    pg_project.run_ok()
    assert pg_project.rows("items") == [{"id": 3, "v": "c", "w": 1.5}]
    assert pg_project.columns("items") == {
        "id": "bigint",
        "v": "text",
        "w": "double precision",
    }
    # no staging table or temporary relation is left behind
    assert pg_project.sql("SELECT count(*) FROM pg_class WHERE relname LIKE '\\_\\_il\\_%%'") == [
        (0,)
    ]


def test_append_adds_the_batch_again_and_new_columns_leave_old_rows_null(
    pg_project: PgProject,
) -> None:
    pg_project.write(
        {
            "models/log.sql": """
                -- @strategy: append
                SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, v)
            """
        }
    )
    assert pg_project.run_ok().models["log"].rows == 2
    assert pg_project.run_ok(force=True).models["log"].stats == {"inserted": 2}
    assert pg_project.sql("SELECT id, count(*) FROM main.log GROUP BY id ORDER BY id") == [
        (1, 2),
        (2, 2),
    ]
    pg_project.write(
        {
            "models/log.sql": """
                -- @strategy: append
                SELECT 3 AS id, 'c' AS v, 9.5::float8 AS score
            """
        }
    )
    pg_project.run_ok()
    assert pg_project.rows("log", "id, score") == [
        {"id": 1, "v": "a", "score": None},
        {"id": 1, "v": "a", "score": None},
        {"id": 2, "v": "b", "score": None},
        {"id": 2, "v": "b", "score": None},
        {"id": 3, "v": "c", "score": 9.5},
    ]


# ---------------------------------------------------------------------------- merge_by_key


def merge_project(project: PgProject, key: str | list[str] = "id", mode: str | None = None) -> None:
    extra = f", delete_mode={mode!r}" if mode else ""
    project.write({"models/items.py": MERGE_MODEL.format(key=key, extra=extra)})


def test_merge_by_key_preserve_upserts_and_keeps_missing_rows(
    pg_project: PgProject, apply_path: str
) -> None:
    merge_project(pg_project)
    first = [{"id": 1, "v": "a", "n": 10}, {"id": 2, "v": "b", "n": 20}]
    assert run_batch(pg_project, "items", first) == counts(inserted=2)
    assert pg_project.rows("items", "id") == first
    second = [
        {"id": 1, "v": "a", "n": 10},
        {"id": 2, "v": "B", "n": 21},
        {"id": 3, "v": "c", "n": 30},
    ]
    assert run_batch(pg_project, "items", second) == counts(inserted=1, updated=1)
    assert pg_project.rows("items", "id") == second
    assert run_batch(pg_project, "items", [{"id": 3, "v": "c", "n": 30}]) == counts()
    assert pg_project.rows("items", "id") == second
    # the same batch again changes nothing
    assert run_batch(pg_project, "items", [{"id": 3, "v": "c", "n": 30}]) == counts()


def test_merge_by_key_null_changes_count_as_updates(pg_project: PgProject, apply_path: str) -> None:
    merge_project(pg_project)
    run_batch(
        pg_project, "items", [{"id": 1, "v": "a"}, {"id": 2, "v": None}, {"id": 3, "v": None}]
    )
    stats = run_batch(
        pg_project, "items", [{"id": 1, "v": None}, {"id": 2, "v": "b"}, {"id": 3, "v": None}]
    )
    assert stats == counts(updated=2)
    assert pg_project.rows("items", "id") == [
        {"id": 1, "v": None},
        {"id": 2, "v": "b"},
        {"id": 3, "v": None},
    ]


def test_merge_by_key_hard_delete_removes_missing_rows(
    pg_project: PgProject, apply_path: str
) -> None:
    merge_project(pg_project, mode="hard")
    run_batch(pg_project, "items", [{"id": i, "v": "x"} for i in (1, 2, 3, 4)])
    stats = run_batch(
        pg_project, "items", [{"id": 2, "v": "x"}, {"id": 4, "v": "y"}, {"id": 5, "v": "z"}]
    )
    assert stats == counts(inserted=1, updated=1, deleted=2)
    assert pg_project.rows("items", "id") == [
        {"id": 2, "v": "x"},
        {"id": 4, "v": "y"},
        {"id": 5, "v": "z"},
    ]
    stats = run_batch(pg_project, "items", [{"id": 1, "v": "back"}, {"id": 2, "v": "x"}])
    assert stats == counts(inserted=1, deleted=2)
    assert pg_project.rows("items", "id") == [{"id": 1, "v": "back"}, {"id": 2, "v": "x"}]


def test_merge_by_key_soft_delete_flags_missing_rows_and_revives_them(
    pg_project: PgProject, apply_path: str
) -> None:
    merge_project(pg_project, mode="soft")
    assert run_batch(pg_project, "items", [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]) == counts(
        inserted=2
    )
    assert pg_project.rows("items", "id") == [
        {"id": 1, "v": "a", "_deleted": False, "_deleted_at": None},
        {"id": 2, "v": "b", "_deleted": False, "_deleted_at": None},
    ]
    before = utcnow()
    assert run_batch(pg_project, "items", [{"id": 1, "v": "a"}]) == counts(deleted=1)
    after = utcnow()
    rows = pg_project.rows("items", "id")
    deleted_at = rows[1]["_deleted_at"]
    assert isinstance(deleted_at, dt.datetime) and before <= deleted_at <= after
    assert rows == [
        {"id": 1, "v": "a", "_deleted": False, "_deleted_at": None},
        {"id": 2, "v": "b", "_deleted": True, "_deleted_at": deleted_at},
    ]
    assert run_batch(pg_project, "items", [{"id": 1, "v": "a"}]) == counts()
    assert pg_project.rows("items", "id") == rows
    assert run_batch(pg_project, "items", [{"id": 1, "v": "a"}, {"id": 2, "v": "b2"}]) == counts(
        updated=1
    )
    assert pg_project.rows("items", "id") == [
        {"id": 1, "v": "a", "_deleted": False, "_deleted_at": None},
        {"id": 2, "v": "b2", "_deleted": False, "_deleted_at": None},
    ]


def test_merge_by_key_composite_key_and_sql_model(pg_project: PgProject, apply_path: str) -> None:
    merge_project(pg_project, key=["region", "id"], mode="hard")
    first = [
        {"region": "eu", "id": 1, "v": "a"},
        {"region": "us", "id": 1, "v": "b"},
        {"region": "eu", "id": 2, "v": "c"},
    ]
    assert run_batch(pg_project, "items", first) == counts(inserted=3)
    second = [
        {"region": "eu", "id": 1, "v": "a"},
        {"region": "us", "id": 1, "v": "B"},
        {"region": "us", "id": 2, "v": "d"},
    ]
    assert run_batch(pg_project, "items", second) == counts(inserted=1, updated=1, deleted=1)
    assert pg_project.rows("items", "region, id") == second
    pg_project.write(
        {
            "models/upper.sql": """
                -- @strategy: merge_by_key
                -- @primary_key: [region, id]
                SELECT region, id, upper(v) AS v FROM items
            """
        }
    )
    pg_project.run_ok()
    assert pg_project.rows("upper", "region, id") == [
        {"region": "eu", "id": 1, "v": "A"},
        {"region": "us", "id": 1, "v": "B"},
        {"region": "us", "id": 2, "v": "D"},
    ]


def test_merge_by_key_duplicate_keys_fail_and_keep_the_table(pg_project: PgProject) -> None:
    merge_project(pg_project)
    run_batch(pg_project, "items", [{"id": 1, "v": "a"}])
    pg_project.write({"input.json": json.dumps([{"id": 2, "v": "x"}, {"id": 2, "v": "y"}])})
    result = pg_project.run()
    assert result.models["items"].status == "failed"
    assert "duplicate primary_key" in (result.models["items"].error or "")
    assert pg_project.rows("items") == [{"id": 1, "v": "a"}]


# ---------------------------------------------------------------------------- scd_type_2


def scd2_rows(project: PgProject) -> list[dict[str, Any]]:
    return project.rows("dim", "k, valid_from")


def test_scd_type_2_versions_changes_and_never_rewrites_unchanged_rows(
    pg_project: PgProject, apply_path: str
) -> None:
    pg_project.write({"models/dim.py": SCD2_MODEL.format(delete_mode="ignore")})
    assert run_batch(
        pg_project, "dim", [{"k": 1, "t": "a", "u": 1}, {"k": 2, "t": "b", "u": 2}]
    ) == counts(inserted=2)
    first = scd2_rows(pg_project)
    assert [(r["k"], r["t"], r["valid_to"], r["is_current"]) for r in first] == [
        (1, "a", None, True),
        (2, "b", None, True),
    ]
    opened = first[0]["valid_from"]
    # unchanged: nothing is written, ever
    assert (
        run_batch(pg_project, "dim", [{"k": 1, "t": "a", "u": 1}, {"k": 2, "t": "b", "u": 2}])
        == counts()
    )
    assert scd2_rows(pg_project) == first
    # k=1 changes, k=2 disappears (ignored), k=3 is new
    assert run_batch(
        pg_project, "dim", [{"k": 1, "t": "A", "u": 1}, {"k": 3, "t": None, "u": 3}]
    ) == counts(inserted=1, updated=1)
    rows = scd2_rows(pg_project)
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
    # NULL and '' are different values
    assert run_batch(
        pg_project, "dim", [{"k": 1, "t": "A", "u": 1}, {"k": 3, "t": "", "u": 3}]
    ) == counts(updated=1)
    assert [(r["k"], r["t"]) for r in scd2_rows(pg_project) if r["is_current"]] == [
        (1, "A"),
        (2, "b"),
        (3, ""),
    ]


def test_scd_type_2_soft_closes_versions_of_missing_keys(
    pg_project: PgProject, apply_path: str
) -> None:
    pg_project.write({"models/dim.py": SCD2_MODEL.format(delete_mode="soft")})
    run_batch(pg_project, "dim", [{"k": 1, "t": "a", "u": 1}, {"k": 2, "t": "b", "u": 2}])
    assert run_batch(pg_project, "dim", [{"k": 1, "t": "a", "u": 1}]) == counts(deleted=1)
    rows = scd2_rows(pg_project)
    assert [(r["k"], r["is_current"], r["valid_to"] is not None) for r in rows] == [
        (1, True, False),
        (2, False, True),
    ]
    # missing again: nothing more to close
    assert run_batch(pg_project, "dim", [{"k": 1, "t": "a", "u": 1}]) == counts()
    # back: a new current version
    assert run_batch(
        pg_project, "dim", [{"k": 1, "t": "a", "u": 1}, {"k": 2, "t": "b", "u": 2}]
    ) == counts(inserted=1)
    assert [(r["k"], r["is_current"]) for r in scd2_rows(pg_project)] == [
        (1, True),
        (2, False),
        (2, True),
    ]


def test_scd_type_2_soft_mark_opens_a_tombstone_version(
    pg_project: PgProject, apply_path: str
) -> None:
    pg_project.write({"models/dim.py": SCD2_MODEL.format(delete_mode="soft_mark")})
    run_batch(pg_project, "dim", [{"k": 1, "t": "a", "u": 1}, {"k": 2, "t": "b", "u": 2}])
    assert run_batch(pg_project, "dim", [{"k": 1, "t": "a", "u": 1}]) == counts(deleted=1)
    rows = scd2_rows(pg_project)
    assert [(r["k"], r["t"], r["is_current"], r["_is_deleted"]) for r in rows] == [
        (1, "a", True, False),
        (2, "b", False, False),
        (2, "b", True, True),
    ]
    assert rows[1]["valid_to"] == rows[2]["valid_from"]
    assert run_batch(pg_project, "dim", [{"k": 1, "t": "a", "u": 1}]) == counts()
    # a key coming back after its tombstone is a change
    assert run_batch(
        pg_project, "dim", [{"k": 1, "t": "a", "u": 1}, {"k": 2, "t": "b", "u": 2}]
    ) == counts(updated=1)
    current = [(r["k"], r["t"], r["_is_deleted"]) for r in scd2_rows(pg_project) if r["is_current"]]
    assert current == [(1, "a", False), (2, "b", False)]
    assert len(scd2_rows(pg_project)) == 4
