"""`replace`: the staged result becomes the table (swap by rename inside one transaction)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace import statements as st
from interlace.strategies.base import PublishContext, Strategy

if TYPE_CHECKING:
    from sqlglot import exp


class Replace(Strategy):
    name = "replace"

    def statements(self, ctx: PublishContext) -> list[exp.Expr]:
        out: list[exp.Expr] = []
        if ctx.target_kind is not None:
            out.append(st.drop(ctx.target, "VIEW" if ctx.target_kind == "view" else "TABLE"))
        if ctx.capabilities.rename_table:
            out.append(st.rename(ctx.staging, ctx.target_name))
        else:
            out.append(st.create_table_as(ctx.target, st.select_all(ctx.staging)))
            out.append(st.drop(ctx.staging))
        return out
