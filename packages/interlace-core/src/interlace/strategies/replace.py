"""`replace`: the staged result becomes the table (swap by rename inside one transaction)."""

from __future__ import annotations

from interlace import statements as st
from interlace.strategies.base import PublishContext, Step, Strategy


def swap_in(ctx: PublishContext) -> list[Step]:
    """Drop the old relation and rename the staged table into its place."""
    out: list[Step] = []
    if ctx.target_kind is not None:
        out.append(Step(st.drop(ctx.target, "VIEW" if ctx.target_kind == "view" else "TABLE")))
    if ctx.capabilities.rename_table:
        out.append(Step(st.rename(ctx.staging, ctx.target_name)))
    else:
        out.append(Step(st.create_table_as(ctx.target, st.select_all(ctx.staging))))
        out.append(Step(st.drop(ctx.staging)))
    return out


class Replace(Strategy):
    name = "replace"
    incremental = False

    def steps(self, ctx: PublishContext) -> list[Step]:
        return swap_in(ctx)
