"""`merge_by_key`: upsert the batch by primary key, optionally deleting what it no longer has.

Where the engine prefers MERGE, a diff of the batch against the table (``IS DISTINCT FROM`` on
every non-key column) lands in a temporary table, which also yields exact counts of inserted and
updated rows, and is merged in. Elsewhere (DuckDB) the rows whose key the batch has are deleted
and the batch is appended in one transaction: the shape of a hand-written upsert, where
``updated`` counts the rows rewritten (their key was in the table); ``exact_counts: true``
counts only those whose values changed, at the price of one more join of the batch with the
table. A table that keeps columns the batch no longer has only rewrites changed rows (so the
others keep those values), and counts them exactly. ``delete_mode``: ``preserve`` keeps rows
missing from the batch, ``hard`` deletes them, ``soft`` flags them ``_deleted``/``_deleted_at``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlglot import exp

from interlace import statements as st
from interlace.strategies.base import (
    NEW_FLAG,
    PublishContext,
    Step,
    Strategy,
    aliased,
    change_set,
    col,
    delete_matching,
    exists_in,
    keys_equal,
    missing_keys,
    timestamp,
    update_matching,
)
from interlace.strategies.replace import swap_in

if TYPE_CHECKING:
    from interlace.spec import ModelSpec

DELETED = "_deleted"
DELETED_AT = "_deleted_at"


def diff_table(spec: ModelSpec) -> exp.Table:
    return exp.Table(this=exp.to_identifier(f"__il_diff_{spec.name}", quoted=True))


def any_distinct(columns: list[str], left: str, right: str) -> exp.Expr | None:
    condition: exp.Expr | None = None
    for name in columns:
        term = exp.NullSafeNEQ(this=col(name, left), expression=col(name, right))
        condition = term if condition is None else exp.or_(condition, term)
    return condition


class MergeByKey(Strategy):
    name = "merge_by_key"
    needs_keys = True
    delete_modes = ("preserve", "hard", "soft")
    own_options = frozenset({"exact_counts"})
    requires = ("joined_dml",)  # DELETE ... USING, UPDATE ... FROM

    def staged_extras(self, spec: ModelSpec, run_ts: dt.datetime) -> list[tuple[str, exp.Expr]]:
        if spec.options.delete_mode == "soft":
            return [(DELETED, exp.false()), (DELETED_AT, exp.cast(exp.null(), "TIMESTAMP"))]
        return []

    def steps(self, ctx: PublishContext) -> list[Step]:
        if ctx.target_kind != "table":
            return swap_in(ctx)
        keys = ctx.keys
        names = ctx.staged_names
        compared = [c for c in names if c not in keys and c != DELETED_AT]
        if ctx.capabilities.merge and ctx.capabilities.prefer_merge:
            steps = self._diff_and_merge(ctx, names, compared)
        else:
            steps = self._delete_and_insert(ctx, names, compared)
        mode = ctx.spec.options.delete_mode or self.delete_modes[0]
        if mode == "hard":
            missing = exp.not_(exists_in(ctx.staging, keys, "t"))
            steps.append(
                Step(
                    exp.Delete(this=aliased(ctx.target, "t"), where=exp.Where(this=missing)),
                    ("deleted",),
                )
            )
        elif mode == "soft":
            live = exp.not_(exp.Coalesce(this=col(DELETED, "x"), expressions=[exp.false()]))
            steps.append(
                Step(
                    update_matching(
                        ctx.target,
                        missing_keys(ctx.target, ctx.staging, keys, live),
                        keys,
                        [
                            exp.EQ(this=col(DELETED), expression=exp.true()),
                            exp.EQ(this=col(DELETED_AT), expression=timestamp(ctx.run_ts)),
                        ],
                    ),
                    ("deleted",),
                )
            )
        steps.append(Step(st.drop(ctx.staging)))
        return steps

    def finish_stats(self, stats: dict[str, int]) -> dict[str, int]:
        if "written" in stats:  # DELETE+INSERT: rows written = new keys + rewritten rows
            stats = dict(stats)
            written = stats.pop("written")
            replaced = stats.pop("matched", stats.get("updated", 0))  # rows deleted to rewrite
            stats["inserted"] = written - replaced
            stats.setdefault("updated", replaced)  # without exact_counts: the rows rewritten
        return stats

    def _delete_and_insert(
        self, ctx: PublishContext, names: list[str], compared: list[str]
    ) -> list[Step]:
        """Delete the rows the batch changes (their count is ``updated``), then write the batch.

        When the batch carries every column of the table, every matching row is deleted and the
        whole batch is appended: the shape of a hand-written upsert (hash joins and a plain
        append); the changed rows are counted first only with ``exact_counts``. When the table
        keeps columns the batch no longer has, only changed rows are deleted and only rows whose
        key is then absent are inserted, so unchanged rows keep those columns' values.
        """
        keys = ctx.keys
        steps: list[Step] = []
        kept = {c.name for c in ctx.target_columns} - set(names)
        if not kept:
            changed = any_distinct(compared, "s", "t") if ctx.spec.options.exact_counts else None
            if changed is not None:  # counting is a cheaper join than deleting with a filter
                steps.append(
                    Step(
                        exp.select(exp.alias_(exp.Count(this=exp.Star()), "updated"))
                        .from_(aliased(ctx.staging, "s"))
                        .join(aliased(ctx.target, "t"), on=keys_equal(keys, "s", "t"))
                        .where(changed),
                        ("updated",),
                    )
                )
            steps.append(Step(delete_matching(ctx.target, ctx.staging, keys), ("matched",)))
            steps.append(Step(st.insert_select(ctx.target, ctx.staging, names), ("written",)))
            return steps
        changed = any_distinct(compared, "__s", "t")
        if changed is not None:
            steps.append(
                Step(delete_matching(ctx.target, ctx.staging, keys, changed), ("updated",))
            )
        absent = exp.not_(exists_in(ctx.target, keys, "s"))
        new_rows = (
            exp.select(*[col(c, "s") for c in names]).from_(aliased(ctx.staging, "s")).where(absent)
        )
        steps.append(Step(st.insert_query(ctx.target, names, new_rows), ("written",)))
        return steps

    def _diff_and_merge(
        self, ctx: PublishContext, names: list[str], compared: list[str]
    ) -> list[Step]:
        """Collect new and changed rows (with exact counts), then MERGE them in."""
        keys = ctx.keys
        diff = diff_table(ctx.spec)
        changed = any_distinct(compared, "s", "t")
        is_new = exp.Is(this=col(keys[0], "t"), expression=exp.null())
        where = is_new if changed is None else exp.or_(is_new, exp.paren(changed))
        select = (
            exp.select(*[col(c, "s") for c in names], exp.alias_(is_new.copy(), NEW_FLAG))
            .from_(aliased(ctx.staging, "s"))
            .join(aliased(ctx.target, "t"), on=keys_equal(keys, "s", "t"), join_type="left")
            .where(where)
        )
        return [
            *change_set(diff, select),
            Step(self._merge(ctx, diff, names)),
            Step(st.drop(diff)),
        ]

    def _merge(self, ctx: PublishContext, diff: exp.Table, names: list[str]) -> exp.Expr:
        keys = ctx.keys
        updates = [exp.EQ(this=col(c), expression=col(c, "d")) for c in names if c not in keys]
        # like DELETE+INSERT: a rewritten row has NULL in kept columns the batch no longer has
        staged = set(names)
        updates += [
            exp.EQ(this=col(c.name), expression=exp.null())
            for c in ctx.target_columns
            if c.name not in staged
        ]
        insert = exp.Insert(
            this=exp.Tuple(expressions=[col(c) for c in names]),
            expression=exp.Tuple(expressions=[col(c, "d") for c in names]),
        )
        whens = []
        if updates:
            whens.append(exp.When(matched=True, then=exp.Update(expressions=updates)))
        whens.append(exp.When(matched=False, then=insert))
        return exp.Merge(
            this=aliased(ctx.target, "t"),
            using=aliased(diff, "d"),
            on=keys_equal(keys, "t", "d"),
            whens=exp.Whens(expressions=whens),
        )
