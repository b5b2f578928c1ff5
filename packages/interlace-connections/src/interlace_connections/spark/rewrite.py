"""Row changes as new tables: how DELETE, UPDATE, MERGE and a column's new type run on plain
Spark tables.

Parquet tables of Spark's own catalog have no DELETE, UPDATE or MERGE, and ALTER COLUMN
cannot change a column's type. Interlace only changes
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
    ``counted`` (a single-row query) counts the rows the change touches (None: the change
    applies even to an empty table, a column's new type)."""

    table: exp.Table
    kept: exp.Select
    counted: exp.Select | None


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


def _source(statement: exp.Merge) -> exp.Expr:
    using = statement.args.get("using")
    if not isinstance(using, (exp.Table, exp.Subquery)) or not using.alias:
        raise ValueError("cannot rewrite a MERGE whose source has no alias")
    return using.copy()


def merge_as_query(statement: exp.Merge, columns: list[str]) -> Rewrite:
    """``MERGE INTO t AS a USING s AS b ON cond WHEN MATCHED THEN UPDATE SET ... | DELETE
    WHEN NOT MATCHED THEN INSERT (...) VALUES (...)`` as the rows after it.

    ``columns``: the target's columns, in order. The rows after it are the target rows no
    source row matches, the matched rows as the WHEN MATCHED clause leaves them (updated, or
    gone), and the source rows no target row matches as the WHEN NOT MATCHED clause inserts
    them. Each source row matches at most one target row (Interlace merges by primary key).
    WHEN clauses with conditions of their own are not rewritten (ValueError).
    """
    table, alias = _target(statement)  # type: ignore[arg-type]
    source = _source(statement)
    condition = statement.args["on"]
    whens = statement.args.get("whens")
    matched: exp.Expr | None = None
    inserted: exp.Insert | None = None
    for when in whens.expressions if whens is not None else []:
        if when.args.get("condition") is not None or when.args.get("source"):
            raise ValueError("cannot rewrite a MERGE with conditional or BY SOURCE clauses")
        if when.args.get("matched"):
            matched = when.args["then"]
        else:
            inserted = when.args["then"]
    target = _aliased(table, alias)
    a = exp.to_identifier(alias, quoted=True)
    parts: list[exp.Select] = [
        exp.select(*[exp.column(exp.to_identifier(c, quoted=True), table=a) for c in columns])
        .from_(target.copy())
        .join(source.copy(), on=condition.copy(), join_type="left anti")
    ]
    touched: list[exp.Select] = []
    if isinstance(matched, exp.Update):
        assigned = {
            (e.this.name if isinstance(e.this, exp.Column) else str(e.this)): _qualified(
                e.expression, alias
            )
            for e in matched.expressions
        }
        projections = [
            exp.alias_(
                assigned.get(c) or exp.column(exp.to_identifier(c, quoted=True), table=a),
                exp.to_identifier(c, quoted=True),
            )
            for c in columns
        ]
        parts.append(
            exp.select(*projections)
            .from_(target.copy())
            .join(source.copy(), on=condition.copy(), join_type="inner")
        )
    elif matched is None:  # matched rows stay as they are
        parts.append(
            exp.select(*[exp.column(exp.to_identifier(c, quoted=True), table=a) for c in columns])
            .from_(target.copy())
            .join(source.copy(), on=condition.copy(), join_type="left semi")
        )
    if matched is not None:
        touched.append(
            exp.select(exp.Literal.number(1))
            .from_(target.copy())
            .join(source.copy(), on=condition.copy(), join_type="inner")
        )
    if inserted is not None:
        names = [c.name for c in inserted.this.expressions]
        values = dict(zip(names, inserted.expression.expressions, strict=True))
        new_rows = (
            exp.select(
                *[
                    exp.alias_(
                        values[c].copy() if c in values else exp.null(),
                        exp.to_identifier(c, quoted=True),
                    )
                    for c in columns
                ]
            )
            .from_(source.copy())
            .join(target.copy(), on=condition.copy(), join_type="left anti")
        )
        parts.append(new_rows)
        touched.append(
            exp.select(exp.Literal.number(1))
            .from_(source.copy())
            .join(target.copy(), on=condition.copy(), join_type="left anti")
        )
    kept: exp.Query = parts[0]
    for part in parts[1:]:
        kept = exp.union(kept, part, distinct=False)
    if touched:
        hits: exp.Query = touched[0]
        for part in touched[1:]:
            hits = exp.union(hits, part, distinct=False)
    else:
        hits = exp.select(exp.Literal.number(1)).where(exp.false())
    counted = exp.select(exp.Count(this=exp.Star())).from_(
        exp.Subquery(this=hits, alias=exp.TableAlias(this=exp.to_identifier("__il_hits")))
    )
    wrapped = exp.select(exp.Star()).from_(
        exp.Subquery(this=kept, alias=exp.TableAlias(this=exp.to_identifier("__il_merged")))
    )
    return Rewrite(table, wrapped, counted)


def retype_as_query(statement: exp.Alter, columns: list[str]) -> Rewrite | None:
    """``ALTER TABLE t ALTER COLUMN c TYPE x`` (one or more) as the table's rows with the
    columns cast; None when the statement changes something else (Spark runs it itself)."""
    actions = statement.args.get("actions") or []
    if not actions or not all(
        isinstance(a, exp.AlterColumn) and a.args.get("dtype") is not None for a in actions
    ):
        return None
    table = statement.this.copy()
    retyped = {a.this.name: a.args["dtype"] for a in actions}
    projections = [
        exp.alias_(
            exp.cast(exp.column(exp.to_identifier(c, quoted=True)), retyped[c].copy())
            if c in retyped
            else exp.column(exp.to_identifier(c, quoted=True)),
            exp.to_identifier(c, quoted=True),
        )
        for c in columns
    ]
    return Rewrite(table, exp.select(*projections).from_(table.copy()), None)
