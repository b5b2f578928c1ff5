"""Every write strategy on every engine, with the exact rows it must publish (SPEC §3.2, §3.3).

The strategies are core's own (one set of sqlglot builders for every engine); these tests prove
that the statements they build publish the same rows everywhere. Tests taking ``apply_path``
run merge_by_key through both MERGE and DELETE+INSERT. The statements themselves are unit
tested in interlace-core's test_strategy_statements.py.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from .conftest import EngineProject

MERGE_MODEL = """
import json
from pathlib import Path

from interlace import model

@model(strategy="merge_by_key", primary_key={key!r}{extra})
def items():
    return json.loads((Path(__file__).parent.parent / "input.json").read_text())
"""


def run_batch(project: EngineProject, rows: list[dict[str, Any]], model: str = "items") -> Counts:
    """Run the project on ``rows``; return the write counts (missing counts are zero)."""
    project.write({"input.json": json.dumps(rows)})
    result = project.run_ok()
    stats = result.models[model].stats
    return {k: stats.get(k, 0) for k in ("inserted", "updated", "deleted")}


Counts = dict[str, int]


def counts(inserted: int = 0, updated: int = 0, deleted: int = 0) -> Counts:
    return {"inserted": inserted, "updated": updated, "deleted": deleted}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def leftovers(project: EngineProject) -> list[str]:
    """Staging tables and other internal relations a write left behind."""
    found = [name for name in project.relations() if "__il_" in name]
    if project.engine == "postgres":  # any relation, temporary ones of other sessions too
        found += [
            str(name)
            for (name,) in project.sql(
                "SELECT relname FROM pg_class WHERE relname LIKE '\\_\\_il\\_%'"
            )
        ]
    return found


# ---------------------------------------------------------------------------- replace


ITEMS_REPLACE = """
from interlace import model

@model(strategy="replace")
def items():
    return {rows}
"""


def test_replace_publishes_the_rows_and_a_rerun_is_idempotent(
    project: EngineProject, types: dict[str, str]
) -> None:
    project.write(
        {
            "models/items.py": ITEMS_REPLACE.format(
                rows=[{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
            ),
            "models/doubled.sql": "SELECT id, concat(v, v) AS vv FROM items",
        }
    )
    for _ in range(2):
        project.run_ok(force=True)
        assert project.rows("items", "id") == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
        assert project.rows("doubled", "id") == [{"id": 1, "vv": "aa"}, {"id": 2, "vv": "bb"}]
    project.write({"models/items.py": ITEMS_REPLACE.format(rows=[{"id": 3, "v": "c", "w": 1.5}])})
    project.run_ok()
    assert project.rows("items") == [{"id": 3, "v": "c", "w": 1.5}]
    assert project.count("items") == 1
    assert project.sql("SELECT id, w FROM main.items") == [(3, 1.5)]
    assert project.columns("items") == {
        "id": types["bigint"],
        "v": types["text"],
        "w": types["double"],
    }
    assert leftovers(project) == []


def test_replace_of_a_sql_model_is_idempotent(project: EngineProject) -> None:
    union = " UNION ALL ".join(f"SELECT {n} AS n" for n in range(4))  # every engine's SQL
    project.write({"models/nums.sql": union})
    for _ in range(3):
        result = project.run_ok(force=True)
        assert result.models["nums"].rows == 4
    assert project.sql("SELECT count(*), sum(n) FROM main.nums") == [(4, 6)]


# ---------------------------------------------------------------------------- append


def test_append_adds_the_batch_again_and_new_columns_leave_old_rows_null(
    project: EngineProject, types: dict[str, str]
) -> None:
    project.write(
        {
            "models/log.sql": """
                -- @strategy: append
                SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, v)
            """
        }
    )
    assert project.run_ok().models["log"].rows == 2
    second = project.run_ok(force=True)
    assert second.models["log"].rows == 2  # rows written by this run
    assert second.models["log"].stats == {"inserted": 2}
    assert project.sql("SELECT id, count(*) FROM main.log GROUP BY id ORDER BY id") == [
        (1, 2),
        (2, 2),
    ]
    project.write(
        {
            "models/log.sql": """
                -- @strategy: append
                SELECT 3 AS id, 'c' AS v, CAST(9.5 AS DOUBLE PRECISION) AS score
            """
        }
    )
    project.run_ok()
    assert list(project.columns("log")) == ["id", "v", "score"]
    assert project.columns("log")["score"] == types["double"]
    assert project.rows("log", "id, score") == [
        {"id": 1, "v": "a", "score": None},
        {"id": 1, "v": "a", "score": None},
        {"id": 2, "v": "b", "score": None},
        {"id": 2, "v": "b", "score": None},
        {"id": 3, "v": "c", "score": 9.5},
    ]


LOG_APPEND = """
from interlace import model

