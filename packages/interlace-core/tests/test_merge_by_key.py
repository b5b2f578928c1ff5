"""`merge_by_key`: upsert by primary key with preserve / hard / soft deletes (SPEC §3.2, §3.3).

Every test runs a real project several times, feeding each run a new batch through
``input.json``, and reads the published table back. Tests taking ``apply_path`` run twice: once
through DELETE+INSERT (DuckDB's default) and once through MERGE, with identical expectations.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import interlace
import pytest
from interlace.engines.duckdb import DuckDBEngine
from interlace.errors import ModelDefinitionError

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

MERGE_MODEL = """
import json
from pathlib import Path

from interlace import model

@model(strategy="merge_by_key", primary_key={key!r}{extra})
def items():
    return json.loads((Path(__file__).parent.parent / "input.json").read_text())
"""


@pytest.fixture(params=["delete_insert", "merge"])
def apply_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test through both ways of applying the diff."""
    prefer_merge = request.param == "merge"
    monkeypatch.setattr(
        DuckDBEngine,
        "capabilities",
        dataclasses.replace(DuckDBEngine.capabilities, merge=True, prefer_merge=prefer_merge),
    )
    return str(request.param)


def merge_project(
    make_project: MakeProject, key: str | list[str] = "id", delete_mode: str | None = None
) -> ProjectDir:
    extra = f", delete_mode={delete_mode!r}" if delete_mode else ""
    return make_project({"models/items.py": MERGE_MODEL.format(key=key, extra=extra)})


def run_batch(project: ProjectDir, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Run the project on ``rows``; return the merge counts (missing counts are zero)."""
    project.write({"input.json": json.dumps(rows)})
    result = project.run_ok()
    stats = result.models["items"].stats
    return {k: stats.get(k, 0) for k in ("inserted", "updated", "deleted")}


def counts(inserted: int = 0, updated: int = 0, deleted: int = 0) -> dict[str, int]:
    return {"inserted": inserted, "updated": updated, "deleted": deleted}


def test_merge_by_key_preserve_upserts_and_keeps_rows_missing_from_the_batch(
    make_project: MakeProject, apply_path: str
) -> None:
    project = merge_project(make_project)
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


def test_merge_by_key_rerun_of_the_same_batch_changes_nothing(
    make_project: MakeProject, apply_path: str
) -> None:
    project = merge_project(make_project, delete_mode="hard")
    batch = [{"id": i, "v": f"v{i}", "n": i * 1.5} for i in range(5)]
    run_batch(project, batch)
    before = project.rows("items", "id")
    for _ in range(2):
        assert run_batch(project, batch) == counts()
        assert project.rows("items", "id") == before


def test_merge_by_key_counts_a_change_to_or_from_null_as_an_update(
    make_project: MakeProject, apply_path: str
) -> None:
    project = merge_project(make_project)
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
    make_project: MakeProject, apply_path: str
) -> None:
    project = merge_project(make_project, delete_mode="hard")
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
    make_project: MakeProject, apply_path: str
) -> None:
    project = merge_project(make_project, delete_mode="soft")
    assert run_batch(project, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]) == counts(inserted=2)
    assert project.rows("items", "id") == [
        {"id": 1, "v": "a", "_deleted": False, "_deleted_at": None},
        {"id": 2, "v": "b", "_deleted": False, "_deleted_at": None},
    ]

    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert run_batch(project, [{"id": 1, "v": "a"}]) == counts(deleted=1)
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
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
    make_project: MakeProject, apply_path: str
) -> None:
    project = merge_project(make_project, key=["region", "id"], delete_mode="hard")
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
    assert project.rows("items", "region, id") == [
        {"region": "eu", "id": 1, "v": "a"},
        {"region": "us", "id": 1, "v": "B"},
        {"region": "us", "id": 2, "v": "d"},
    ]
    assert run_batch(project, second) == counts()


def test_merge_by_key_removed_column_is_null_in_rows_the_batch_rewrites(
    make_project: MakeProject, apply_path: str
) -> None:
    project = merge_project(make_project)
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


@pytest.mark.parametrize("delete_mode", ["preserve", "hard", "soft"])
def test_merge_and_delete_insert_paths_produce_identical_tables_and_counts(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, delete_mode: str
) -> None:
    histories: dict[bool, list[tuple[dict[str, int], list[dict[str, Any]]]]] = {}
    for prefer_merge in (False, True):
        monkeypatch.setattr(
            DuckDBEngine,
            "capabilities",
            dataclasses.replace(DuckDBEngine.capabilities, merge=True, prefer_merge=prefer_merge),
        )
        project = merge_project(make_project, delete_mode=delete_mode)
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
    make_project: MakeProject, apply_path: str
) -> None:
    project = make_project(
        {
            "models/source.sql": "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, v)",
            "models/target.sql": """
                -- @strategy: merge_by_key
                -- @primary_key: id
                -- @delete_mode: hard
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


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("files", "where"),
    [
        (
            {
                "models/items.py": """
                    from interlace import model

                    @model(strategy="merge_by_key")
                    def items():
                        return [{"id": 1}]
                """
            },
            "models/items.py",
        ),
        (
            {"models/items.sql": "-- @strategy: merge_by_key\nSELECT 1 AS id\n"},
            "models/items.sql",
        ),
    ],
)
def test_merge_by_key_without_primary_key_is_an_error_at_load(
    make_project: MakeProject, files: dict[str, str], where: str
) -> None:
    project = make_project(files)
    with pytest.raises(ModelDefinitionError) as info:
        project.load()
    error = info.value
    assert error.model == "items"
    assert error.file is not None and error.file.endswith(where)
    assert "merge_by_key" in error.message and "primary_key" in error.message
    assert error.hint is not None and "primary_key" in error.hint
    with pytest.raises(ModelDefinitionError):
        interlace.run_sync(project.root)


