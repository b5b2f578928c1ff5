"""`append`: staged rows are inserted into the table.

With a cursor ``lookback`` each run re-reads rows it appended before (to catch rows that arrive
late), so only rows whose ``primary_key`` the table does not have yet are inserted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from interlace import statements as st
from interlace.strategies.base import (
    OptionProblem,
    PublishContext,
    Step,
    Strategy,
    aliased,
    col,
    exists_in,
)
from interlace.strategies.replace import swap_in

if TYPE_CHECKING:
    from interlace.spec import ModelOptions, ModelSpec


def rereads(spec: ModelSpec) -> bool:
    """Whether each run re-reads rows an earlier run appended (a cursor with a lookback)."""
    cursor = spec.options.cursor
    return cursor is not None and cursor.lookback is not None


class Append(Strategy):
    name = "append"

    def keyed(self, spec: ModelSpec) -> bool:
        return rereads(spec)

    def check_options(self, options: ModelOptions) -> OptionProblem | None:
        problem = super().check_options(options)
        cursor = options.cursor
        if problem is None and cursor and cursor.lookback is not None and not options.primary_key:
            return OptionProblem(
                "cursor lookback re-reads rows the table already has, and strategy 'append' "
                "needs primary_key to add each of them once",
                "add primary_key='id' (or a list for a composite key), or remove lookback",
            )
        return problem

    def steps(self, ctx: PublishContext) -> list[Step]:
        if ctx.target_kind != "table":
            return swap_in(ctx)  # first run (or a view being turned into a table)
        if rereads(ctx.spec):
            return [Step(new_keys_only(ctx), ("inserted",)), Step(st.drop(ctx.staging))]
        return [
            Step(st.insert_select(ctx.target, ctx.staging, ctx.staged_names), ("inserted",)),
            Step(st.drop(ctx.staging)),
        ]


def new_keys_only(ctx: PublishContext) -> exp.Insert:
    """``INSERT INTO target SELECT s.* FROM staging AS s WHERE NOT EXISTS (the key in target)``."""
    names = ctx.staged_names
    absent = exp.not_(exists_in(ctx.target, ctx.keys, "s"))
    rows = exp.select(*[col(c, "s") for c in names]).from_(aliased(ctx.staging, "s")).where(absent)
    return st.insert_query(ctx.target, names, rows)
