"""sqlglot AST builders for the statements strategies and materializations emit.

Nothing here renders SQL: an engine renders these in its own dialect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

if TYPE_CHECKING:
    from collections.abc import Sequence


def table(schema: str, name: str) -> exp.Table:
    """``schema.name``; a ``database.schema`` (a model in an attached database) gives
    ``database.schema.name``."""
    catalog, _, db = schema.rpartition(".")
    return exp.table_(
        exp.to_identifier(name, quoted=True),
        db=exp.to_identifier(db, quoted=True),
        catalog=exp.to_identifier(catalog, quoted=True) if catalog else None,
    )


def schema_of(target: exp.Table) -> str:
    """The schema :func:`table` was given: ``schema``, or ``database.schema``."""
    return f"{target.catalog}.{target.db}" if target.catalog else target.db


def reference(target: exp.Table) -> str:
    """How a query names ``target``: ``name``, ``schema.name`` or ``database.schema.name``."""
    return ".".join(part for part in (target.catalog, target.db, target.name) if part)


def _schema(schema: str) -> exp.Table:
    catalog, _, db = schema.rpartition(".")
    return exp.Table(
        db=exp.to_identifier(db, quoted=True),
        catalog=exp.to_identifier(catalog, quoted=True) if catalog else None,
    )


def column(name: str) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True))


def create_schema(schema: str) -> exp.Create:
    return exp.Create(this=_schema(schema), kind="SCHEMA", exists=True)


def drop_schema(schema: str) -> exp.Drop:
    return exp.Drop(
        tables=[_schema(schema)],
        kind="SCHEMA",
        exists=True,
        cascade=True,
    )


def _temporary(temporary: bool) -> exp.Properties | None:
    return exp.Properties(expressions=[exp.TemporaryProperty()]) if temporary else None


def create_table_as(
    target: exp.Table, query: exp.Expr, *, replace: bool = False, temporary: bool = False
) -> exp.Create:
    return exp.Create(
        this=target,
        kind="TABLE",
        expression=query,
        replace=replace,
        properties=_temporary(temporary),
    )


def create_table(
    target: exp.Table, columns: Sequence[tuple[str, exp.DataType]], *, temporary: bool = False
) -> exp.Create:
    schema = exp.Schema(
        this=target,
        expressions=[
            exp.ColumnDef(this=exp.to_identifier(name, quoted=True), kind=dtype)
            for name, dtype in columns
        ],
    )
    return exp.Create(this=schema, kind="TABLE", properties=_temporary(temporary))


def create_view(target: exp.Table, query: exp.Expr) -> exp.Create:
    return exp.Create(this=target, kind="VIEW", expression=query, replace=True)


def drop(target: exp.Table, kind: str = "TABLE") -> exp.Drop:
    return exp.Drop(tables=[target], kind=kind, exists=True)


def rename(source: exp.Table, new_name: str) -> exp.Alter:
    return exp.Alter(
        this=source,
        kind="TABLE",
        actions=[exp.AlterRename(this=exp.to_identifier(new_name, quoted=True))],
    )


def rename_tables(pairs: list[tuple[exp.Table, exp.Table]], dialect: str) -> exp.Command:
    """``RENAME TABLE a TO b, c TO d``: MySQL's multi-table rename, one atomic statement (sqlglot
    has no node for it: a command whose text :func:`renamed_tables` reads back)."""
    text = ", ".join(f"{a.sql(dialect=dialect)} TO {b.sql(dialect=dialect)}" for a, b in pairs)
    return exp.Command(this="RENAME", expression=exp.Literal.string(f"TABLE {text}"))


def renamed_tables(statement: exp.Expr, dialect: str) -> list[tuple[exp.Table, exp.Table]] | None:
    """The ``(old, new)`` pairs of a :func:`rename_tables` statement, or None for any other."""
    if not (isinstance(statement, exp.Command) and statement.name.upper() == "RENAME"):
        return None
    text = statement.text("expression").strip()
    if not text.upper().startswith("TABLE "):
        return None
    pairs = []
    for pair in text[len("TABLE ") :].split(", "):
        old, _, new = pair.partition(" TO ")
        pairs.append((exp.to_table(old, dialect=dialect), exp.to_table(new, dialect=dialect)))
    return pairs


def rename_swap(target: exp.Table, staging: exp.Table, retired: str, dialect: str) -> exp.Command:
    """``RENAME TABLE target TO retired, staging TO target``: both names swap at once (readers
    see the old table or the new). ``retired`` is a name in the target's schema."""
    old = exp.table_(exp.to_identifier(retired, quoted=True), db=target.args.get("db"))
    return rename_tables([(target, old), (staging, target)], dialect)


def add_column(target: exp.Table, name: str, dtype: exp.DataType) -> exp.Alter:
    return exp.Alter(
        this=target,
        kind="TABLE",
        actions=[exp.ColumnDef(this=exp.to_identifier(name, quoted=True), kind=dtype)],
    )


def alter_type(
    target: exp.Table, name: str, dtype: exp.DataType, *, try_cast: bool = False
) -> exp.Alter:
    """``ALTER TABLE t ALTER COLUMN c TYPE dtype [USING TRY_CAST(c AS dtype)]``."""
    using = exp.TryCast(this=column(name), to=dtype.copy()) if try_cast else None
    return exp.Alter(
        this=target.copy(),
        kind="TABLE",
        actions=[
            exp.AlterColumn(this=exp.to_identifier(name, quoted=True), dtype=dtype, using=using)
        ],
    )


def select_all(source: exp.Table | str) -> exp.Select:
    src = exp.to_table(source) if isinstance(source, str) else source
    return exp.select("*").from_(src)


def insert_select(target: exp.Table, source: exp.Table, columns: Sequence[str]) -> exp.Insert:
    query = exp.select(*[column(c) for c in columns]).from_(source)
    return exp.Insert(
        this=exp.Schema(
            this=target, expressions=[exp.to_identifier(c, quoted=True) for c in columns]
        ),
        expression=query,
    )


def insert_query(target: exp.Table, columns: Sequence[str], query: exp.Expr) -> exp.Insert:
    return exp.Insert(
        this=exp.Schema(
            this=target.copy(), expressions=[exp.to_identifier(c, quoted=True) for c in columns]
        ),
        expression=query,
    )


def count_rows(source: exp.Table) -> exp.Select:
    return exp.select(exp.Count(this=exp.Star())).from_(source)
