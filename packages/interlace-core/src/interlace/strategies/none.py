"""`none`: Interlace writes nothing; the model's own code manages its target."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace import statements as st
from interlace.strategies.base import PublishContext, Strategy

if TYPE_CHECKING:
    from sqlglot import exp


class NoWrite(Strategy):
    name = "none"

    def statements(self, ctx: PublishContext) -> list[exp.Expr]:
        return [st.drop(ctx.staging)]
