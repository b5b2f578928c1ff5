"""``relationships``: every value of a column exists in a column of another model or table."""

from __future__ import annotations

from typing import ClassVar

from interlace.errors import InterlaceError
from sqlglot import exp

from interlace_quality.checks.base import (
    BaseCheck,
    CheckContext,
    CheckSetupError,
    Plan,
    RowsPlan,
    aliased,
    columns_of,
    engine_message,
)

PARENT = "parent"


class Relationships(BaseCheck):
    """``{"relationships": {"column": "customer_id", "to": "customers", "field": "id"}}``.

    ``to`` names a model of the project (``customers`` or ``schema.customers``), read where this
    run sees it; a dotted name that is no model is read as a table (``raw.customers``).
    ``field`` defaults to ``column``. NULL is not checked. A model named in ``to`` becomes an
    upstream of the checked model, so the check reads its data of the same run.
    """

    check_type: ClassVar[str] = "relationships"

    column: str
    to: str
    field: str | None = None

    @property
    def references(self) -> tuple[str, ...]:
        """Core runs the model after ``to`` when ``to`` is a model of the project."""
        return (self.to,)

    @property
    def parent_field(self) -> str:
        return self.field or self.column

    def default_name(self) -> str:
        return f"relationships({self.column} -> {self.to}.{self.parent_field})"

    def needs(self) -> tuple[str, ...]:
        return (self.column,)

    def parent(self, ctx: CheckContext) -> exp.Expr:
        try:
            found = ctx.resolve(self.to) if ctx.resolve is not None else None
        except InterlaceError as exc:
            raise CheckSetupError(f"cannot read '{self.to}': {exc.message}") from None
        if found is not None:
            return found
        schema, _, name = self.to.rpartition(".")
        if not schema or not name:
            raise CheckSetupError(
                f"'{self.to}' is not a model of the project; name a model, or a table outside "
                "the project as schema.table"
            )
        return exp.table_(
            exp.to_identifier(name, quoted=True), db=exp.to_identifier(schema, quoted=True)
        )

    def plan(self, ctx: CheckContext) -> Plan:
        parent = self.parent(ctx)
        try:
            parent_schema = columns_of(ctx.session, parent)
        except Exception as exc:
            raise CheckSetupError(f"cannot read '{self.to}': {engine_message(exc)}") from None
        field = ctx.column_name(self.parent_field, parent_schema, what=f"'{self.to}'")
        parent_node = aliased(parent, PARENT)
        child = ctx.column(self.column)
        matches = (
            exp.select(exp.Literal.number(1))
            .from_(parent_node)
            .where(
                exp.EQ(
                    this=exp.column(
                        exp.to_identifier(field, quoted=True), table=exp.to_identifier(PARENT)
                    ),
                    expression=child.copy(),
                )
            )
        )
        condition = exp.and_(
            exp.not_(exp.Is(this=child, expression=exp.null())),
            exp.not_(exp.Exists(this=matches)),
        )
        target = f"{self.to}.{self.parent_field}"
        return RowsPlan(
            ctx.failing_rows(condition),
            lambda n: f"{n} row(s) have a {self.column} that is not in {target}",
        )
