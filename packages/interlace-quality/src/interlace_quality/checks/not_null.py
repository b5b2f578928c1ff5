"""``not_null``: every row has a value in each of the columns."""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp

from interlace_quality.checks._columns import Columns  # noqa: TC001 - pydantic reads it
from interlace_quality.checks.base import BaseCheck, CheckContext, Plan, RowsPlan


class NotNull(BaseCheck):
    """``{"not_null": "id"}`` or ``{"not_null": ["id", "email"]}``: a row fails when any of the
    columns is NULL."""

    check_type: ClassVar[str] = "not_null"
    primary: ClassVar[str | None] = "columns"

    columns: Columns

    def default_name(self) -> str:
        return f"not_null({', '.join(self.columns)})"

    def needs(self) -> tuple[str, ...]:
        return self.columns

    def plan(self, ctx: CheckContext) -> Plan:
        condition = exp.or_(
            *[exp.Is(this=ctx.column(c), expression=exp.null()) for c in self.columns]
        )
        names = " or ".join(self.columns)
        return RowsPlan(ctx.failing_rows(condition), lambda n: f"{n} row(s) have NULL in {names}")
