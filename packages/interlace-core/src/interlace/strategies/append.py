"""`append`: staged rows are inserted into the table."""

from __future__ import annotations

from interlace import statements as st
from interlace.strategies.base import PublishContext, Step, Strategy
from interlace.strategies.replace import swap_in


class Append(Strategy):
    name = "append"

    def steps(self, ctx: PublishContext) -> list[Step]:
        if ctx.target_kind != "table":
            return swap_in(ctx)  # first run (or a view being turned into a table)
        return [
            Step(st.insert_select(ctx.target, ctx.staging, ctx.staged_names), ("inserted",)),
            Step(st.drop(ctx.staging)),
        ]