@model(strategy="append")
def log():
    return {rows}
"""


def test_append_from_python_adds_a_new_column_and_leaves_older_rows_null(
    project: EngineProject, types: dict[str, str]
) -> None:
    project.write({"models/log.py": LOG_APPEND.format(rows=[{"id": 1, "v": "a"}])})
    project.run_ok()
    project.write({"models/log.py": LOG_APPEND.format(rows=[{"id": 2, "v": "b", "score": 9.5}])})
    project.run_ok()
    assert list(project.columns("log")) == ["id", "v", "score"]
    assert project.columns("log")["score"] == types["double"]
    assert project.rows("log", "id") == [
        {"id": 1, "v": "a", "score": None},
        {"id": 2, "v": "b", "score": 9.5},
    ]


def test_append_of_rows_missing_a_column_fills_it_with_null(project: EngineProject) -> None:
    project.write({"models/log.py": LOG_APPEND.format(rows=[{"id": 1, "v": "a"}])})
    project.run_ok()
    project.write({"models/log.py": LOG_APPEND.format(rows=[{"id": 2}])})
    project.run_ok()
    assert project.rows("log", "id") == [{"id": 1, "v": "a"}, {"id": 2, "v": None}]


# ---------------------------------------------------------------------------- none


def test_strategy_none_writes_nothing(project: EngineProject) -> None:
    project.write(
        {
            "models/untouched.py": """
                from interlace import model

                @model(strategy="none")
                def untouched():
                    yield {"id": 1}
            """,
            "models/untouched_sql.sql": "-- @strategy: none\nSELECT 1 AS id",
        }
    )
    result = project.run_ok()
    assert result.models["untouched"].rows is None
    relations = project.relations()
    assert "main.untouched" not in relations
    assert "main.untouched_sql" not in relations


# ---------------------------------------------------------------------------- merge_by_key


def merge_project(
    project: EngineProject, key: str | list[str] = "id", delete_mode: str | None = None
) -> EngineProject:
    # exact counts on every apply path (by default DELETE+INSERT counts each rewritten row)
    extra = ", exact_counts=True" + (f", delete_mode={delete_mode!r}" if delete_mode else "")
    return project.write({"models/items.py": MERGE_MODEL.format(key=key, extra=extra)})


def test_merge_by_key_preserve_upserts_and_keeps_rows_missing_from_the_batch(
    project: EngineProject, apply_path: str
) -> None:
    merge_project(project)
    first = [{"id": 1, "v": "a", "n": 10}, {"id": 2, "v": "b", "n": 20}]
    assert run_batch(project, first) == counts(inserted=2)
    assert project.rows("items", "id") == first

    # id 1 unchanged, id 2 changed, id 3 new; nothing is deleted under preserve
    second = [
        {"id": 1, "v": "a", "n": 10},
        {"id": 2, "v": "B", "n": 21},
        {"id": 3, "v": "c", "n": 30},
    ]
    assert run_batch(project, second) == counts(inserted=1, updated=1)
    assert project.rows("items", "id") == second

    # a batch with only id 3 keeps ids 1 and 2 exactly as they were
    assert run_batch(project, [{"id": 3, "v": "c", "n": 30}]) == counts()
    assert project.rows("items", "id") == second
    # the same batch again changes nothing
    assert run_batch(project, [{"id": 3, "v": "c", "n": 30}]) == counts()
    assert project.rows("items", "id") == second


def test_merge_by_key_rerun_of_the_same_batch_changes_nothing(
    project: EngineProject, apply_path: str
) -> None:
    merge_project(project, delete_mode="hard")
    batch = [{"id": i, "v": f"v{i}", "n": i * 1.5} for i in range(5)]
    run_batch(project, batch)
    before = project.rows("items", "id")
    for _ in range(2):
        assert run_batch(project, batch) == counts()
        assert project.rows("items", "id") == before


def test_merge_by_key_counts_a_change_to_or_from_null_as_an_update(
    project: EngineProject, apply_path: str
) -> None:
    merge_project(project)
    run_batch(project, [{"id": 1, "v": "a"}, {"id": 2, "v": None}, {"id": 3, "v": None}])
    # NULL -> value and value -> NULL are changes; NULL -> NULL is not
    stats = run_batch(project, [{"id": 1, "v": None}, {"id": 2, "v": "b"}, {"id": 3, "v": None}])
    assert stats == counts(updated=2)
    assert project.rows("items", "id") == [
        {"id": 1, "v": None},
        {"id": 2, "v": "b"},
        {"id": 3, "v": None},
    ]


def test_merge_by_key_hard_delete_removes_missing_rows(
    project: EngineProject, apply_path: str
) -> None:
    merge_project(project, delete_mode="hard")
    run_batch(project, [{"id": i, "v": "x"} for i in (1, 2, 3, 4)])
    stats = run_batch(project, [{"id": 2, "v": "x"}, {"id": 4, "v": "y"}, {"id": 5, "v": "z"}])
    assert stats == counts(inserted=1, updated=1, deleted=2)
    assert project.rows("items", "id") == [
        {"id": 2, "v": "x"},
        {"id": 4, "v": "y"},
        {"id": 5, "v": "z"},
    ]
    # a deleted key that comes back is a plain insert
    stats = run_batch(project, [{"id": 1, "v": "back"}, {"id": 2, "v": "x"}])
    assert stats == counts(inserted=1, deleted=2)
    assert project.rows("items", "id") == [{"id": 1, "v": "back"}, {"id": 2, "v": "x"}]


def test_merge_by_key_soft_delete_flags_missing_rows_and_revives_returning_ones(
    project: EngineProject, apply_path: str
) -> None:
    merge_project(project, delete_mode="soft")
    assert run_batch(project, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]) == counts(inserted=2)
    assert project.rows("items", "id") == [
        {"id": 1, "v": "a", "_deleted": False, "_deleted_at": None},
        {"id": 2, "v": "b", "_deleted": False, "_deleted_at": None},
    ]

    before = utcnow()
    assert run_batch(project, [{"id": 1, "v": "a"}]) == counts(deleted=1)
    after = utcnow()
    rows = project.rows("items", "id")
    deleted_at = rows[1]["_deleted_at"]
    assert isinstance(deleted_at, dt.datetime) and before <= deleted_at <= after
    assert rows == [
        {"id": 1, "v": "a", "_deleted": False, "_deleted_at": None},
        {"id": 2, "v": "b", "_deleted": True, "_deleted_at": deleted_at},
    ]

    # still missing: already flagged, so not deleted again and the timestamp stays
    assert run_batch(project, [{"id": 1, "v": "a"}]) == counts()
    assert project.rows("items", "id") == rows

    # back again: the flag is cleared (an update), with the batch's values
    assert run_batch(project, [{"id": 1, "v": "a"}, {"id": 2, "v": "b2"}]) == counts(updated=1)
    assert project.rows("items", "id") == [
        {"id": 1, "v": "a", "_deleted": False, "_deleted_at": None},
        {"id": 2, "v": "b2", "_deleted": False, "_deleted_at": None},
    ]


def test_merge_by_key_composite_key_matches_on_every_key_column(
    project: EngineProject, apply_path: str
) -> None:
    merge_project(project, key=["region", "id"], delete_mode="hard")
    first = [
        {"region": "eu", "id": 1, "v": "a"},
        {"region": "us", "id": 1, "v": "b"},
        {"region": "eu", "id": 2, "v": "c"},
    ]
    assert run_batch(project, first) == counts(inserted=3)
    second = [
        {"region": "eu", "id": 1, "v": "a"},  # unchanged
        {"region": "us", "id": 1, "v": "B"},  # same id, other region: its own row changes
        {"region": "us", "id": 2, "v": "d"},  # new key (eu/2 exists, us/2 does not)
    ]
    assert run_batch(project, second) == counts(inserted=1, updated=1, deleted=1)
    assert project.rows("items", "region, id") == second
    assert run_batch(project, second) == counts()
    # a SQL model merges by the same composite key
    project.write(
        {
            "models/upper.sql": """
                -- @strategy: merge_by_key
                -- @primary_key: [region, id]
                SELECT region, id, upper(v) AS v FROM items
            """
        }
    )
    project.run_ok()
    assert project.rows("upper", "region, id") == [
        {"region": "eu", "id": 1, "v": "A"},
        {"region": "us", "id": 1, "v": "B"},
        {"region": "us", "id": 2, "v": "D"},
    ]


def test_merge_by_key_removed_column_is_null_in_rows_the_batch_rewrites(
    project: EngineProject, apply_path: str
) -> None:
    merge_project(project)
    run_batch(project, [{"id": 1, "v": "a", "w": 1}, {"id": 2, "v": "b", "w": 2}])
    # w is gone from the batch: kept in the table; id 2 is rewritten, id 1 is untouched
    assert run_batch(project, [{"id": 1, "v": "a"}, {"id": 2, "v": "B"}]) == counts(updated=1)
    assert project.rows("items", "id") == [
        {"id": 1, "v": "a", "w": 1},
        {"id": 2, "v": "B", "w": None},
    ]


BATCHES: list[list[dict[str, Any]]] = [
    [{"id": 1, "v": "a", "n": 1}, {"id": 2, "v": "b", "n": 2}, {"id": 3, "v": "c", "n": 3}],
    [{"id": 2, "v": "b", "n": 20}, {"id": 3, "v": "c", "n": 3}, {"id": 4, "v": None, "n": 4}],
    [{"id": 1, "v": "again", "n": 1}, {"id": 4, "v": "d", "n": None}],
    [{"id": 1, "v": "again", "n": 1}, {"id": 4, "v": "d", "n": None}],
    [{"id": 5, "v": "e", "n": 5}],
]


@pytest.mark.notimpl(["mysql"], reason="MySQL has no MERGE statement (DELETE+INSERT only)")
@pytest.mark.parametrize("delete_mode", ["preserve", "hard", "soft"])
def test_merge_and_delete_insert_paths_produce_identical_tables_and_counts(
    new_project: Callable[[], EngineProject], capabilities: Any, delete_mode: str
) -> None:
    histories: dict[bool, list[tuple[Counts, list[dict[str, Any]]]]] = {}
    for prefer_merge in (False, True):
        capabilities(merge=True, prefer_merge=prefer_merge)
        project = merge_project(new_project(), delete_mode=delete_mode)
        history = []
        for batch in BATCHES:
            stats = run_batch(project, batch)
            # _deleted_at holds the run's clock; compare whether it is set, not its value
            rows = [
                {**row, "_deleted_at": row["_deleted_at"] is not None}
                if "_deleted_at" in row
                else row
                for row in project.rows("items", "id")
            ]
            history.append((stats, rows))
        histories[prefer_merge] = history
    assert histories[False] == histories[True]
    final_ids = [row["id"] for row in histories[False][-1][1]]
    assert (
        final_ids
        == {"preserve": [1, 2, 3, 4, 5], "hard": [5], "soft": [1, 2, 3, 4, 5]}[delete_mode]
    )


def test_merge_by_key_sql_model_merges_its_query_result(
    project: EngineProject, apply_path: str
) -> None:
    project.write(
        {
            "models/source.sql": "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, v)",
            "models/target.sql": """
                -- @strategy: merge_by_key
                -- @primary_key: id
                -- @delete_mode: hard
                -- @exact_counts: true
                SELECT id, upper(v) AS v FROM source
            """,
        }
    )
    project.run_ok()
    assert project.rows("target", "id") == [{"id": 1, "v": "A"}, {"id": 2, "v": "B"}]
    project.write({"models/source.sql": "SELECT * FROM (VALUES (2, 'b'), (3, 'c')) AS t(id, v)"})
    result = project.run_ok()
    target = result.models["target"]
    assert target.status == "success"
    assert target.stats == {"inserted": 1, "updated": 0, "deleted": 1}
    assert project.rows("target", "id") == [{"id": 2, "v": "B"}, {"id": 3, "v": "C"}]


# ---------------------------------------------------------------------------- failed batches


def assert_batch_fails_and_keeps_table(
    project: EngineProject, batch: list[dict[str, Any]], *fragments: str
) -> str:
    before = project.rows("items")
    project.write({"input.json": json.dumps(batch)})
    result = project.run()
    failure = result.models["items"]
    assert result.status == "failed"
    assert failure.status == "failed"
    assert failure.error is not None
    for fragment in fragments:
        assert fragment in failure.error, failure.error
    assert project.rows("items") == before
    assert leftovers(project) == []
    return failure.error


def test_merge_by_key_duplicate_keys_fail_and_keep_the_table(project: EngineProject) -> None:
    merge_project(project)
    run_batch(project, [{"id": 1, "v": "a"}])
    assert_batch_fails_and_keeps_table(
        project, [{"id": 2, "v": "x"}, {"id": 2, "v": "y"}], "duplicate primary_key"
    )
    assert project.rows("items") == [{"id": 1, "v": "a"}]


def test_merge_by_key_key_column_missing_from_result_fails_and_keeps_table(
    project: EngineProject, apply_path: str
) -> None:
    merge_project(project, key=["id", "part"])
    run_batch(project, [{"id": 1, "part": 1, "v": "a"}])
    error = assert_batch_fails_and_keeps_table(
        project, [{"id": 1, "v": "b"}], "primary_key", "'part'", "not in the result"
    )
    assert "result columns: id, v" in error


def test_merge_by_key_null_key_fails_and_keeps_table(
    project: EngineProject, apply_path: str
) -> None:
    merge_project(project, key=["id", "part"])
    run_batch(project, [{"id": 1, "part": 1, "v": "a"}])
    assert_batch_fails_and_keeps_table(
        project,
        [{"id": 1, "part": 1, "v": "b"}, {"id": 2, "part": None, "v": "c"}],
        "1 row(s) have a NULL in primary_key ['id', 'part']",
    )


def test_merge_by_key_duplicate_keys_in_one_batch_fail_naming_a_sample_key(
    project: EngineProject, apply_path: str
) -> None:
    merge_project(project, key=["id", "part"])
    run_batch(project, [{"id": 1, "part": 1, "v": "a"}])
    assert_batch_fails_and_keeps_table(
        project,
        [
            {"id": 1, "part": 1, "v": "b"},
            {"id": 7, "part": 2, "v": "x"},
            {"id": 7, "part": 2, "v": "y"},
            {"id": 7, "part": 2, "v": "z"},
        ],
        "duplicate primary_key",
        "{'id': 7, 'part': 2} appears 3 times",
    )
    # and the model recovers with a clean batch
    assert run_batch(project, [{"id": 1, "part": 1, "v": "b"}]) == counts(updated=1)
    assert project.rows("items") == [{"id": 1, "part": 1, "v": "b"}]


def test_merge_by_key_failure_leaves_soft_deleted_state_untouched(
    project: EngineProject, apply_path: str
) -> None:
    merge_project(project, delete_mode="soft")
    run_batch(project, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}])
    run_batch(project, [{"id": 1, "v": "a"}])
    assert_batch_fails_and_keeps_table(
        project, [{"id": 3, "v": "c"}, {"id": 3, "v": "d"}], "{'id': 3} appears 2 times"
    )
