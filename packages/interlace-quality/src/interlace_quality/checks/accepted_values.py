"""``accepted_values``: a column only holds values from a list."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import field_validator
from sqlglot import exp

from interlace_quality.checks.base import BaseCheck, CheckContext, Plan, RowsPlan, preview

Scalar = str | bool | int | float | dt.datetime | dt.date


class AcceptedValues(BaseCheck):
    """``{"accepted_values": {"column": "status", "values": ["new", "paid"]}}``.

    NULL is not checked (add a ``not_null`` check to forbid it).
    """

    check_type: ClassVar[str] = "accepted_values"

    column: str
    values: tuple[Scalar, ...]

    @field_validator("values")
    @classmethod
    def _values(cls, value: tuple[Scalar, ...]) -> tuple[Scalar, ...]:
        if not value:
            raise ValueError("list at least one accepted value")
        return value

    def default_name(self) -> str:
        return f"accepted_values({self.column})"

    def needs(self) -> tuple[str, ...]:
        return (self.column,)

    def plan(self, ctx: CheckContext) -> Plan:
        condition = exp.not_(
            exp.In(this=ctx.column(self.column), expressions=[exp.convert(v) for v in self.values])
        )
        shown = preview(self.values)
        return RowsPlan(
            ctx.failing_rows(condition),
            lambda n: f"{n} row(s) have a {self.column} outside {shown}",
        )
