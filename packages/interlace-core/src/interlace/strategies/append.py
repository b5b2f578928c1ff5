"""`append`: staged rows are inserted into the table; new columns are added first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace import statements as st
from interlace.strategies.base import PublishContext, Strategy
from interlace.strategies.replace import Replace

if TYPE_CHECKING:
    from sqlglot import exp


class Append(Strategy):
    name = "append"

    def statements(self, ctx: PublishContext) -> list[exp.Expr]:
        if ctx.target_kind != "table":
            return Replace().statements(ctx)  # first run (or a view being turned into a table)
        from sqlglot import exp as sqlexp

        existing = {c.name for c in ctx.target_columns}
        out: list[exp.Expr] = [
            st.add_column(ctx.target, c.name, sqlexp.DataType.build(c.type, dialect=ctx.dialect))
            for c in ctx.staged_columns
            if c.name not in existing
        ]
        out.append(st.insert_select(ctx.target, ctx.staging, [c.name for c in ctx.staged_columns]))
        out.append(st.drop(ctx.staging))
        return out
