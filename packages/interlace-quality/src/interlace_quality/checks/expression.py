"""``expression``: a SQL boolean that must be true for every row, or a Python function."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import field_validator
from sqlglot import exp

from interlace_quality.checks.base import (
    BaseCheck,
    CheckContext,
    CheckSetupError,
    Plan,
    RowsPlan,
    ValuePlan,
    Verdict,
    parse_condition,
)

RETURNS = (
    "return an ibis boolean column (true for good rows), an ibis scalar, a bool, or the number "
    "of failing rows"
)


class Expression(BaseCheck):
    """``{"expression": "amount >= 0 AND paid_at >= ordered_at"}``: a row fails unless the
    expression is true (NULL fails too: write ``x IS NULL OR x > 0`` to allow NULL).

    In Python (``@model(quality_checks=[...])``) the value may be a function instead. It gets
    the relation as a lazy ibis table on the model's engine and returns:

    - an ibis boolean column, true for good rows (``lambda t: t.amount >= 0``): compiled to SQL
      and counted and sampled like the SQL form;
    - an ibis scalar: a boolean (true passes) or an integer (the number of failing rows), computed
      in the engine (``lambda t: t.count() > 0``);
    - a Python bool or int, with the same meaning.
    """

    check_type: ClassVar[str] = "expression"
    primary: ClassVar[str | None] = "expression"

    expression: str | Callable[..., Any]

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str | Callable[..., Any]) -> str | Callable[..., Any]:
        if isinstance(value, str):
            parse_condition(value)
        return value

    def default_name(self) -> str:
        if isinstance(self.expression, str):
            text = " ".join(self.expression.split())
            return f"expression({text if len(text) <= 60 else text[:59] + '…'})"
        return f"expression({getattr(self.expression, '__qualname__', repr(self.expression))})"

    def plan(self, ctx: CheckContext) -> Plan:
        if isinstance(self.expression, str):
            condition = ctx.parse(self.expression)
            holds = exp.func("COALESCE", exp.Paren(this=condition), exp.false())
            text = " ".join(self.expression.split())
            return RowsPlan(
                ctx.failing_rows(exp.not_(holds)),
                lambda n: f"{n} row(s) where {text} is not true",
            )
        return self._python(ctx, self.expression)

    def _python(self, ctx: CheckContext, fn: Callable[..., Any]) -> Plan:
        import ibis
        import ibis.expr.types as ir

        table = ctx.ibis_table()
        try:
            value = fn(table)
        except Exception as exc:
            raise CheckSetupError(
                f"the expression function raised {type(exc).__name__}: {exc}"
            ) from exc
        if isinstance(value, ir.BooleanColumn):
            failing = table.filter(~value.fill_null(False))
            query = self._parse_query(ctx, ibis.to_sql(failing, dialect=ctx.dialect))
            return RowsPlan(query, lambda n: f"{n} row(s) where the expression is not true")
        if isinstance(value, ir.BooleanScalar | ir.IntegerScalar):
            query = self._parse_query(ctx, ibis.to_sql(value, dialect=ctx.dialect))
            return ValuePlan(query, _judge)
        if isinstance(value, ir.Expr):
            raise CheckSetupError(
                f"the expression function returned an ibis {type(value).__name__}; {RETURNS}"
            )
        if _is_bool(value) or isinstance(value, numbers.Integral):
            return _judge((value,))
        raise CheckSetupError(
            f"the expression function returned {type(value).__name__} {value!r:.80}; {RETURNS}"
        )

    @staticmethod
    def _parse_query(ctx: CheckContext, sql: str) -> exp.Select:
        import sqlglot

        query = sqlglot.parse_one(sql, dialect=ctx.dialect)
        if not isinstance(query, exp.Select):
            raise CheckSetupError(f"the expression compiled to a {query.key.upper()}, not a query")
        return query


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_"  # numpy.bool_ too


def _judge(row: tuple[Any, ...]) -> Verdict:
    """A bool passes when true; a number counts failing rows."""
    value = row[0]
    if value is None:
        return Verdict.of("the expression returned NULL")
    if _is_bool(value):
        return Verdict.of(None if value else "the expression returned false")
    failing = int(value)
    return Verdict.of(f"{failing} failing row(s)" if failing else None, failing)
