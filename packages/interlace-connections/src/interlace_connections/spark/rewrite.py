"""Row changes as new tables: how DELETE and UPDATE run on plain Spark tables.

Parquet tables of Spark's own catalog have no DELETE, UPDATE or MERGE. Interlace only changes
rows of a table no reader sees yet (the next version of a model, see
:mod:`interlace.materialize.versions`), so a change can be written as a query over the old
rows: the session creates a new table from it and puts it in the old one's place. These
functions are pure: statement in, query out.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

TARGET_ALIAS = "__il_t"
HIT = "__il_hit"


@dataclass(frozen=True)
class Rewrite:
    """A row change as a query: ``kept`` yields the table's rows after the change;
    ``counted`` (a single-row query) counts the rows the change touches."""

    table: exp.Table
    kept: exp.Select
    counted: exp.Select


def _target(statement: exp.Delete | exp.Update) -> tuple[exp.Table, str]:
    target = statement.this
    if not isinstance(target, exp.Table):
        raise ValueError(f"cannot rewrite a change of {target.sql()}")
    alias = target.alias or TARGET_ALIAS
    table = target.copy()
    table.set("alias", None)
    return table, alias


def _aliased(table: exp.Table, alias: str) -> exp.Table:
    out = table.copy()
    out.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
    return out


def _has_subquery(condition: exp.Expr) -> bool:
    return any(condition.find_all(exp.Exists, exp.Subquery, exp.In))


def _holds(condition: exp.Expr) -> exp.Expr:
    """``condition`` is TRUE (not FALSE, not NULL): a row a DELETE/UPDATE would touch."""
    if _has_subquery(condition):  # EXISTS is never NULL; Spark refuses it inside COALESCE
        return exp.paren(condition.copy())
    return exp.Coalesce(this=exp.paren(condition.copy()), expressions=[exp.false()])


def delete_as_query(statement: exp.Delete) -> Rewrite:
    """``DELETE FROM t AS a [USING s AS b] WHERE cond`` as the rows it keeps.

    With USING, a row goes when some row of ``s`` satisfies ``cond`` (a LEFT ANTI JOIN keeps
    the others); without, when ``cond`` holds.
    """
    table, alias = _target(statement)
    where = statement.args.get("where")
    condition: exp.Expr = where.this if where is not None else exp.true()
    source = _aliased(table, alias)
    using = statement.args.get("using") or []
    if using:
        if len(using) != 1:
            raise ValueError("cannot rewrite a DELETE with several USING relations")
        kept = (
            exp.select(exp.Star(table=exp.to_identifier(alias, quoted=True)))
            .from_(source)
            .join(using[0].copy(), on=condition.copy(), join_type="left anti")
        )
        gone = (
            exp.select(exp.Literal.number(1))
            .from_(source.copy())
            .join(using[0].copy(), on=condition.copy(), join_type="left semi")
        )
    else:
        kept = exp.select(exp.Star()).from_(source).where(exp.not_(_holds(condition)))
        gone = exp.select(exp.Literal.number(1)).from_(source.copy()).where(_holds(condition))
    counted = exp.select(exp.Count(this=exp.Star())).from_(
        exp.Subquery(this=gone, alias=exp.TableAlias(this=exp.to_identifier("__il_gone")))
    )
    return Rewrite(table, kept, counted)


def _qualified(expression: exp.Expr, alias: str) -> exp.Expr:
    """Unqualified columns of an assignment's value name the target's columns."""
    expression = expression.copy()
    for column in expression.find_all(exp.Column):
        if not column.table:
            column.set("table", exp.to_identifier(alias, quoted=True))
    return expression


def update_as_query(statement: exp.Update, columns: list[str]) -> Rewrite:
    """``UPDATE t AS a SET c = e, ... [FROM s AS m] WHERE cond`` as the rows after it.

    ``columns``: the target's columns, in order. With FROM, each target row joins at most one
    row of ``s`` (Interlace's updates match by primary key): rows that found one take the new
    values.
    """
    table, alias = _target(statement)
    where = statement.args.get("where")
    condition: exp.Expr = where.this if where is not None else exp.true()
    assigned: dict[str, exp.Expr] = {}
    for assignment in statement.expressions:
        target = assignment.this
        name = target.name if isinstance(target, exp.Column) else str(target)
        assigned[name] = _qualified(assignment.expression, alias)
    source = _aliased(table, alias)
    relation = statement.args.get("from_") or statement.args.get("from")
    if relation is not None:
        other = relation.this.copy()
        other_alias = other.alias
        if not other_alias:
            raise ValueError("cannot rewrite an UPDATE ... FROM without an alias for the source")
        flagged = exp.Subquery(
            this=exp.select(exp.Star(), exp.alias_(exp.true(), HIT)).from_(other),
            alias=exp.TableAlias(this=exp.to_identifier(other_alias, quoted=True)),
        )
        hit: exp.Expr = exp.Coalesce(
            this=exp.column(HIT, table=exp.to_identifier(other_alias, quoted=True)),
            expressions=[exp.false()],
        )
        base = exp.select().from_(source).join(flagged, on=condition.copy(), join_type="left")
    else:
        hit = _holds(condition)
        base = exp.select().from_(source)
    projections = []
    for name in columns:
        old = exp.column(
            exp.to_identifier(name, quoted=True), table=exp.to_identifier(alias, quoted=True)
        )
        value = assigned.get(name)
        if value is None:
            projections.append(exp.alias_(old, exp.to_identifier(name, quoted=True)))
        else:
            case = exp.Case(ifs=[exp.If(this=hit.copy(), true=value.copy())], default=old)
            projections.append(exp.alias_(case, exp.to_identifier(name, quoted=True)))
    kept = base.copy().select(*projections)
    touched = base.copy().select(exp.Literal.number(1)).where(hit.copy())
    counted = exp.select(exp.Count(this=exp.Star())).from_(
        exp.Subquery(this=touched, alias=exp.TableAlias(this=exp.to_identifier("__il_hits")))
    )
    return Rewrite(table, kept, counted)