def test_merge_by_key_invalid_delete_mode_is_an_error_at_load(make_project: MakeProject) -> None:
    project = merge_project(make_project, delete_mode="soft_mark")
    with pytest.raises(ModelDefinitionError) as info:
        project.load()
    assert info.value.model == "items"
    assert "soft_mark" in info.value.message
    assert info.value.hint is not None and "preserve, hard, soft" in info.value.hint


def _assert_batch_fails_and_keeps_table(
    project: ProjectDir, batch: list[dict[str, Any]], *fragments: str
) -> str:
    before = project.rows("items", "ALL")
    project.write({"input.json": json.dumps(batch)})
    result = project.run()
    failure = result.models["items"]
    assert result.status == "failed"
    assert failure.status == "failed"
    assert failure.error is not None
    for fragment in fragments:
        assert fragment in failure.error, failure.error
    assert project.rows("items", "ALL") == before
    assert [name for name in project.relations() if "__il_" in name] == []
    return failure.error


def test_merge_by_key_key_column_missing_from_result_fails_and_keeps_table(
    make_project: MakeProject, apply_path: str
) -> None:
    project = merge_project(make_project, key=["id", "part"])
    run_batch(project, [{"id": 1, "part": 1, "v": "a"}])
    error = _assert_batch_fails_and_keeps_table(
        project, [{"id": 1, "v": "b"}], "primary_key", "'part'", "not in the result"
    )
    assert "result columns: id, v" in error


def test_merge_by_key_null_key_fails_and_keeps_table(
    make_project: MakeProject, apply_path: str
) -> None:
    project = merge_project(make_project, key=["id", "part"])
    run_batch(project, [{"id": 1, "part": 1, "v": "a"}])
    _assert_batch_fails_and_keeps_table(
        project,
        [{"id": 1, "part": 1, "v": "b"}, {"id": 2, "part": None, "v": "c"}],
        "1 row(s) have a NULL in primary_key ['id', 'part']",
    )


