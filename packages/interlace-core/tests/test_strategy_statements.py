"""The statements each write strategy builds, per engine capability and delete mode (pure).

A strategy turns (staged relation, target, spec, capabilities) into sqlglot ASTs; nothing runs
here. Each case lists the statements in order as ``(what, counts it records)``; the tests
after the table look inside the statements that carry a decision (which rows a delete
touches, what a MERGE sets). What the statements do to real tables is tested end to end in
test_merge_by_key.py, test_scd_type_2.py and the engine suite of interlace-connections.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import sqlglot
from interlace import statements as st
from interlace.engines.base import Capabilities, Column
from interlace.spec import ModelOptions, ModelSpec
from interlace.strategies import PublishContext, Step, get_strategy
from sqlglot import exp

RUN_TS = dt.datetime(2024, 1, 2, 3, 4, 5)
TS = "CAST('2024-01-02 03:04:05.000000' AS TIMESTAMP)"
TARGET = '"main"."items"'
STAGING = '"main"."__il_stage_items"'
DIFF = '"__il_diff_items"'

# DuckDB: MERGE exists, DELETE+INSERT is preferred; PostgreSQL: MERGE
DUCKDB = Capabilities(merge=True, prefer_merge=False)
POSTGRES = Capabilities(merge=True, prefer_merge=True)
NO_MERGE = Capabilities(merge=False)
NO_RENAME = Capabilities(rename_table=False)
NO_FULL_JOIN = Capabilities(full_join=False)
SCD2_COLUMNS = ("valid_from", "valid_to", "is_current")


def spec(strategy: str, **options: Any) -> ModelSpec:
    return ModelSpec(
        name="items",
        kind="sql",
        schema="main",
        connection="default",
        materialize="table",
        strategy=strategy,
        schema_mode="safe",
        options=ModelOptions(strategy=strategy, **options),
    )


def context(
    model: ModelSpec,
    *,
    kind: str | None = "table",
    capabilities: Capabilities = DUCKDB,
    staged: tuple[str, ...] = ("id", "v"),
    target: tuple[str, ...] | None = None,
) -> PublishContext:
    """``staged``: the staged result's columns; ``target``: the table's (default: the same)."""
    return PublishContext(
        spec=model,
        target=st.table("main", "items"),
        target_name="items",
        staging=st.table("main", "__il_stage_items"),
        target_kind=kind,
        staged_columns=[Column(c, "INTEGER") for c in staged],
        target_columns=[Column(c, "INTEGER") for c in (target or staged)],
        capabilities=capabilities,
        dialect="duckdb",
        run_ts=RUN_TS,
    )


def steps(model: ModelSpec, **ctx: Any) -> list[Step]:
    return get_strategy(model.strategy).steps(context(model, **ctx))


def what(statement: exp.Expr) -> str:
    """A statement in a few words: ``DELETE``, ``CREATE TEMPORARY TABLE``, ``RENAME``, ..."""
    if isinstance(statement, exp.Create):
        temporary = statement.find(exp.TemporaryProperty) is not None
        return f"CREATE {'TEMPORARY ' if temporary else ''}{statement.kind}"
    if isinstance(statement, exp.Drop):
        return f"DROP {statement.kind}"
    if isinstance(statement, exp.Alter):
        return "RENAME" if isinstance(statement.args["actions"][0], exp.AlterRename) else "ALTER"
    return type(statement).__name__.upper()


def shape(found: list[Step]) -> list[tuple[str, tuple[str, ...]]]:
    return [(what(step.statement), step.record) for step in found]


def sql(step: Step, dialect: str = "duckdb") -> str:
    return step.statement.sql(dialect=dialect)


@dataclass(frozen=True)
class Case:
    model: ModelSpec
    expected: list[tuple[str, tuple[str, ...]]]
    kind: str | None = "table"
    capabilities: Capabilities = DUCKDB
    staged: tuple[str, ...] = ("id", "v")
    target: tuple[str, ...] | None = None
    options: dict[str, Any] = field(default_factory=dict)


SWAP = [("DROP TABLE", ()), ("RENAME", ())]
FIRST = [("RENAME", ())]
DELETE_INSERT = [("DELETE", ("matched",)), ("INSERT", ("written",))]
EXACT_DELETE_INSERT = [("SELECT", ("updated",)), *DELETE_INSERT]
DIFF_MERGE = [
    ("CREATE TEMPORARY TABLE", ()),
    ("SELECT", ("inserted", "updated")),
    ("MERGE", ()),
    ("DROP TABLE", ()),
]
DROP_STAGING = [("DROP TABLE", ())]
SCD2_CHANGES = [
    ("CREATE TEMPORARY TABLE", ()),
    ("SELECT", ("inserted", "updated")),
    ("UPDATE", ()),  # close the current versions of changed keys
    ("INSERT", ()),  # open the new versions
]
SCD2_END = [("DROP TABLE", ()), ("DROP TABLE", ())]  # the diff, then the staged batch

MERGE = spec("merge_by_key", primary_key="id")
SCD2 = spec("scd_type_2", primary_key="id")
SCD2_STAGED = ("id", "v", *SCD2_COLUMNS)

CASES = {
    # ------------------------------------------------------------------ replace
    "replace_first_run_renames_the_staged_table": Case(spec("replace"), FIRST, kind=None),
    "replace_drops_the_table_and_renames": Case(spec("replace"), SWAP),
    "replace_of_a_view_drops_the_view": Case(
        spec("replace"), [("DROP VIEW", ()), ("RENAME", ())], kind="view"
    ),
    "replace_without_rename_copies_and_drops_the_staged_table": Case(
        spec("replace"),
        [("DROP TABLE", ()), ("CREATE TABLE", ()), ("DROP TABLE", ())],
        capabilities=NO_RENAME,
    ),
    "replace_first_run_without_rename": Case(
        spec("replace"),
        [("CREATE TABLE", ()), ("DROP TABLE", ())],
        kind=None,
        capabilities=NO_RENAME,
    ),
    # ------------------------------------------------------------------ append
    "append_first_run_is_a_swap": Case(spec("append"), FIRST, kind=None),
    "append_into_a_view_replaces_it_with_a_table": Case(
        spec("append"), [("DROP VIEW", ()), ("RENAME", ())], kind="view"
    ),
    "append_inserts_the_batch": Case(spec("append"), [("INSERT", ("inserted",)), *DROP_STAGING]),
    "append_with_lookback_inserts_new_keys_only": Case(
        spec("append", primary_key="id", cursor={"column": "v", "lookback": 2}),
        [("INSERT", ("inserted",)), *DROP_STAGING],
    ),
    # ------------------------------------------------------------------ none
    "none_writes_nothing": Case(spec("none"), []),
    "none_writes_nothing_on_a_first_run": Case(spec("none"), [], kind=None),
    # ------------------------------------------------------------------ merge_by_key
    "merge_first_run_is_a_swap": Case(MERGE, FIRST, kind=None, capabilities=POSTGRES),
    "merge_over_a_view_is_a_swap": Case(
        MERGE, [("DROP VIEW", ()), ("RENAME", ())], kind="view", capabilities=POSTGRES
    ),
    "merge_with_merge_preferred_diffs_then_merges": Case(
        MERGE, [*DIFF_MERGE, *DROP_STAGING], capabilities=POSTGRES
    ),
    "merge_where_delete_insert_is_faster": Case(MERGE, [*DELETE_INSERT, *DROP_STAGING]),
    "merge_without_merge_deletes_and_inserts": Case(
        MERGE, [*DELETE_INSERT, *DROP_STAGING], capabilities=NO_MERGE
    ),
    "merge_with_exact_counts_counts_changed_rows_first": Case(
        spec("merge_by_key", primary_key="id", exact_counts=True),
        [*EXACT_DELETE_INSERT, *DROP_STAGING],
    ),
    "merge_with_only_key_columns_counts_nothing_changed": Case(
        MERGE, [("DELETE", ("matched",)), ("INSERT", ("written",)), *DROP_STAGING], staged=("id",)
    ),
    "merge_keeping_a_removed_column_rewrites_changed_rows_only": Case(
        MERGE,
        [("DELETE", ("updated",)), ("INSERT", ("written",)), *DROP_STAGING],
        target=("id", "v", "w"),
    ),
    "merge_hard_deletes_missing_keys_last": Case(
        spec("merge_by_key", primary_key="id", delete_mode="hard"),
        [*DELETE_INSERT, ("DELETE", ("deleted",)), *DROP_STAGING],
    ),
    "merge_hard_with_merge": Case(
        spec("merge_by_key", primary_key="id", delete_mode="hard"),
        [*DIFF_MERGE, ("DELETE", ("deleted",)), *DROP_STAGING],
        capabilities=POSTGRES,
    ),
    "merge_soft_flags_missing_keys": Case(
        spec("merge_by_key", primary_key="id", delete_mode="soft"),
        [*DELETE_INSERT, ("UPDATE", ("deleted",)), *DROP_STAGING],
        staged=("id", "v", "_deleted", "_deleted_at"),
    ),
    "merge_soft_with_merge": Case(
        spec("merge_by_key", primary_key="id", delete_mode="soft"),
        [*DIFF_MERGE, ("UPDATE", ("deleted",)), *DROP_STAGING],
        capabilities=POSTGRES,
        staged=("id", "v", "_deleted", "_deleted_at"),
    ),
    "merge_preserve_deletes_nothing": Case(
        spec("merge_by_key", primary_key="id", delete_mode="preserve"),
        [*DELETE_INSERT, *DROP_STAGING],
    ),
    # ------------------------------------------------------------------ scd_type_2
    "scd2_first_run_is_a_swap": Case(SCD2, FIRST, kind=None, staged=SCD2_STAGED),
    "scd2_closes_changed_versions_and_opens_new_ones": Case(
        SCD2, [*SCD2_CHANGES, *SCD2_END], staged=SCD2_STAGED
    ),
    "scd2_is_the_same_with_or_without_merge": Case(
        SCD2, [*SCD2_CHANGES, *SCD2_END], capabilities=NO_MERGE, staged=SCD2_STAGED
    ),
    "scd2_soft_finds_gone_keys_in_the_same_full_join": Case(
        spec("scd_type_2", primary_key="id", delete_mode="soft"),
        [
            ("CREATE TEMPORARY TABLE", ()),
            ("SELECT", ("inserted", "updated", "deleted")),
            ("UPDATE", ()),
            ("INSERT", ()),
            *SCD2_END,
        ],
        staged=SCD2_STAGED,
    ),
    "scd2_soft_without_full_join_closes_gone_keys_separately": Case(
        spec("scd_type_2", primary_key="id", delete_mode="soft"),
        [*SCD2_CHANGES, ("UPDATE", ("deleted",)), *SCD2_END],
        capabilities=NO_FULL_JOIN,
        staged=SCD2_STAGED,
    ),
    "scd2_soft_mark_opens_tombstones_then_closes_what_they_replace": Case(
        spec("scd_type_2", primary_key="id", delete_mode="soft_mark"),
        [*SCD2_CHANGES, ("INSERT", ("deleted",)), ("UPDATE", ()), *SCD2_END],
        staged=(*SCD2_STAGED, "_is_deleted"),
    ),
}


def test_replace_where_ddl_commits_at_once_swaps_both_names_in_one_rename() -> None:
    swap = Capabilities(merge=False, create_or_replace=False, publish="rename_swap")
    found = steps(spec("replace"), capabilities=swap)

    # quoted in the context's dialect (DuckDB's here; MySQL's backticks on MySQL)
    assert [sql(s, "mysql") for s in found] == [
        'RENAME TABLE "main"."items" TO "main"."__il_stage_items_old", '
        '"main"."__il_stage_items" TO "main"."items"',
        "DROP TABLE IF EXISTS `main`.`__il_stage_items_old`",
    ]
    pairs = st.renamed_tables(found[0].statement, "duckdb")
    assert [(a.name, b.name) for a, b in pairs or []] == [
        ("items", "__il_stage_items_old"),
        ("__il_stage_items", "items"),
    ]
    # a first write has nothing to swap with: a plain rename
    assert shape(steps(spec("replace"), capabilities=swap, kind=None)) == FIRST


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_strategy_builds_its_statements_for_the_engine_it_runs_on(case: Case) -> None:
    found = steps(
        case.model,
        kind=case.kind,
        capabilities=case.capabilities,
        staged=case.staged,
        target=case.target,
    )
    assert shape(found) == case.expected
    for step in found:  # every statement renders for both engines and reads back
        for dialect in ("duckdb", "postgres"):
            assert sqlglot.parse_one(sql(step, dialect), read=dialect) is not None


# ---------------------------------------------------------------------- inside the statements


def test_replace_renames_the_staged_table_to_the_target_name() -> None:
    found = steps(spec("replace"))
    assert sql(found[0]) == f"DROP TABLE IF EXISTS {TARGET}"
    assert sql(found[1]) == f'ALTER TABLE {STAGING} RENAME TO "items"'
    copied = steps(spec("replace"), capabilities=NO_RENAME)
    assert sql(copied[1]) == f"CREATE TABLE {TARGET} AS SELECT * FROM {STAGING}"
    assert sql(copied[2]) == f"DROP TABLE IF EXISTS {STAGING}"


def test_append_inserts_by_column_name() -> None:
    found = steps(spec("append"), staged=("id", "v"))
    assert sql(found[0]) == f'INSERT INTO {TARGET} ("id", "v") SELECT "id", "v" FROM {STAGING}'


def test_append_with_lookback_skips_keys_the_table_has() -> None:
    model = spec("append", primary_key=("id", "part"), cursor={"column": "v", "lookback": 2})
    found = steps(model, staged=("id", "part", "v"))
    assert sql(found[0]) == (
        f'INSERT INTO {TARGET} ("id", "part", "v") SELECT "s"."id", "s"."part", "s"."v" '
        f'FROM {STAGING} AS "s" WHERE NOT EXISTS(SELECT 1 FROM {TARGET} AS __s '
        'WHERE "__s"."id" = "s"."id" AND "__s"."part" = "s"."part")'
    )


def test_merge_delete_insert_counts_changes_with_is_distinct_from() -> None:
    assert [sql(s).split(" ")[0] for s in steps(MERGE, staged=("id", "v", "n"))] == [
        "DELETE",  # by default: every matching row is rewritten, and counted as updated
        "INSERT",
        "DROP",
    ]
    exact = spec("merge_by_key", primary_key="id", exact_counts=True)
    found = steps(exact, staged=("id", "v", "n"))
    assert sql(found[0]) == (
        f'SELECT COUNT(*) AS updated FROM {STAGING} AS "s" JOIN {TARGET} AS "t" '
        'ON "s"."id" = "t"."id" '
        'WHERE "s"."v" IS DISTINCT FROM "t"."v" OR "s"."n" IS DISTINCT FROM "t"."n"'
    )
    assert sql(found[1]) == (
        f'DELETE FROM {TARGET} AS "t" USING {STAGING} AS "__s" WHERE "__s"."id" = "t"."id"'
    )
    assert sql(found[2]) == (
        f'INSERT INTO {TARGET} ("id", "v", "n") SELECT "id", "v", "n" FROM {STAGING}'
    )


def test_merge_keeping_a_removed_column_deletes_only_changed_rows() -> None:
    found = steps(MERGE, target=("id", "v", "w"))
    assert sql(found[0]) == (
        f'DELETE FROM {TARGET} AS "t" USING {STAGING} AS "__s" WHERE "__s"."id" = "t"."id" '
        'AND ("__s"."v" IS DISTINCT FROM "t"."v")'
    )
    assert "WHERE NOT EXISTS" in sql(found[1])  # unchanged rows keep their w


def test_merge_statement_updates_matches_and_inserts_the_rest() -> None:
    found = steps(
        spec("merge_by_key", primary_key=("region", "id")),
        capabilities=POSTGRES,
        staged=("region", "id", "v"),
        target=("region", "id", "v", "w"),
    )
    diff, counts, merge = found[0], found[1], found[2]
    assert sql(diff).startswith(f"CREATE TEMPORARY TABLE {DIFF} AS SELECT")
    assert '"t"."region" IS NULL AS __il_new' in sql(diff)
    assert (
        'LEFT JOIN "main"."items" AS "t" ON "s"."region" = "t"."region" AND "s"."id" = "t"."id"'
        in sql(diff)
    )
    assert sql(counts) == (
        'SELECT COALESCE(SUM(CASE WHEN "__il_new" THEN 1 ELSE 0 END), 0) AS inserted, '
        'COALESCE(SUM(CASE WHEN NOT "__il_new" THEN 1 ELSE 0 END), 0) AS updated '
        f"FROM {DIFF}"
    )
    # a kept column the batch no longer has is NULL in a rewritten row, as with DELETE+INSERT
    assert sql(merge, "postgres") == (
        f'MERGE INTO {TARGET} AS "t" USING {DIFF} AS "d" '
        'ON "t"."region" = "d"."region" AND "t"."id" = "d"."id" '
        'WHEN MATCHED THEN UPDATE SET "v" = "d"."v", "w" = NULL '
        'WHEN NOT MATCHED THEN INSERT ("region", "id", "v") VALUES ("d"."region", "d"."id", "d"."v")'
    )


def test_merge_of_key_columns_only_never_updates() -> None:
    found = steps(MERGE, capabilities=POSTGRES, staged=("id",))
    merge = next(s for s in found if isinstance(s.statement, exp.Merge))
    assert "WHEN MATCHED" not in sql(merge)
    assert "WHEN NOT MATCHED THEN INSERT" in sql(merge)


def test_merge_hard_delete_removes_rows_whose_key_the_batch_lacks() -> None:
    found = steps(spec("merge_by_key", primary_key="id", delete_mode="hard"))
    delete = found[-2]
    assert delete.record == ("deleted",)
    assert sql(delete) == (
        f'DELETE FROM {TARGET} AS "t" WHERE NOT EXISTS(SELECT 1 FROM {STAGING} AS __s '
        'WHERE "__s"."id" = "t"."id")'
    )


def test_merge_soft_delete_flags_live_rows_with_the_run_time() -> None:
    found = steps(
        spec("merge_by_key", primary_key="id", delete_mode="soft", exact_counts=True),
        staged=("id", "v", "_deleted", "_deleted_at"),
    )
    flag = found[-2]
    assert flag.record == ("deleted",)
    assert sql(flag) == (
        f'UPDATE {TARGET} AS "t" SET "_deleted" = TRUE, "_deleted_at" = {TS} '
        f'FROM (SELECT "x"."id" FROM {TARGET} AS "x" LEFT JOIN {STAGING} AS "__b" '
        'ON "__b"."id" = "x"."id" WHERE "__b"."id" IS NULL '
        'AND NOT COALESCE("x"."_deleted", FALSE)) AS __m WHERE "__m"."id" = "t"."id"'
    )
    # the deletion time is not compared: a flagged row that comes back is one update
    count = sql(found[0])
    assert '"_deleted" IS DISTINCT FROM' in count and "_deleted_at" not in count


def test_scd2_closes_the_current_version_at_the_instant_the_new_one_opens() -> None:
    found = steps(SCD2, staged=SCD2_STAGED)
    select = sql(found[0])
    assert f'LEFT JOIN {TARGET} AS "t" ON "s"."id" = "t"."id" AND "t"."is_current"' in select
    assert 'WHERE "t"."id" IS NULL OR ("s"."v" IS DISTINCT FROM "t"."v")' in select
    assert sql(found[2]) == (
        f'UPDATE {TARGET} AS "t" SET "valid_to" = {TS}, "is_current" = FALSE '
        f'FROM {DIFF} AS "__m" WHERE "__m"."id" = "t"."id" '
        'AND ("t"."is_current" AND NOT "__m"."__il_new")'
    )
    assert sql(found[3]) == (
        f'INSERT INTO {TARGET} ("id", "v", "valid_from", "valid_to", "is_current", "_scd_hash") '
        f'SELECT "id", "v", "valid_from", "valid_to", "is_current", "_scd_hash" FROM {DIFF}'
    )


def test_scd2_tracks_only_the_declared_columns() -> None:
    model = spec("scd_type_2", primary_key="id", scd2={"tracked_columns": ["v"]})
    found = steps(model, staged=("id", "v", "note", *SCD2_COLUMNS))
    select = sql(found[0])
    assert '"s"."v" IS DISTINCT FROM "t"."v"' in select
    assert '"note" IS DISTINCT FROM' not in select


def test_scd2_soft_with_full_join_writes_no_version_for_gone_keys() -> None:
    found = steps(spec("scd_type_2", primary_key="id", delete_mode="soft"), staged=SCD2_STAGED)
    assert "FULL JOIN" in sql(found[0])
    assert sql(found[3]).endswith('WHERE NOT "__il_gone"')


def test_scd2_soft_mark_tombstones_carry_the_last_values_and_the_run_time() -> None:
    staged = (*SCD2_STAGED, "_is_deleted")
    found = steps(spec("scd_type_2", primary_key="id", delete_mode="soft_mark"), staged=staged)
    assert '"t"."_is_deleted"' in sql(found[0])  # a key back after its tombstone is a change
    assert sql(found[4]) == (
        f'INSERT INTO {TARGET} ("id", "v", "valid_from", "valid_to", "is_current", '
        f'"_is_deleted") SELECT "t"."id", "t"."v", {TS}, CAST(NULL AS TIMESTAMP), TRUE, TRUE '
        f'FROM {TARGET} AS "t" WHERE "t"."is_current" AND NOT "t"."_is_deleted" '
        f'AND NOT EXISTS(SELECT 1 FROM {STAGING} AS __s WHERE "__s"."id" = "t"."id")'
    )


def test_scd2_custom_column_names_are_used_everywhere() -> None:
    names = {"valid_from": "start", "valid_to": "stop", "is_current": "live", "hash_column": "h"}
    model = spec("scd_type_2", primary_key="id", scd2=names)
    found = steps(model, staged=("id", "v", "start", "stop", "live"))
    text = " ".join(sql(s) for s in found)
    assert '"stop" = ' in text and '"live" = FALSE' in text and 'AS "h"' in text
    assert "valid_" not in text and "is_current" not in text and "_scd_hash" not in text


def test_row_hash_ignores_column_order_and_tells_null_from_empty() -> None:
    from interlace.strategies.scd_type_2 import row_hash

    assert row_hash(["b", "a"]).sql("duckdb") == row_hash(["a", "b"]).sql("duckdb")
    text = row_hash(["v"]).sql("duckdb")
    assert text == (
        "MD5('' || CASE WHEN \"v\" IS NULL THEN '' ELSE '1:v=' || "
        'CAST(LENGTH(CAST("v" AS TEXT)) AS TEXT) || \':\' || CAST("v" AS TEXT) END)'
    )


# ---------------------------------------------------------------------- declarations


@pytest.mark.parametrize(
    ("options", "extras"),
    [
        (spec("replace"), []),
        (spec("append"), []),
        (MERGE, []),
        (spec("merge_by_key", primary_key="id", delete_mode="soft"), ["_deleted", "_deleted_at"]),
        (SCD2, list(SCD2_COLUMNS)),
        (
            spec("scd_type_2", primary_key="id", delete_mode="soft_mark"),
            [*SCD2_COLUMNS, "_is_deleted"],
        ),
    ],
    ids=["replace", "append", "merge", "merge_soft", "scd2", "scd2_soft_mark"],
)
def test_bookkeeping_columns_added_to_the_staged_result(
    options: ModelSpec, extras: list[str]
) -> None:
    strategy = get_strategy(options.strategy)
    assert [name for name, _ in strategy.staged_extras(options, RUN_TS)] == extras


def test_scd2_computes_the_row_hash_on_the_first_write_only() -> None:
    strategy = get_strategy("scd_type_2")
    first = strategy.computed_extras(SCD2, lambda: ["id", "v"], first_write=True)
    assert [name for name, _ in first] == ["_scd_hash"]
    assert strategy.computed_extras(SCD2, lambda: ["id", "v"], first_write=False) == []
    assert "_scd_hash" in strategy.bookkeeping(SCD2)


def test_merge_counts_from_delete_insert_become_inserted_and_updated() -> None:
    strategy = get_strategy("merge_by_key")
    # 3 rows written, 1 of them replacing a changed row, 2 rows deleted as missing
    assert strategy.finish_stats({"updated": 1, "matched": 2, "written": 3, "deleted": 2}) == {
        "updated": 1,
        "inserted": 1,
        "deleted": 2,
    }
    # the rewrite path (kept columns): the delete's count is the updated rows
    assert strategy.finish_stats({"updated": 1, "written": 2}) == {"updated": 1, "inserted": 1}
    # the MERGE path counts exactly already
    assert strategy.finish_stats({"inserted": 4, "updated": 1}) == {"inserted": 4, "updated": 1}


@pytest.mark.parametrize(
    ("strategy", "missing"),
    [
        ("replace", []),
        ("append", []),
        ("none", []),
        ("merge_by_key", ["joined_dml"]),
        ("scd_type_2", ["joined_dml"]),
    ],
)
def test_strategies_needing_joined_dml_say_so(strategy: str, missing: list[str]) -> None:
    capabilities = replace(DUCKDB, joined_dml=False)
    assert get_strategy(strategy).missing_capabilities(capabilities) == missing
    assert get_strategy(strategy).missing_capabilities(DUCKDB) == []


OPTION_PROBLEMS: list[tuple[str, dict[str, Any], str | None]] = [
    ("replace", {}, None),
    ("merge_by_key", {"primary_key": "id"}, None),
    ("merge_by_key", {}, "strategy 'merge_by_key' needs primary_key"),
    ("scd_type_2", {}, "strategy 'scd_type_2' needs primary_key"),
    (
        "merge_by_key",
        {"primary_key": "id", "delete_mode": "soft_mark"},
        "delete_mode 'soft_mark' is not valid for strategy 'merge_by_key'",
    ),
    (
        "scd_type_2",
        {"primary_key": "id", "delete_mode": "hard"},
        "delete_mode 'hard' is not valid for strategy 'scd_type_2'",
    ),
    (
        "append",
        {"delete_mode": "hard"},
        "delete_mode applies to the merge_by_key and scd_type_2 strategies only",
    ),
    (
        "merge_by_key",
        {"primary_key": "id", "scd2": {"valid_from": "f"}},
        "option 'scd2' applies to the scd_type_2 strategy only, not to 'merge_by_key'",
    ),
    (
        "replace",
        {"cursor": "ts"},
        "cursor= makes the model incremental, but strategy 'replace' would keep only the newest",
    ),
    ("append", {"cursor": "ts"}, None),
    (
        "append",
        {"cursor": {"column": "ts", "lookback": "1d"}},
        "cursor lookback re-reads rows the table already has, and strategy 'append' needs "
        "primary_key",
    ),
    ("append", {"cursor": {"column": "ts", "lookback": "1d"}, "primary_key": "id"}, None),
]


@pytest.mark.parametrize(("strategy", "options", "problem"), OPTION_PROBLEMS)
def test_a_strategy_checks_a_models_options_when_the_project_loads(
    strategy: str, options: dict[str, Any], problem: str | None
) -> None:
    found = get_strategy(strategy).check_options(ModelOptions(**options))
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.message.startswith(problem), found
        assert found.hint


def test_append_needs_keys_only_when_it_rereads_rows() -> None:
    append = get_strategy("append")
    assert not append.keyed(spec("append", cursor="ts"))
    assert append.keyed(spec("append", primary_key="id", cursor={"column": "ts", "lookback": 1}))
    assert get_strategy("merge_by_key").keyed(MERGE)
    assert not get_strategy("replace").keyed(spec("replace"))
