"""``freshness``: the newest value of a date/timestamp column is recent enough."""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa
from interlace.durations import parse_duration
from pydantic import field_validator
from sqlglot import exp

from interlace_quality.checks.base import (
    BaseCheck,
    CheckContext,
    CheckSetupError,
    Plan,
    ValuePlan,
    Verdict,
)


def human(seconds: float) -> str:
    """``93784.0`` -> ``'1d 2h 3m'``."""
    left = int(max(seconds, 0))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return " ".join(parts) or f"{left}s"


class Freshness(BaseCheck):
    """``{"freshness": {"column": "updated_at", "max_age": "1d"}}``.

    The age is computed in the engine: now minus the newest value of ``column``. A timestamp
    without a time zone is read as UTC (as Interlace writes timestamps); a date counts from its
    midnight UTC. An empty relation (no value at all) fails.
    """

    check_type: ClassVar[str] = "freshness"

    column: str
    max_age: str

    @field_validator("max_age", mode="before")
    @classmethod
    def _max_age(cls, value: Any) -> str:
        parse_duration(str(value))  # raises ValueError naming the accepted forms
        return str(value)

    def default_name(self) -> str:
        return f"freshness({self.column}, {self.max_age})"

    def needs(self) -> tuple[str, ...]:
        return (self.column,)

    def plan(self, ctx: CheckContext) -> Plan:
        kind = ctx.column_type(self.column)
        if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
            raise CheckSetupError(
                f"freshness needs a date or timestamp column; '{self.column}' is {kind}"
            )
        newest = exp.Max(this=ctx.column(self.column))
        age = exp.Sub(
            this=exp.TimeToUnix(this=exp.CurrentTimestamp()),
            expression=exp.TimeToUnix(this=newest.copy()),
        )
        query = exp.select(
            exp.alias_(exp.cast(newest, exp.DataType.build("text")), "newest"),
            exp.alias_(age, "age_seconds"),
        ).from_(ctx.source())
        return ValuePlan(query, self._judge)

    def _judge(self, row: tuple[Any, ...]) -> Verdict:
        newest, age = row
        if newest is None:
            return Verdict.of(f"no row has a value in {self.column}")
        if float(age) > parse_duration(self.max_age).total_seconds():
            return Verdict.of(
                f"the newest {self.column} is {newest}, {human(float(age))} old "
                f"(max_age {self.max_age})"
            )
        return Verdict.of(None)


__all__ = ["Freshness"]
