"""`merge_by_key` on DuckDB: errors at load, and DuckDB's own proof that keys are unique.

What merge_by_key publishes (preserve / hard / soft deletes, through MERGE and DELETE+INSERT,
failed batches) is tested on every engine in interlace-connections' engine suite
(tests/engines/test_engine_strategies.py); its statements in test_strategy_statements.py.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import interlace
import pytest
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


def merge_project(
    make_project: MakeProject,
    key: str | list[str] = "id",
    delete_mode: str | None = None,
    exact_counts: bool = False,
) -> ProjectDir:
    extra = f", delete_mode={delete_mode!r}" if delete_mode else ""
    extra += ", exact_counts=True" if exact_counts else ""
    return make_project({"models/items.py": MERGE_MODEL.format(key=key, extra=extra)})


def run_batch(project: ProjectDir, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Run the project on ``rows``; return the merge counts (missing counts are zero)."""
    project.write({"input.json": json.dumps(rows)})
    result = project.run_ok()
    stats = result.models["items"].stats
    return {k: stats.get(k, 0) for k in ("inserted", "updated", "deleted")}


def counts(inserted: int = 0, updated: int = 0, deleted: int = 0) -> dict[str, int]:
    return {"inserted": inserted, "updated": updated, "deleted": deleted}


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


def assert_batch_fails_and_keeps_table(
    project: ProjectDir, batch: list[dict[str, Any]], *fragments: str
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
    assert [name for name in project.relations() if "__il_" in name] == []
    return failure.error


@pytest.mark.parametrize("step", [1, 10**12], ids=["dense", "sparse"])
def test_merge_by_key_duplicate_integer_keys_fail_naming_a_sample_key(
    make_project: MakeProject, step: int
) -> None:
    # dense integer keys are proved unique with a bitmap, sparse ones by GROUP BY: a duplicate
    # reads the same either way
    project = merge_project(make_project)
    run_batch(project, [{"id": 0, "v": "a"}])
    batch = [{"id": i * step, "v": "b"} for i in range(50)]
    assert_batch_fails_and_keeps_table(
        project,
        [*batch, {"id": 7 * step, "v": "c"}],
        "duplicate primary_key",
        f"{{'id': {7 * step}}} appears 2 times",
    )
    assert run_batch(project, batch) == counts(inserted=49, updated=1)


@pytest.mark.parametrize(("exact", "updated"), [(False, 3), (True, 1)], ids=["rewritten", "exact"])
def test_merge_by_key_counts_rewritten_rows_unless_exact_counts_asks_for_changed_ones(
    make_project: MakeProject, exact: bool, updated: int
) -> None:
    project = merge_project(make_project, exact_counts=exact)
    run_batch(project, [{"id": i, "v": f"v{i}"} for i in range(3)])
    # three existing keys (one changed, two the same) and one new key
    batch = [{"id": 0, "v": "v0"}, {"id": 1, "v": "changed"}, {"id": 2, "v": "v2"}]
    assert run_batch(project, [*batch, {"id": 3, "v": "v3"}]) == counts(1, updated)
    rows = sorted((r["id"], r["v"]) for r in project.rows("items"))
    assert rows == [(0, "v0"), (1, "changed"), (2, "v2"), (3, "v3")]


def test_exact_counts_belongs_to_merge_by_key(make_project: MakeProject) -> None:
    project = make_project({"models/items.sql": "-- @exact_counts: true\nSELECT 1 AS id\n"})
    with pytest.raises(ModelDefinitionError, match="exact_counts") as failure:
        project.load()
    assert "merge_by_key" in str(failure.value)


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
