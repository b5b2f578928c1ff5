"""Column lineage: which upstream columns each column of a model is computed from (SPEC §13.1).

SQL models are read with sqlglot: the query is qualified against the columns known for the
tables it reads (so ``select *`` expands), then every output column is traced through CTEs,
derived tables, joins, unions, aggregates and window functions down to the columns of the
tables it reads. Python models that return an ibis expression are traced the same way from the
SQL ibis compiles, recorded when the model runs (planning never executes user code); other
Python models declare their columns' sources in ``fields`` or are marked unknown.

Nothing here raises for a query it cannot follow: the lineage is then ``unknown`` with the
reason, so ``interlace plan`` and ``interlace docs`` never stop on one odd model.

Example::

    lineage = sql_lineage(
        sqlglot.parse_one("select o.id, sum(o.amount) as total from orders o group by 1"),
        "duckdb",
        resolve=lambda table: table.name,
        upstream_columns={"orders": {"id": "INTEGER", "amount": "DOUBLE"}},
    )
    lineage.column("total").sources  # (SourceColumn(model='orders', column='amount'),)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from sqlglot import exp

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from sqlglot.optimizer.scope import Scope

LineageStatus = Literal["known", "partial", "unknown"]
# how a column is made from its sources
Transform = Literal["direct", "renamed", "derived", "aggregate", "window", "constant"]
TypeFound = tuple[str | None, bool]  # a column's type, and whether sqlglot inferred it
_NO_TYPE: TypeFound = (None, False)
LINEAGE_FORMAT = 3  # bump when the traced result changes for the same SQL


@dataclass(frozen=True, order=True)
class SourceColumn:
    """One upstream column: ``model`` is a model name, or ``schema.table`` of a table outside
    the project."""

    model: str
    column: str

    def __str__(self) -> str:
        return f"{self.model}.{self.column}"


@dataclass(frozen=True)
class ColumnLineage:
    """One output column of a model and the upstream columns it is computed from."""

    name: str
    sources: tuple[SourceColumn, ...] = ()
    transform: Transform = "derived"
    type: str | None = None  # the SQL type, where the query says it (a cast, a typed source)
    description: str | None = None
    # True: ``type`` is sqlglot's inference for an expression (``sum(x)``, ``a || b``): its
    # family (integer, text, temporal...) is reliable, its exact width is not
    inferred: bool = False


@dataclass(frozen=True)
class ModelLineage:
    """The column lineage of one model version.

    ``status`` is ``known`` (every column traced), ``partial`` (some columns or a ``*`` could
    not be traced: ``reason`` says why) or ``unknown`` (nothing traced: ``reason`` says why).
    ``origin`` says where it came from: ``sql``, ``ibis`` (recorded at run time), ``declared``
    (``fields`` of a Python model) or ``none``.
    """

    model: str
    status: LineageStatus
    columns: tuple[ColumnLineage, ...] = ()
    reason: str | None = None
    origin: str = "sql"
    tables: tuple[str, ...] = field(default=())  # the upstream models and tables it reads

    def column(self, name: str) -> ColumnLineage | None:
        """The column named ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "status": self.status,
            "reason": self.reason,
            "origin": self.origin,
            "tables": list(self.tables),
            "columns": [
                {
                    "name": c.name,
                    "transform": c.transform,
                    "type": c.type,
                    "type_inferred": c.inferred,
                    "description": c.description,
                    "sources": [{"model": s.model, "column": s.column} for s in c.sources],
                }
                for c in self.columns
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelLineage:
        return cls(
            model=data["model"],
            status=data["status"],
            reason=data.get("reason"),
            origin=data.get("origin", "sql"),
            tables=tuple(data.get("tables", ())),
            columns=tuple(
                ColumnLineage(
                    name=c["name"],
                    transform=c.get("transform", "derived"),
                    type=c.get("type"),
                    inferred=bool(c.get("type_inferred", False)),
                    description=c.get("description"),
                    sources=tuple(SourceColumn(s["model"], s["column"]) for s in c["sources"]),
                )
                for c in data["columns"]
            ),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def unknown(model: str, reason: str, origin: str = "none") -> ModelLineage:
    """Lineage that could not be traced, with the reason (shown wherever lineage is)."""
    return ModelLineage(model=model, status="unknown", reason=reason, origin=origin)


def lineage_key(definition: str, upstream_columns: Mapping[str, Mapping[str, str | None]]) -> str:
    """What a model's lineage depends on: its definition and the columns of what it reads (a
    ``select *`` expands to them). Equal keys mean the stored lineage still holds."""
    digest = hashlib.sha256(f"{LINEAGE_FORMAT}\0{definition}".encode())
    for name in sorted(upstream_columns):
        digest.update(f"\0{name}:".encode())
        digest.update(json.dumps(list(upstream_columns[name].items())).encode())
    return digest.hexdigest()[:32]


# ---------------------------------------------------------------------------------- SQL


def sql_lineage(
    query: exp.Expr,
    dialect: str,
    *,
    model: str = "",
    resolve: Callable[[exp.Table], str | None],
    upstream_columns: Mapping[str, Mapping[str, str | None]],
    origin: str = "sql",
) -> ModelLineage:
    """Trace every output column of ``query`` to the upstream columns it reads.

    ``resolve`` names the model a table reference reads (None: a table outside the project,
    named ``schema.table``); ``upstream_columns`` holds the columns (name -> type or None) of
    each model or outside table whose columns are known, so ``select *`` can expand.
    """
    from sqlglot.errors import SqlglotError
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope

    if not isinstance(query, (exp.Select, exp.SetOperation, exp.Subquery)):
        return unknown(
            model, f"a {query.key.upper()} statement, not a query: it has no columns", origin
        )
    try:
        query = query.copy()
        cte_names = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
        schema: dict[str, object] = {}
        names: dict[str, str] = {}  # the bare name each table is renamed to -> model/table
        tables: list[str] = []
        for table in list(query.find_all(exp.Table)):
            if not table.name or isinstance(table.this, exp.Func):
                continue
            if not table.db and table.name.lower() in cte_names:
                continue
            target = resolve(table) or ".".join(p for p in (table.db, table.name) if p)
            if target not in tables:
                tables.append(target)
            bare = f"__il_{len(names)}" if target not in names.values() else _key_of(names, target)
            names[bare] = target
            alias = table.alias or table.name
            table.replace(
                exp.Table(
                    this=exp.to_identifier(bare),
                    alias=exp.TableAlias(this=exp.to_identifier(alias)),
                )
            )
            known = upstream_columns.get(target)
            if known:
                schema[bare] = {c: _schema_type(kind, dialect) for c, kind in known.items()}
        qualified = qualify(
            query,
            schema=schema or None,
            dialect=dialect,
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
        _annotate(qualified, schema, dialect)
        root = build_scope(qualified)
        if root is None:
            return unknown(model, "the query has no SELECT to trace", origin)
        tracer = _Tracer(names, upstream_columns)
        columns = tracer.outputs(root)
    except (SqlglotError, RecursionError, KeyError, ValueError, AttributeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return unknown(model, f"sqlglot could not trace the query: {detail}", origin)
    status: LineageStatus = "known"
    reason = None
    if tracer.problems:
        status = "partial"
        reason = "; ".join(dict.fromkeys(tracer.problems))
    return ModelLineage(
        model=model,
        status=status,
        columns=tuple(columns),
        reason=reason,
        origin=origin,
        tables=tuple(tables),
    )


def _schema_type(kind: str | None, dialect: str) -> str:
    """A type sqlglot's schema accepts (a type it cannot read only loses type inference)."""
    if not kind:
        return "UNKNOWN"
    from sqlglot.errors import SqlglotError

    try:
        exp.DataType.build(kind, dialect=dialect)
    except (SqlglotError, ValueError):
        return "UNKNOWN"
    return kind


def _annotate(query: exp.Expr, schema: Mapping[str, object], dialect: str) -> None:
    """Type every expression of ``query`` (sqlglot's inference; an expression it cannot type
    stays UNKNOWN, and a failure only loses the inferred types)."""
    from sqlglot.errors import SqlglotError
    from sqlglot.optimizer.annotate_types import annotate_types

    try:
        annotate_types(query, schema=dict(schema) or None, dialect=dialect)
    except (SqlglotError, KeyError, ValueError, AttributeError, TypeError, RecursionError):
        return


def _inferred_type(node: exp.Expr) -> str | None:
    kind = node.type
    if kind is None or any(inner.this in _UNTYPED for inner in kind.find_all(exp.DataType)):
        return None
    return kind.sql(dialect="duckdb").upper()


_UNTYPED = {exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL}


def type_family(kind: str, dialect: str = "duckdb") -> str | None:
    """The family of a SQL type (``integer``, ``fractional``, ``text``, ``temporal``,
    ``boolean``, ``nested``...), or None when it cannot be read. Engines agree on a family where
    they differ on widths: DuckDB's ``sum(INTEGER)`` is HUGEINT where sqlglot infers BIGINT.
    MySQL and SQLite store booleans as integers, so there the two are one family."""
    from sqlglot.errors import SqlglotError

    try:
        this = exp.DataType.build(kind, dialect=dialect).this
    except (SqlglotError, ValueError, AttributeError):
        return None
    types = exp.DataType
    if this in types.INTEGER_TYPES or this is types.Type.BIT:
        return "integer"
    if this is types.Type.BOOLEAN:
        return "integer" if dialect in ("mysql", "sqlite") else "boolean"
    if this in types.REAL_TYPES:
        return "fractional"
    if this in types.TEXT_TYPES:
        return "text"
    if this in types.TEMPORAL_TYPES or this is types.Type.INTERVAL:
        return "temporal"  # `ts - ts` is an INTERVAL in DuckDB, a TIMESTAMP to sqlglot
    if this in types.NESTED_TYPES:
        return "nested"
    if this in (types.Type.UNKNOWN, types.Type.NULL, types.Type.USERDEFINED):
        return None
    return str(this.value).lower()


def with_recorded_types(
    lineage: ModelLineage, recorded: Mapping[str, str | None] | None, dialect: str
) -> ModelLineage:
    """``lineage`` with each inferred column type replaced by the type the column has in the
    table (``recorded``) when both are of one family: only a change of family (a number
    becoming text, say) is a change sqlglot's inference can be trusted to see."""
    if not recorded or not any(c.inferred for c in lineage.columns):
        return lineage
    lowered = {name.lower(): kind for name, kind in recorded.items()}
    columns = []
    for column in lineage.columns:
        old = lowered.get(column.name.lower())
        if column.inferred and column.type and old:
            column = _keep_recorded(column, column.type, old, dialect)
        columns.append(column)
    return replace(lineage, columns=tuple(columns))


def _keep_recorded(column: ColumnLineage, inferred: str, old: str, dialect: str) -> ColumnLineage:
    if type_family(old, dialect) != type_family(inferred):
        return column
    return replace(column, type=old, inferred=False)


def _key_of(names: Mapping[str, str], target: str) -> str:
    return next(bare for bare, found in names.items() if found == target)


class _Tracer:
    """Follows columns through one qualified query's scopes."""

    def __init__(
        self, names: Mapping[str, str], upstream: Mapping[str, Mapping[str, str | None]]
    ) -> None:
        self.names = names
        self.upstream = upstream
        self.problems: list[str] = []

    def outputs(self, scope: Scope) -> list[ColumnLineage]:
        select = self._first_select(scope)
        out: list[ColumnLineage] = []
        for position, projection in enumerate(select.selects):
            name = projection.alias_or_name
            if isinstance(projection, exp.Star) or (
                isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
            ):
                self._star(scope, projection)
                out.append(ColumnLineage(name="*", transform="derived"))
                continue
            sources, transform, (kind, inferred) = self._trace_position(scope, position, name)
            out.append(
                ColumnLineage(name, tuple(sorted(sources)), transform, kind, inferred=inferred)
            )
        return out

    def _star(self, scope: Scope, projection: exp.Expr) -> None:
        table = projection.table if isinstance(projection, exp.Column) else ""
        where = self.names.get(table, table) if table else "a table"
        self.problems.append(
            f"select * from {where} whose columns are unknown (run that model once, or declare "
            "its fields)"
        )

    def _first_select(self, scope: Scope) -> exp.Select:
        while isinstance(scope.expression, exp.SetOperation):
            scope = scope.set_operation_scopes[0]
        expression = scope.expression
        if not isinstance(expression, exp.Select):
            raise ValueError(f"cannot trace a {expression.key.upper()}")
        return expression

    def _trace_position(
        self, scope: Scope, position: int, name: str
    ) -> tuple[set[SourceColumn], Transform, TypeFound]:
        """The sources of output column ``position`` (named ``name``) of ``scope``."""
        if isinstance(scope.expression, exp.SetOperation):
            found: set[SourceColumn] = set()
            transforms: list[Transform] = []
            kinds: list[TypeFound] = []
            for branch in scope.set_operation_scopes:
                sources, transform, kind = self._trace_position(branch, position, name)
                found |= sources
                transforms.append(transform)
                kinds.append(kind)
            # branches that are literals do not change how the others' columns flow through
            made = set(transforms) - {"constant"} or {"constant"}
            merged: Transform = made.pop() if len(made) == 1 else "derived"
            typed = {k for k in kinds if k[0] is not None}
            return found, merged, typed.pop() if len(typed) == 1 else _NO_TYPE
        select = scope.expression
        assert isinstance(select, exp.Select)
        projections = select.selects
        projection = projections[position] if position < len(projections) else None
        if projection is None or projection.alias_or_name != name:
            projection = next((p for p in projections if p.alias_or_name == name), projection)
        if projection is None:
            return set(), "derived", _NO_TYPE
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        sources = self._sources_of(scope, inner)
        return sources, self._transform_in(scope, inner, name), self._type_of(scope, inner)

    def _sources_of(self, scope: Scope, node: exp.Expr) -> set[SourceColumn]:
        found: set[SourceColumn] = set()
        for column in node.find_all(exp.Column):
            if isinstance(column.this, exp.Star):
                continue
            found |= self._column(scope, column.table, column.name)
        return found

    def _column(self, scope: Scope, table: str, name: str) -> set[SourceColumn]:
        source = scope.sources.get(table) if table else None
        if source is None and not table and len(scope.sources) == 1:
            source = next(iter(scope.sources.values()))
        if source is None:
            # a correlated reference to an outer scope, or a name qualify could not place
            parent = scope.parent
            if parent is not None and table in parent.sources:
                return self._column(parent, table, name)
            return set()
        if isinstance(source, exp.Table):
            target = self.names.get(source.name, source.name)
            return {SourceColumn(target, name)}
        return self._through(source, name)

    def _through(self, scope: Scope, name: str) -> set[SourceColumn]:
        """The sources of column ``name`` that a CTE or derived table ``scope`` outputs."""
        if _is_values(scope):
            return set()  # literal rows: no upstream column
        select = self._first_select(scope)
        for position, projection in enumerate(select.selects):
            if projection.alias_or_name == name:
                return self._trace_position(scope, position, name)[0]
        for projection in select.selects:  # an unexpanded star passes the column through
            if isinstance(projection, exp.Star) or (
                isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
            ):
                table = projection.table if isinstance(projection, exp.Column) else ""
                if table:
                    return self._column(scope, table, name)
                if len(scope.sources) == 1:
                    return self._column(scope, next(iter(scope.sources)), name)
        return set()

    def _transform_in(self, scope: Scope, node: exp.Expr, name: str) -> Transform:
        """How the column is made, looking through CTEs and derived tables that pass a
        column on unchanged (``select t.x from (select a + 1 as x ...) t`` is derived)."""
        transform = self._transform(node, name)
        if not isinstance(node, exp.Column):
            return transform
        source = scope.sources.get(node.table)
        if source is None or isinstance(source, exp.Table):
            return transform
        inner = self._trace_position_transform(source, node.name)
        if inner in ("direct", "renamed"):
            return "direct" if transform == "direct" and inner == "direct" else "renamed"
        return inner or transform

    def _trace_position_transform(self, scope: Scope, name: str) -> Transform | None:
        if _is_values(scope):
            return "constant"
        select = self._first_select(scope)
        for position, projection in enumerate(select.selects):
            if projection.alias_or_name == name:
                return self._trace_position(scope, position, name)[1]
        return None

    def _transform(self, node: exp.Expr, name: str) -> Transform:
        if isinstance(node, exp.Column):
            return "direct" if node.name == name else "renamed"
        if node.find(exp.Window) is not None:
            return "window"
        if node.find(exp.AggFunc) is not None:
            return "aggregate"
        if node.find(exp.Column) is None:
            return "constant"
        return "derived"

    def _type_of(self, scope: Scope, node: exp.Expr) -> TypeFound:
        """The column's type: stated (a cast, a typed upstream column) or inferred by sqlglot."""
        if isinstance(node, exp.Cast):
            return node.to.sql(dialect="duckdb").upper(), False
        if isinstance(node, exp.Column):
            source = scope.sources.get(node.table)
            if isinstance(source, exp.Table):
                known = self.upstream.get(self.names.get(source.name, source.name)) or {}
                return known.get(node.name), False
            if source is not None and not _is_values(source):
                select = self._first_select(source)
                for projection in select.selects:
                    if projection.alias_or_name == node.name:
                        inner = projection.this if isinstance(projection, exp.Alias) else projection
                        return self._type_of(source, inner)
            return _NO_TYPE
        inferred = _inferred_type(node)
        return (inferred, True) if inferred else _NO_TYPE


def _is_values(scope: Scope) -> bool:
    """A derived table of literal rows: ``(values (1, 'a')) as t(id, name)``."""
    expression = scope.expression
    return isinstance(expression, exp.Values) or (
        isinstance(expression, exp.Subquery) and isinstance(expression.this, exp.Values)
    )


# ------------------------------------------------------------------------- Python models


def declared_lineage(
    model: str,
    fields: Mapping[str, Any],
    columns: Mapping[str, Any],
    inputs: Iterable[str],
) -> ModelLineage:
    """The lineage a Python model declares: ``fields={"total": {"type": "double", "sources":
    ["orders.amount"]}}``. Columns without ``sources`` are unknown (the model says so)."""
    if not columns or not any(getattr(doc, "sources", None) for doc in columns.values()):
        return unknown(
            model,
            "a Python model that does not return an ibis expression (lineage is recorded when "
            "it runs) and declares no column sources in fields",
        )
    out: list[ColumnLineage] = []
    missing: list[str] = []
    names = list(dict.fromkeys([*fields, *columns]))
    for name in names:
        doc = columns.get(name)
        sources = tuple(
            sorted(SourceColumn(*_split_source(s)) for s in (getattr(doc, "sources", ()) or ()))
        )
        if not sources:
            missing.append(name)
        out.append(
            ColumnLineage(
                name=name,
                sources=sources,
                transform="derived",
                description=getattr(doc, "description", None),
            )
        )
    reason = f"no sources declared for {', '.join(missing)}" if missing else None
    return ModelLineage(
        model=model,
        status="partial" if missing else "known",
        columns=tuple(out),
        reason=reason,
        origin="declared",
        tables=tuple(dict.fromkeys([*inputs, *(s.model for c in out for s in c.sources)])),
    )


def _split_source(text: str) -> tuple[str, str]:
    model, _, column = str(text).rpartition(".")
    return model, column
