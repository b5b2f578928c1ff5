"""An SQL model compiled for one run: references rewritten to where each upstream lives
(tables, inlined CTEs, in-run tables, cursor-filtered sources).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from interlace import statements as st
from interlace.errors import ModelExecutionError
from interlace.file_paths import anchor_file_table, anchor_reader, is_reader
from interlace.incremental import CursorFilters
from interlace.sql_cache import LazyQueries
from interlace.strategies import get_strategy
from interlace.types import to_sql_type

if TYPE_CHECKING:
    from interlace.engines.base import Session
    from interlace.materialize.catalog import RunCatalog
    from interlace.outputs import Source
    from interlace.spec import ModelSpec


def compile_sql(spec: ModelSpec, catalog: RunCatalog, session: Session | None = None) -> exp.Expr:
    """The model's query with model references pointing at their relations for this run.

    With a ``session``, an incremental model's upstream tables are filtered by its cursor.
    """
    ctes: dict[str, exp.Expr] = {}
    filters = CursorFilters(spec, catalog, session) if session and spec.options.cursor else None
    query = _rewrite(spec, catalog, ctes, filters)
    if filters is not None:
        filters.check()
    if ctes and isinstance(query, exp.Query):
        new = [
            exp.CTE(this=body, alias=exp.TableAlias(this=exp.to_identifier(name, quoted=True)))
            for name, body in ctes.items()
        ]
        existing = query.args.get("with_")
        if existing is not None:
            existing.set("expressions", new + list(existing.expressions))
        else:
            query.set("with_", exp.With(expressions=new))
    return query


def _cte_name(name: str) -> str:
    return f"__il_eph_{name}"


def _rewrite(
    spec: ModelSpec,
    catalog: RunCatalog,
    ctes: dict[str, exp.Expr],
    filters: CursorFilters | None = None,
) -> exp.Expr:
    project = catalog.project
    queries = project.queries
    # the tree is rewritten in place: a fresh parse (cheaper than a copy) or a copy
    query = (
        queries.fresh(spec.name) if isinstance(queries, LazyQueries) else queries[spec.name].copy()
    )
    own_ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}

    def transform(node: exp.Expr) -> exp.Expr:
        if is_reader(node):  # read_csv('seeds/x.csv'): the project's file, wherever we run
            return anchor_reader(node, project.root)
        if not isinstance(node, exp.Table) or not node.name or isinstance(node.this, exp.Func):
            return node
        if not node.db and node.name.lower() in own_ctes:
            return node
        ref = st.reference(node)
        target_name = project.lookup(ref)
        if target_name is None:  # no model: a table loaded outside Interlace, or a file
            node = anchor_file_table(node, project.root)
            return _filtered_source(node, filters) if filters is not None else node
        if target_name == spec.name:
            return node
        target = project.models[target_name]
        alias = node.alias or node.name
        if catalog.is_inline(target):
            cte = _cte_name(target.name)
            if cte not in ctes:
                body = _rewrite(target, catalog, ctes)
                ctes[cte] = body
            replacement = exp.Table(this=exp.to_identifier(cte, quoted=True))
        else:
            replacement = catalog.read_relation(target, spec)
            predicate = filters.predicate(target) if filters is not None else None
            if predicate is not None:
                filtered = exp.select("*").from_(replacement).where(predicate)
                return exp.Subquery(
                    this=filtered,
                    alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)),
                )
        return exp.alias_(replacement, exp.to_identifier(alias, quoted=True), table=True)

    return query.transform(transform, copy=False)


def _filtered_source(node: exp.Table, filters: CursorFilters) -> exp.Expr:
    """A table that is no model, read by an incremental model: only its rows after the
    watermark when it has the cursor column (as any upstream model's)."""
    table = exp.Table(
        this=node.this.copy(),
        db=node.args["db"].copy() if node.args.get("db") else None,
        catalog=node.args["catalog"].copy() if node.args.get("catalog") else None,
    )
    predicate = filters.source_predicate(table)
    if predicate is None:
        return node
    alias = node.args.get("alias")
    return exp.Subquery(
        this=exp.select("*").from_(table).where(predicate),
        alias=alias.copy() if alias is not None else exp.TableAlias(this=node.this.copy()),
    )


def project_result(source: Source, spec: ModelSpec, session: Session) -> exp.Expr:
    """Apply column_mapping, fields (casts) and strict to the source query."""
    opts = spec.options
    if not (opts.fields or opts.column_mapping or opts.strict):
        return source.query
    columns = source.columns
    if columns is None:
        sample = session.fetch_arrow(
            exp.select("*").from_(source.query.subquery("__il_src")).limit(0)
        )
        columns = sample.column_names
    missing = [c for c in opts.column_mapping if c not in columns]
    if missing:
        raise ModelExecutionError(
            f"column_mapping renames {missing}, which the result does not have",
            model=spec.name,
            hint=f"result columns: {', '.join(columns)}",
        )
    select: list[exp.Expr] = []
    produced: list[str] = []
    for col in columns:
        out = opts.column_mapping.get(col, col)
        if opts.strict and out not in opts.fields:
            continue
        value: exp.Expr = st.column(col)
        if out in opts.fields:
            value = exp.cast(value, to_sql_type(opts.fields[out]))
        select.append(exp.alias_(value, exp.to_identifier(out, quoted=True)))
        produced.append(out)
    for name, declared in opts.fields.items():
        if name not in produced:  # declared but absent: a typed NULL column
            select.append(
                exp.alias_(
                    exp.cast(exp.null(), to_sql_type(declared)),
                    exp.to_identifier(name, quoted=True),
                )
            )
    return exp.select(*select).from_(source.query.subquery("__il_src"))


def columns_of(query: exp.Expr, source: Source, spec: ModelSpec, session: Session) -> list[str]:
    opts = spec.options
    if source.columns is not None and not (opts.fields or opts.column_mapping or opts.strict):
        return list(source.columns)
    sample = session.fetch_arrow(
        exp.select("*")
        .from_(exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier("__il_cols"))))
        .limit(0)
    )
    return list(sample.column_names)


def relation_of(catalog: RunCatalog, ref: str, connection: str) -> exp.Expr | None:
    """Where model ``ref`` (name or ``schema.name``) is read by a query on ``connection``
    during this run: its table or view, or its query when it is inlined. None when ``ref``
    is no model of the project. Quality checks resolve referenced models with it."""
    project = catalog.project
    name = ref if ref in project.models else project.aliases.get(ref)
    name = name or project.aliases.get(ref.lower())
    if name is None:
        return None
    spec = project.models[name]
    if spec.connection != connection:
        raise ModelExecutionError(
            f"model '{name}' lives on connection '{spec.connection}', not '{connection}'",
            hint="a query reads models of its own connection only",
        )
    if catalog.is_inline(spec):
        return exp.Subquery(
            this=compile_sql(spec, catalog),
            alias=exp.TableAlias(this=exp.to_identifier(_cte_name(name), quoted=True)),
        )
    if catalog.is_in_run(spec) and name not in catalog.in_run:
        raise ModelExecutionError(
            f"model '{name}' exists only while it runs with its consumers",
            hint="materialize it as a table or view to read it from elsewhere",
        )
    if spec.materialize == "none" or not get_strategy(spec.strategy).writes:
        raise ModelExecutionError(
            f"model '{name}' writes no table (materialize '{spec.materialize}', "
            f"strategy '{spec.strategy}')"
        )
    fallback = catalog.fallbacks.table(connection, name)
    return fallback if fallback is not None else catalog.target_of(spec)
