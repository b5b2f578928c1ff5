"""``unique``: no two rows share a value (or a combination of values) in the columns."""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp

from interlace_quality.checks._columns import Columns  # noqa: TC001 - pydantic reads it
from interlace_quality.checks.base import BaseCheck, CheckContext, Plan, RowsPlan

OCCURRENCES = "occurrences"


class Unique(BaseCheck):
    """``{"unique": "id"}`` or ``{"unique": ["customer_id", "day"]}`` (the columns together).

    Rows with a NULL in a key column are not compared, as in a SQL UNIQUE constraint; add a
    ``not_null`` check to forbid them. The failing rows are all rows whose key appears more than
    once; the sample lists duplicated keys with their number of ``occurrences``.
    """

    check_type: ClassVar[str] = "unique"
    primary: ClassVar[str | None] = "columns"

    columns: Columns

    def default_name(self) -> str:
        return f"unique({', '.join(self.columns)})"

    def needs(self) -> tuple[str, ...]:
        return self.columns

    def plan(self, ctx: CheckContext) -> Plan:
        keys = [ctx.column(c) for c in self.columns]
        count_star = exp.Count(this=exp.Star())
        duplicates = (
            exp.select(*keys, exp.alias_(count_star, OCCURRENCES))
            .from_(ctx.source())
            .where(
                exp.and_(*[exp.not_(exp.Is(this=k.copy(), expression=exp.null())) for k in keys])
            )
            .group_by(*[k.copy() for k in keys])
            .having(exp.GT(this=count_star.copy(), expression=exp.Literal.number(1)))
        )
        total = exp.func("COALESCE", exp.Sum(this=exp.column(OCCURRENCES)), exp.Literal.number(0))
        count = exp.select(total).from_(duplicates.subquery("duplicates"))
        sample = duplicates.copy().order_by(exp.column(OCCURRENCES).desc())
        key = self.columns[0] if len(self.columns) == 1 else f"({', '.join(self.columns)})"
        return RowsPlan(
            duplicates,
            lambda n: f"{n} row(s) share their {key} with another row",
            count=count,
            sample=sample,
        )
