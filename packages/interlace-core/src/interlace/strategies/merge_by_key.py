"""`merge_by_key`: upsert the batch by primary key, optionally deleting what it no longer has.

Only new and changed rows are written: a diff of the batch against the table (``IS DISTINCT
FROM`` on every non-key column) lands in a temporary table, which also yields exact counts of
inserted and updated rows. The diff is then applied with MERGE where the engine prefers it, or
DELETE + INSERT (faster on DuckDB for large batches). ``delete_mode``: ``preserve`` keeps rows
missing from the batch, ``hard`` deletes them, ``soft`` flags them ``_deleted``/``_deleted_at``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlglot import exp

from interlace import statements as st
from interlace.strategies.base import (
    PublishContext,
    Step,
    Strategy,
    aliased,
    col,
    count_where,
    exists_in,
    keys_equal,
    timestamp,
)
from interlace.strategies.replace import swap_in

if TYPE_CHECKING:
    from interlace.spec import ModelSpec

DELETED = "_deleted"
DELETED_AT = "_deleted_at"
NEW_FLAG = "__il_new"


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

    def staged_extras(self, spec: ModelSpec, run_ts: dt.datetime) -> list[tuple[str, exp.Expr]]:
        if spec.options.delete_mode == "soft":
            return [(DELETED, exp.false()), (DELETED_AT, exp.cast(exp.null(), "TIMESTAMP"))]
        return []

    def steps(self, ctx: PublishContext) -> list[Step]:
        if ctx.target_kind != "table":
            return swap_in(ctx)
        keys = ctx.keys
        soft = ctx.spec.options.delete_mode == "soft"
        names = ctx.staged_names
        compared = [c for c in names if c not in keys and c != DELETED_AT]
        diff = diff_table(ctx.spec)
        first_key = col(keys[0], "t")
        changed = any_distinct(compared, "s", "t")
        is_new = exp.Is(this=first_key, expression=exp.null())
        where = is_new if changed is None else exp.or_(is_new, exp.paren(changed))
        select = (
            exp.select(*[col(c, "s") for c in names], exp.alias_(is_new.copy(), NEW_FLAG))
            .from_(aliased(ctx.staging, "s"))
            .join(aliased(ctx.target, "t"), on=keys_equal(keys, "s", "t"), join_type="left")
            .where(where)
        )
        steps = [
            Step(
                exp.Create(
                    this=diff,
                    kind="TABLE",
                    expression=select,
                    properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
                )
            ),
            Step(
                exp.select(
                    exp.alias_(count_where(col(NEW_FLAG)), "inserted"),
                    exp.alias_(count_where(exp.not_(col(NEW_FLAG))), "updated"),
                ).from_(diff.copy()),
                ("inserted", "updated"),
            ),
        ]
        if ctx.capabilities.merge and ctx.capabilities.prefer_merge:
            steps.append(Step(self._merge(ctx, diff, names)))
        else:
            steps.append(
                Step(
                    exp.Delete(
                        this=aliased(ctx.target, "t"),
                        where=exp.Where(this=exists_in(diff, keys, "t")),
                    )
                )
            )
            steps.append(Step(st.insert_select(ctx.target, diff, names)))
        mode = ctx.spec.options.delete_mode or "preserve"
        missing = exp.not_(exists_in(ctx.staging, keys, "t"))
        if mode == "hard":
            steps.append(
                Step(
                    exp.Delete(this=aliased(ctx.target, "t"), where=exp.Where(this=missing)),
                    ("deleted",),
                )
            )
        elif soft:
            steps.append(
                Step(
                    exp.Update(
                        this=aliased(ctx.target, "t"),
                        expressions=[
                            exp.EQ(this=col(DELETED), expression=exp.true()),
                            exp.EQ(this=col(DELETED_AT), expression=timestamp(ctx.run_ts)),
                        ],
                        where=exp.Where(
                            this=exp.and_(
                                missing,
                                exp.not_(
                                    exp.Coalesce(this=col(DELETED, "t"), expressions=[exp.false()])
                                ),
                            )
                        ),
                    ),
                    ("deleted",),
                )
            )
        steps.append(Step(st.drop(diff)))
        steps.append(Step(st.drop(ctx.staging)))
        return steps

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
