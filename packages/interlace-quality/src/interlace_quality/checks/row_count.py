"""``row_count``: the relation has between ``min`` and ``max`` rows."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator
from sqlglot import exp

from interlace_quality.checks.base import BaseCheck, CheckContext, Plan, ValuePlan, Verdict


class RowCount(BaseCheck):
    """``{"row_count": {"min": 1}}``, ``{"row_count": {"min": 10, "max": 1000}}`` (inclusive)."""

    check_type: ClassVar[str] = "row_count"

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> RowCount:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self

    def default_name(self) -> str:
        bounds = [f"{k}={v}" for k, v in (("min", self.min), ("max", self.max)) if v is not None]
        return f"row_count({', '.join(bounds)})"

    def plan(self, ctx: CheckContext) -> Plan:
        query = exp.select(exp.Count(this=exp.Star())).from_(ctx.source())
        return ValuePlan(query, self._judge)

    def _judge(self, row: tuple[Any, ...]) -> Verdict:
        rows = int(row[0])
        if self.min is not None and rows < self.min:
            return Verdict.of(f"{rows} row(s), fewer than the minimum {self.min}")
        if self.max is not None and rows > self.max:
            return Verdict.of(f"{rows} row(s), more than the maximum {self.max}")
        return Verdict.of(None)
