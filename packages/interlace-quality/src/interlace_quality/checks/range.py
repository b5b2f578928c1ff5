"""``range``: a column's values lie between ``min`` and ``max``."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import model_validator
from sqlglot import exp

from interlace_quality.checks.base import BaseCheck, CheckContext, Plan, RowsPlan

Bound = int | float | dt.datetime | dt.date | str


class Range(BaseCheck):
    """``{"range": {"column": "amount", "min": 0, "max": 1000}}``.

    Bounds are inclusive unless ``inclusive: false``; either may be left out. Dates and
    timestamps work too (``min: 2020-01-01``). NULL is not checked.
    """

    check_type: ClassVar[str] = "range"

    column: str
    min: Bound | None = None
    max: Bound | None = None
    inclusive: bool = True

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        return self

    def bounds(self) -> str:
        """``0 <= amount <= 1000``."""
        op = "<=" if self.inclusive else "<"
        text = self.column
        if self.min is not None:
            text = f"{self.min} {op} {text}"
        if self.max is not None:
            text = f"{text} {op} {self.max}"
        return text

    def default_name(self) -> str:
        return f"range({self.bounds()})"

    def needs(self) -> tuple[str, ...]:
        return (self.column,)

    def plan(self, ctx: CheckContext) -> Plan:
        column = ctx.column(self.column)
        below: type[exp.Binary] = exp.LT if self.inclusive else exp.LTE
        above: type[exp.Binary] = exp.GT if self.inclusive else exp.GTE
        outside = [
            op(this=column.copy(), expression=exp.convert(bound))
            for op, bound in ((below, self.min), (above, self.max))
            if bound is not None
        ]
        return RowsPlan(
            ctx.failing_rows(exp.or_(*outside)),
            lambda n: f"{n} row(s) are outside {self.bounds()}",
        )
