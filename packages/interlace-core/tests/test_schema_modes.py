"""Schema modes and schema versions (SPEC §4.1-4.3).

A SQL model is published once as ``id INTEGER, v VARCHAR, n INTEGER`` with row (1, 'a', 10),
then changed (a column added or removed, a safe widening, an unsafe type change) and run again
under each mode and strategy; the test reads back the table's columns and rows.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from interlace.state import SQLiteStateStore

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

INTERLACE = Path(sys.executable).parent / "interlace"

BASE = "SELECT * FROM (VALUES (1::INTEGER, 'a', 10::INTEGER)) AS t(id, v, n)"
CHANGES = {
    "added": "SELECT * FROM (VALUES (2::INTEGER, 'b', 20::INTEGER, 'x')) AS t(id, v, n, x)",
    "removed": "SELECT * FROM (VALUES (2::INTEGER, 'b')) AS t(id, v)",
    "widened": "SELECT * FROM (VALUES (2::INTEGER, 'b', 20::BIGINT)) AS t(id, v, n)",
    "varchar_to_int": "SELECT * FROM (VALUES (2::INTEGER, 5::INTEGER, 20::INTEGER)) AS t(id, v, n)",
    "int_to_varchar": "SELECT * FROM (VALUES (2::INTEGER, 'b', 'abc')) AS t(id, v, n)",
}

OLD_COLUMNS = {"id": "INTEGER", "v": "VARCHAR", "n": "INTEGER"}
OLD_ROW = (1, "a", 10)

Expected = tuple[dict[str, str], list[tuple[Any, ...]]] | tuple[str, ...]  # table, or error texts

STRICT_ERRORS: dict[str, tuple[str, ...]] = {
    "added": ("strict", "new column(s) x"),
    "removed": ("strict", "removed column(s) n"),
    "widened": ("strict", "type change n: INTEGER -> BIGINT"),
    "varchar_to_int": ("strict", "type change v: VARCHAR -> INTEGER"),
    "int_to_varchar": ("strict", "type change n: INTEGER -> VARCHAR"),
}

ADDED = {**OLD_COLUMNS, "x": "VARCHAR"}
WIDE = {**OLD_COLUMNS, "n": "BIGINT"}


def expected(mode: str, strategy: str, change: str) -> Expected:
    """What the second run must leave behind (or the error texts it must report)."""
    old = [OLD_ROW] if strategy == "append" else []
    if mode == "strict":
        return STRICT_ERRORS[change]
    if mode == "ignore":
        if strategy == "replace":  # written as is
            return {
                "added": (ADDED, [(2, "b", 20, "x")]),
                "removed": ({"id": "INTEGER", "v": "VARCHAR"}, [(2, "b")]),
                "widened": (WIDE, [(2, "b", 20)]),
                "varchar_to_int": ({**OLD_COLUMNS, "v": "INTEGER"}, [(2, 5, 20)]),
                "int_to_varchar": ({**OLD_COLUMNS, "n": "VARCHAR"}, [(2, "b", "abc")]),
            }[change]
        refused = "cannot write the result into table main.m: "
        return {  # no checks: the engine inserts by name and casts implicitly, or refuses
            "added": (refused, "column 'x' (VARCHAR) is not in the table"),
            "removed": (OLD_COLUMNS, [*old, (2, "b", None)]),
            "widened": (OLD_COLUMNS, [*old, (2, "b", 20)]),
            "varchar_to_int": (OLD_COLUMNS, [*old, (2, "5", 20)]),
            "int_to_varchar": (
                refused,
                "column 'n' is INTEGER in the table but VARCHAR in the result",
                "'abc'",
            ),
        }[change]
    common: dict[str, Expected] = {
        "added": (ADDED, [(*row, None) for row in old] + [(2, "b", 20, "x")]),
        "removed": (OLD_COLUMNS, [*old, (2, "b", None)]),  # kept, NULL for new rows
        "widened": (WIDE, [*old, (2, "b", 20)]),
    }
    if change in common:
        return common[change]
    if mode == "safe":
        return {
            "varchar_to_int": ("unsafe type change", "v: VARCHAR -> INTEGER"),
            "int_to_varchar": ("unsafe type change", "n: INTEGER -> VARCHAR"),
        }[change]
    if change == "varchar_to_int":  # coerced to the table's type
        return (OLD_COLUMNS, [*old, (2, "5", 20)])
    if mode == "flexible":  # 'abc' has no INTEGER value: an error naming the column
        return ("cannot coerce column 'n'", "VARCHAR to the table's INTEGER", "abc")
    return (OLD_COLUMNS, [*old, (2, "b", None)])  # lenient: TRY_CAST, NULL where it does not fit


def model_sql(strategy: str, mode: str | None, query: str) -> str:
    header = f"-- @strategy: {strategy}\n"
    if mode is not None:
        header += f"-- @schema_mode: {mode}\n"
    return header + query + "\n"


def versions(project: ProjectDir, model: str = "m") -> list[list[tuple[str, str]]]:
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        return [v.columns for v in store.schema_versions("dev", model)]
    finally:
        store.close()


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("strategy", ["replace", "append"])
@pytest.mark.parametrize("mode", ["strict", "safe", "flexible", "lenient", "ignore"])
def test_schema_mode_decides_what_a_changed_result_does_to_the_table(
    make_project: MakeProject, mode: str, strategy: str, change: str
) -> None:
    project = make_project({"models/m.sql": model_sql(strategy, mode, BASE)})
    project.run_ok()
    assert project.columns("m") == OLD_COLUMNS
    assert versions(project) == [list(OLD_COLUMNS.items())]

    project.write({"models/m.sql": model_sql(strategy, mode, CHANGES[change])})
    result = project.run()
    outcome = result.models["m"]
    want = expected(mode, strategy, change)
    if isinstance(want[0], str):  # an error: nothing written, the table exactly as before
        assert outcome.status == "failed", (outcome.message, project.rows("m"))
        assert outcome.error is not None
        for text in want:
            assert isinstance(text, str) and text in outcome.error, outcome.error
        assert project.columns("m") == OLD_COLUMNS
        assert project.sql("SELECT * FROM m") == [OLD_ROW]
        assert versions(project) == [list(OLD_COLUMNS.items())]
        assert [r for r in project.relations() if "__il_" in r] == []
        return
    columns, rows = want
    assert outcome.status == "success", outcome.error
    assert project.columns("m") == columns
    assert project.sql("SELECT * FROM m ORDER BY id") == rows
    # a changed table schema is a new version; the same schema is not
    recorded = versions(project)
    if columns == OLD_COLUMNS:
        assert recorded == [list(OLD_COLUMNS.items())]
    else:
        assert recorded == [list(OLD_COLUMNS.items()), list(columns.items())]


def test_schema_mode_notes_say_what_was_done(make_project: MakeProject) -> None:
    project = make_project({"models/m.sql": model_sql("append", "lenient", BASE)})
    project.run_ok()
    project.write(
        {
            "models/m.sql": model_sql(
                "append",
                "lenient",
                "SELECT * FROM (VALUES (2::INTEGER, 'zz'::VARCHAR, 5::BIGINT)) AS t(id, n, w)",
            )
        }
    )
    result = project.run_ok()
    message = result.models["m"].message or ""
    assert "kept removed column(s) v" in message
    assert "coerced (TRY_CAST, NULL where a value does not fit) n: VARCHAR -> INTEGER" in message
    assert project.sql("SELECT * FROM m ORDER BY id") == [(1, "a", 10, None), (2, None, None, 5)]


def test_default_schema_mode_from_config_applies_unless_the_model_overrides_it(
    make_project: MakeProject,
) -> None:
    config = """\
    connections:
      default: {type: duckdb, path: "data/{env}.duckdb"}
    models:
      default_schema_mode: strict
    """
    project = make_project(
        {
            "models/locked.sql": model_sql("replace", None, BASE),
            "models/loose.sql": model_sql("replace", "safe", BASE),
        },
        config=config,
    )
    project.run_ok()
    project.write(
        {
            "models/locked.sql": model_sql("replace", None, CHANGES["added"]),
            "models/loose.sql": model_sql("replace", "safe", CHANGES["added"]),
        }
    )
    result = project.run()
    assert result.models["locked"].status == "failed"
    assert "schema_mode strict forbids changes: new column(s) x" in (
        result.models["locked"].error or ""
    )
    assert result.models["loose"].status == "success"
    assert project.columns("locked") == OLD_COLUMNS
    assert project.columns("loose") == ADDED


def test_merge_by_key_adds_a_new_column_and_widens_in_place(make_project: MakeProject) -> None:
    header = "-- @strategy: merge_by_key\n-- @primary_key: id\n"
    project = make_project({"models/m.sql": header + BASE})
    project.run_ok()
    project.write(
        {
            "models/m.sql": header + "SELECT * FROM (VALUES (1::INTEGER, 'a', 10::BIGINT, 'new'), "
            "(2::INTEGER, 'b', 5000000000::BIGINT, NULL)) AS t(id, v, n, x)"
        }
    )
    result = project.run_ok()
    assert result.models["m"].stats == {"inserted": 1, "updated": 1}
    assert project.columns("m") == {"id": "INTEGER", "v": "VARCHAR", "n": "BIGINT", "x": "VARCHAR"}
    assert project.sql("SELECT * FROM m ORDER BY id") == [
        (1, "a", 10, "new"),
        (2, "b", 5_000_000_000, None),
    ]


@pytest.mark.parametrize("strategy", ["merge_by_key", "scd_type_2", "append"])
def test_ignore_mode_refused_write_names_the_table_and_column_not_internal_aliases(
    make_project: MakeProject, strategy: str
) -> None:
    header = f"-- @strategy: {strategy}\n-- @schema_mode: ignore\n"
    if strategy != "append":
        header += "-- @primary_key: id\n"
    project = make_project({"models/orders.sql": header + BASE})
    project.run_ok()
    # `n` now holds text the table's INTEGER cannot take, and `v` is gone (the table keeps it:
    # merge_by_key then compares rows through its internal alias "__s")
    changed = "SELECT * FROM (VALUES (1::INTEGER, 'abc')) AS t(id, n)"
    project.write({"models/orders.sql": header + changed})

    outcome = project.run().models["orders"]

    assert outcome.status == "failed"
    error = outcome.error or ""
    assert "cannot write the result into table main.orders" in error, error
    assert "column 'n' is INTEGER in the table but VARCHAR in the result" in error, error
    assert "__s" not in error and '"s".' not in error and '"t".' not in error, error
    assert "schema_mode='safe'" in error, error  # the hint says what to change
    assert project.sql("SELECT id, v, n FROM orders") == [OLD_ROW]