def test_merge_by_key_duplicate_keys_in_one_batch_fail_naming_a_sample_key(
    make_project: MakeProject, apply_path: str
) -> None:
    project = merge_project(make_project, key=["id", "part"])
    run_batch(project, [{"id": 1, "part": 1, "v": "a"}])
    _assert_batch_fails_and_keeps_table(
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


@pytest.mark.parametrize("step", [1, 10**12], ids=["dense", "sparse"])
def test_merge_by_key_duplicate_integer_keys_fail_naming_a_sample_key(
    make_project: MakeProject, step: int
) -> None:
    # dense integer keys are proved unique with a bitmap, sparse ones by GROUP BY: a duplicate
    # reads the same either way
    project = merge_project(make_project)
    run_batch(project, [{"id": 0, "v": "a"}])
    batch = [{"id": i * step, "v": "b"} for i in range(50)]
    _assert_batch_fails_and_keeps_table(
        project,
        [*batch, {"id": 7 * step, "v": "c"}],
        "duplicate primary_key",
        f"{{'id': {7 * step}}} appears 2 times",
    )
    assert run_batch(project, batch) == counts(inserted=49, updated=1)


def test_duckdb_session_tells_whether_integer_keys_are_unique() -> None:
    import duckdb
    from interlace.engines.duckdb import DuckDBSession
    from sqlglot import exp

    session = DuckDBSession(duckdb.connect())
    tables = {
        "dense": "SELECT range AS k FROM range(1000)",
        "dense_duplicate": "SELECT range % 999 AS k FROM range(1000)",
        "negative": "SELECT (-3 * range)::INTEGER AS k FROM range(1000)",
        "nulls_ignored": "SELECT * FROM (VALUES (1), (NULL), (2), (NULL)) v(k)",
        "sparse": "SELECT range * 1000000 AS k FROM range(1000)",
        "text": "SELECT range::VARCHAR AS k FROM range(10)",
        "empty": "SELECT 1 AS k WHERE false",
    }
    for name, query in tables.items():
        session.execute(f"CREATE TABLE {name} AS {query}")
    answers = {name: session.unique_integers(exp.to_table(name), "k") for name in tables}
    # None: no shortcut (not integers, too sparse for a bitmap, nothing to check)
    assert answers == {
        "dense": True,
        "dense_duplicate": False,
        "negative": True,
        "nulls_ignored": True,
        "sparse": None,
        "text": None,
        "empty": None,
    }


def test_merge_by_key_failure_leaves_soft_deleted_state_untouched(
    make_project: MakeProject, apply_path: str
) -> None:
    project = merge_project(make_project, delete_mode="soft")
    run_batch(project, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}])
    run_batch(project, [{"id": 1, "v": "a"}])
    _assert_batch_fails_and_keeps_table(
        project, [{"id": 3, "v": "c"}, {"id": 3, "v": "d"}], "{'id': 3} appears 2 times"
    )


def test_default_strategy_from_config_needs_a_primary_key_too(make_project: MakeProject) -> None:
    config = """\
    connections:
      default: {type: duckdb, path: "data/{env}.duckdb"}
    models:
      default_strategy: merge_by_key
    """
    keyed = make_project(
        {
            "models/items.sql": """
                -- @primary_key: id
                -- @delete_mode: hard
                SELECT 1 AS id, 'a' AS v
            """
        },
        config=config,
    )
    keyed.run_ok()
    assert keyed.rows("items") == [{"id": 1, "v": "a"}]

    unkeyed = make_project({"models/items.sql": "SELECT 1 AS id\n"}, config=config)
    with pytest.raises(
        ModelDefinitionError, match="strategy 'merge_by_key' needs primary_key"
    ) as info:
        unkeyed.load()
    assert info.value.model == "items"
    assert (info.value.file or "").endswith("models/items.sql")
