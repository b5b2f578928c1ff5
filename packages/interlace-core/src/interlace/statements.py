"""sqlglot AST builders for the statements strategies and materializations emit.

Nothing here renders SQL: an engine renders these in its own dialect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

if TYPE_CHECKING:
    from collections.abc import Sequence


def table(schema: str, name: str) -> exp.Table:
    return exp.table_(
        exp.to_identifier(name, quoted=True), db=exp.to_identifier(schema, quoted=True)
    )


def column(name: str) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True))


def create_schema(schema: str) -> exp.Create:
    return exp.Create(
        this=exp.Table(db=exp.to_identifier(schema, quoted=True)), kind="SCHEMA", exists=True
    )


def drop_schema(schema: str) -> exp.Drop:
    return exp.Drop(
        tables=[exp.Table(db=exp.to_identifier(schema, quoted=True))],
        kind="SCHEMA",
        exists=True,
        cascade=True,
    )


def create_table_as(target: exp.Table, query: exp.Expr, *, replace: bool = False) -> exp.Create:
    return exp.Create(this=target, kind="TABLE", expression=query, replace=replace)


def create_table(target: exp.Table, columns: Sequence[tuple[str, exp.DataType]]) -> exp.Create:
    schema = exp.Schema(
        this=target,
        expressions=[
            exp.ColumnDef(this=exp.to_identifier(name, quoted=True), kind=dtype)
            for name, dtype in columns
        ],
    )
    return exp.Create(this=schema, kind="TABLE")


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
