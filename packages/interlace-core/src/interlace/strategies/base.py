"""The strategy interface: (staged relation, target, spec, capabilities) -> statements.

A strategy never runs anything. It returns :class:`Step` objects (sqlglot ASTs) that the
materializer runs in one transaction; a step may ask for its result to be recorded as row
counts (a DML statement's affected rows, or a SELECT returning named counts).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

if TYPE_CHECKING:
    from interlace.engines.base import Capabilities, Column
    from interlace.spec import ModelSpec


@dataclass(frozen=True)
class Step:
    statement: exp.Expr
    record: tuple[str, ...] = ()  # names for the counts this statement returns


@dataclass(frozen=True)
class PublishContext:
    """Everything a strategy may look at to decide its statements."""

    spec: ModelSpec
    target: exp.Table
    target_name: str
    staging: exp.Table
    target_kind: str | None  # 'table', 'view' or None when absent
    staged_columns: list[Column]
    target_columns: list[Column]
    capabilities: Capabilities
    dialect: str
    run_ts: dt.datetime

    @property
    def keys(self) -> tuple[str, ...]:
        return self.spec.options.primary_key

    @property
    def staged_names(self) -> list[str]:
        return [c.name for c in self.staged_columns]


class Strategy(ABC):
    """Turns a staged result into the statements that publish it."""

    name: str
    writes: bool = True  # False: the model's output is not written at all
    needs_keys: bool = False

    def keyed(self, spec: ModelSpec) -> bool:
        """Whether the batch must carry unique, non-NULL ``primary_key`` values."""
        return self.needs_keys

    def staged_extras(self, spec: ModelSpec, run_ts: dt.datetime) -> list[tuple[str, exp.Expr]]:
        """Bookkeeping columns added to the staged result (SCD2 validity, soft-delete flags)."""
        return []

    def bookkeeping(self, spec: ModelSpec) -> frozenset[str]:
        """Names of the columns this strategy manages itself."""
        return frozenset(name for name, _ in self.staged_extras(spec, _EPOCH))

    @abstractmethod
    def steps(self, ctx: PublishContext) -> list[Step]: ...

    def finish_stats(self, stats: dict[str, int]) -> dict[str, int]:
        """Turn the counts the steps recorded into inserted / updated / deleted."""
        return stats


_EPOCH = dt.datetime(1970, 1, 1)


def timestamp(value: dt.datetime) -> exp.Expr:
    return exp.cast(exp.Literal.string(value.strftime("%Y-%m-%d %H:%M:%S.%f")), "TIMESTAMP")


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(
        exp.to_identifier(name, quoted=True),
        table=exp.to_identifier(table, quoted=True) if table else None,
    )


def keys_equal(keys: tuple[str, ...], left: str, right: str) -> exp.Expr:
    condition: exp.Expr | None = None
    for key in keys:
        term = exp.EQ(this=col(key, left), expression=col(key, right))
        condition = term if condition is None else exp.and_(condition, term)
    assert condition is not None
    return condition


def exists_in(source: exp.Table, keys: tuple[str, ...], outer: str) -> exp.Exists:
    """``EXISTS (SELECT 1 FROM source AS __s WHERE __s.k = outer.k ...)``."""
    query = (
        exp.select(exp.Literal.number(1))
        .from_(exp.alias_(source.copy(), "__s", table=True))
        .where(keys_equal(keys, "__s", outer))
    )
    return exp.Exists(this=query)


def aliased(table: exp.Table, alias: str) -> exp.Expr:
    return exp.alias_(table.copy(), exp.to_identifier(alias, quoted=True), table=True)


def count_where(condition: exp.Expr) -> exp.Expr:
    """``COALESCE(SUM(CASE WHEN cond THEN 1 ELSE 0 END), 0)``: portable conditional count."""
    case = exp.Case(
        ifs=[exp.If(this=condition, true=exp.Literal.number(1))], default=exp.Literal.number(0)
    )
    return exp.Coalesce(this=exp.Sum(this=case), expressions=[exp.Literal.number(0)])


# Joins, not correlated subqueries: DuckDB runs `UPDATE ... WHERE EXISTS (...)` with an extra
# predicate an order of magnitude slower than the same work written as UPDATE ... FROM /
# DELETE ... USING (measured on DuckDB 1.5; PostgreSQL accepts both forms too).


def delete_matching(
    target: exp.Table, source: exp.Table, keys: tuple[str, ...], extra: exp.Expr | None = None
) -> exp.Delete:
    """``DELETE FROM target AS t USING source AS __s WHERE keys match [AND extra]``."""
    condition = keys_equal(keys, "__s", "t")
    if extra is not None:
        condition = exp.and_(condition, exp.paren(extra))
    return exp.Delete(
        this=aliased(target, "t"),
        using=[aliased(source, "__s")],
        where=exp.Where(this=condition),
    )


def missing_keys(
    target: exp.Table, batch: exp.Table, keys: tuple[str, ...], where: exp.Expr | None = None
) -> exp.Select:
    """Keys of ``target`` rows (alias ``x``) that ``batch`` does not have."""
    query = (
        exp.select(*[col(k, "x") for k in keys])
        .from_(aliased(target, "x"))
        .join(aliased(batch, "__b"), on=keys_equal(keys, "__b", "x"), join_type="left")
        .where(exp.Is(this=col(keys[0], "__b"), expression=exp.null()))
    )
    return query.where(where) if where is not None else query


def update_matching(
    target: exp.Table,
    source: exp.Expr,
    keys: tuple[str, ...],
    assignments: Sequence[exp.Expr],
    extra: exp.Expr | None = None,
) -> exp.Update:
    """``UPDATE target AS t SET ... FROM source AS __m WHERE keys match [AND extra]``."""
    if isinstance(source, exp.Table):
        relation: exp.Expr = aliased(source, "__m")
    else:
        relation = exp.Subquery(this=source, alias=exp.TableAlias(this=exp.to_identifier("__m")))
    condition = keys_equal(keys, "__m", "t")
    if extra is not None:
        condition = exp.and_(condition, exp.paren(extra))
    return exp.Update(
        this=aliased(target, "t"),
        expressions=list(assignments),
        from_=exp.From(this=relation),
        where=exp.Where(this=condition),
    )


NEW_FLAG = "__il_new"
GONE_FLAG = "__il_gone"


def change_set(diff: exp.Table, select: exp.Select, *, gone: bool = False) -> list[Step]:
    """Store new and changed rows (flagged ``__il_new``) in a temporary table, and count them
    as ``inserted`` / ``updated``. ``gone``: the select also yields the table's rows whose key
    the batch lacks (flagged ``__il_gone``), counted as ``deleted``."""
    changed: exp.Expr = exp.not_(col(NEW_FLAG))
    counts = [exp.alias_(count_where(col(NEW_FLAG)), "inserted")]
    if gone:
        changed = exp.and_(changed, exp.not_(col(GONE_FLAG)))
    counts.append(exp.alias_(count_where(changed), "updated"))
    if gone:
        counts.append(exp.alias_(count_where(col(GONE_FLAG)), "deleted"))
    return [
        Step(
            exp.Create(
                this=diff,
                kind="TABLE",
                expression=select,
                properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
            )
        ),
        Step(
            exp.select(*counts).from_(diff.copy()),
            tuple(str(c.alias) for c in counts),
        ),
    ]
