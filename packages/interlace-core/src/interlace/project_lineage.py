"""Column lineage of a whole project, computed incrementally and kept in the state store.

Models are traced in topological order, so a ``select *`` expands to the columns its upstream
was traced to (or declared in ``fields``, or had when it last ran). A model whose lineage key
(its definition and its upstreams' columns) is already stored is not parsed again: a project of
a thousand models re-traces only what changed. Python models that return an ibis expression
have their lineage recorded when they run (:func:`record_run`); planning never runs user code.

Example::

    project = load_project(".")
    store = open_state(project)
    lineage = project_lineage(project, store)
    lineage["revenue"].column("total").sources
"""

from __future__ import annotations

import hashlib
import json
import time
import weakref
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from interlace.errors import InterlaceError
from interlace.lineage import (
    ColumnLineage,
    ModelLineage,
    declared_lineage,
    lineage_key,
    sql_lineage,
    unknown,
    with_recorded_types,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from sqlglot import exp

    from interlace.materialize.catalog import RunCatalog
    from interlace.project import Project
    from interlace.results import ModelResult
    from interlace.state.base import StateStore

Columns = dict[str, str | None]


class LineageError(InterlaceError):
    """A lineage question that cannot be answered as asked (an unknown column)."""


def definitions(project: Project) -> dict[str, str]:
    """The hash of each model's own definition (SQL or source and options), without its
    upstreams: what ``state:modified`` and ``interlace plan`` compare. Computed once per
    loaded project."""
    return fingerprints_of(project)[1]


def fingerprints_of(project: Project) -> tuple[dict[str, str], dict[str, str]]:
    """Fingerprints and definition hashes of a loaded project, computed once for it."""
    key = id(project)
    found = _HASHES.get(key)
    if found is None:
        from interlace.fingerprint import fingerprints_and_definitions

        found = fingerprints_and_definitions(project)
        _HASHES[key] = found
        weakref.finalize(project, _HASHES.pop, key, None)
    return found


_HASHES: dict[int, tuple[dict[str, str], dict[str, str]]] = {}


def closure(project: Project, names: Iterable[str], *, up: bool) -> set[str]:
    """``names`` with all their ancestors (``up``) or descendants, in one walk."""
    edges = project.graph.parents if up else project.graph.children
    seen = set(names)
    stack = list(seen)
    while stack:
        for other in edges[stack.pop()]:
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return seen


def _python_key(definition: str) -> str:
    return lineage_key(f"python\0{definition}", {})


class _Builder:
    def __init__(
        self,
        project: Project,
        store: StateStore | None,
        env: str,
        schemas: Mapping[str, Columns] | None,
        prefer_recorded: bool = False,
    ) -> None:
        self.prefer_recorded = prefer_recorded
        self.project = project
        self.store = store
        self.env = env
        self.defs = definitions(project)
        self.out: dict[str, ModelLineage] = {}
        self.keys: dict[str, str] = {}
        self.columns: dict[str, Columns] = {}
        self._schemas = dict(schemas or {})
        self._all_schemas: dict[str, Columns] | None = None
        self.stored: dict[tuple[str, str], str] = {}
        self.computed: list[str] = []
        self.traced: dict[str, ModelLineage] = {}  # as traced, before with_recorded_types

    def recorded_columns(self, name: str) -> Columns | None:
        """The columns ``name`` had when it last ran in the environment (schema history)."""
        if self._all_schemas is None:
            self._all_schemas = {}
            if self.store is not None:
                self._all_schemas = dict(self.store.latest_columns(self.env))  # type: ignore[attr-defined]
        if name in self._schemas:
            return self._schemas[name]
        found = self._all_schemas.get(name)
        return dict(found) if found is not None else None

    def columns_of(self, name: str) -> Columns | None:
        if name in self.columns:
            return self.columns[name]
        spec = self.project.models[name]
        lineage = self.out.get(name)
        found: Columns | None = self.recorded_columns(name) if self.prefer_recorded else None
        if found is not None:
            pass
        elif lineage is not None and lineage.columns and "*" not in lineage.names:
            found = {c.name: c.type for c in lineage.columns}
        elif spec.options.fields:
            from interlace.types import to_sql_type

            found = {
                c: to_sql_type(t).sql(dialect="duckdb").upper()
                for c, t in spec.options.fields.items()
            }
        else:
            found = self.recorded_columns(name)
        if found is not None:
            self.columns[name] = found
        return found

    def key_of(self, name: str) -> str:
        spec = self.project.models[name]
        if spec.kind != "sql":
            return _python_key(self.defs[name])
        upstream: dict[str, Columns] = {}
        for parent in self.project.graph.parents[name]:
            cols = self.columns_of(parent)
            if cols is not None:
                upstream[parent] = cols
        return lineage_key(self.defs[name], upstream)

    def build(self, names: list[str]) -> None:
        """Lineage of ``names`` (topological): stored versions are read in one query, and only
        models whose key is not stored are traced."""
        if self.store is not None:
            self.stored = self.store.stored_lineage()  # type: ignore[attr-defined]
        for name in names:
            self.keys[name] = self.key_of(name)
            spec = self.project.models[name]
            found = self._sql_cached(name) if spec.kind == "sql" else self._python(name)
            self.traced[name] = found
            self.out[name] = with_recorded_types(
                found, self.recorded_columns(name), _dialect(self.project, spec.connection)
            )

    def _from_store(self, name: str) -> ModelLineage | None:
        text = self.stored.get((name, self.keys[name]))
        if text is None:
            return None
        try:
            return ModelLineage.from_dict(json.loads(text))
        except (ValueError, KeyError, TypeError):
            return None

    def _sql_cached(self, name: str) -> ModelLineage:
        found = self._from_store(name)
        if found is not None:
            return _with_docs(found, self.project.models[name].column_docs)
        lineage = self._sql(name)
        self.computed.append(name)
        return lineage

    def _sql(self, name: str) -> ModelLineage:
        project = self.project
        spec = project.models[name]
        try:
            query = project.queries[name]
        except InterlaceError as exc:
            return unknown(name, f"the SQL cannot be parsed: {exc.message}", "sql")
        upstream = {p: c for p in project.graph.parents[name] if (c := self.columns_of(p))}
        dialect = _dialect(project, spec.connection)
        found = sql_lineage(
            query,
            dialect,
            model=name,
            resolve=lambda table: _resolve(project, table),
            upstream_columns=upstream,
        )
        return _with_docs(found, spec.column_docs)

    def _python(self, name: str) -> ModelLineage:
        spec = self.project.models[name]
        found = self._from_store(name)
        if found is not None:
            return _with_docs(found, spec.column_docs)
        if spec.kind != "python":
            found = unknown(name, f"a {spec.kind} node: its kind does not trace columns")
        else:
            found = declared_lineage(
                name, spec.options.fields, spec.column_docs, self.project.graph.parents[name]
            )
        recorded = self.recorded_columns(name)
        if found.status == "unknown" and recorded:
            # its columns are known from its table, where they come from is not
            columns = tuple(ColumnLineage(c, (), "derived", t) for c, t in recorded.items())
            found = replace(found, columns=columns)
        return _with_docs(found, spec.column_docs)


def _with_docs(lineage: ModelLineage, docs: Mapping[str, Any]) -> ModelLineage:
    if not docs:
        return lineage
    columns = tuple(
        replace(c, description=getattr(docs.get(c.name), "description", None) or c.description)
        for c in lineage.columns
    )
    return replace(lineage, columns=columns)


def _dialect(project: Project, connection: str) -> str:
    from interlace.project import dialect_of

    try:
        return dialect_of(project.config, connection)
    except InterlaceError:
        return "duckdb"


def _resolve(project: Project, table: exp.Table) -> str | None:
    from interlace import statements as st

    return project.lookup(st.reference(table))


def project_lineage(
    project: Project,
    store: StateStore | None = None,
    *,
    names: Iterable[str] | None = None,
    schemas: Mapping[str, Columns] | None = None,
    save: bool = True,
    prefer_recorded: bool = False,
) -> dict[str, ModelLineage]:
    """The column lineage of ``names`` (default: every model) and of their ancestors.

    Stored lineage whose key still holds is reused; what had to be traced is saved to ``store``
    (unless ``save`` is false). ``schemas`` gives columns already known per model (what its
    table had), else the store's schema history of the project's environment is read.
    ``prefer_recorded`` traces against the columns the upstream tables have now (what the
    readers were written against) rather than the columns their queries now produce.
    """
    return lineage_with_stats(
        project, store, names=names, schemas=schemas, save=save, prefer_recorded=prefer_recorded
    )[0]


def lineage_with_stats(
    project: Project,
    store: StateStore | None = None,
    *,
    names: Iterable[str] | None = None,
    schemas: Mapping[str, Columns] | None = None,
    save: bool = True,
    prefer_recorded: bool = False,
) -> tuple[dict[str, ModelLineage], list[str]]:
    """:func:`project_lineage` and the names it had to trace (the rest came from the store)."""
    chosen = set(project.models) if names is None else closure(project, names, up=True)
    builder = _Builder(project, store, project.env, schemas, prefer_recorded)
    builder.build(project.graph.sort(chosen))
    if store is not None and builder.computed and save:
        items = []
        for name in builder.computed:
            data = builder.traced[name].to_dict()
            items.append((name, builder.keys[name], json.dumps(data, sort_keys=True)))
        try:
            store.save_lineages(items, time.time())  # type: ignore[attr-defined]
        except InterlaceError:
            pass  # a store that cannot be written: the lineage is traced again next time
    return builder.out, list(builder.computed)


# ----------------------------------------------------------------------- recorded by runs


def record_run(catalog: RunCatalog, store: StateStore, results: Mapping[str, ModelResult]) -> None:
    """After a run: record what each model that succeeded was (``model_versions``) and the
    lineage of Python models traced from the SQL their ibis expression compiled to."""
    from interlace.state.lineage import ModelVersion

    project = catalog.project
    succeeded = [n for n, r in results.items() if r.status == "success"]
    if not succeeded:
        return
    defs = definitions(project)
    now = time.time()
    lineages = []
    for name, sql in catalog.ibis_queries.items():
        if name not in succeeded:
            continue
        lineage = _ibis_lineage(project, name, sql)
        key = _python_key(defs[name])
        lineages.append((name, key, lineage.to_json()))
    versions = [
        ModelVersion(
            model=name,
            fingerprint=catalog.fingerprints.get(name, ""),
            definition=defs[name],
            primary_key=tuple(project.models[name].options.primary_key),
            run_id=catalog.run_id,
            recorded_at=now,
        )
        for name in succeeded
    ]
    store.save_lineages(lineages, now)  # type: ignore[attr-defined]
    store.save_model_versions(project.env, versions)  # type: ignore[attr-defined]


def _ibis_lineage(project: Project, name: str, sql: tuple[str, str]) -> ModelLineage:
    import sqlglot

    text, dialect = sql
    try:
        query = sqlglot.parse_one(text, read=dialect)
    except Exception as exc:  # the SQL ibis compiled: traced best-effort, never fails a run
        return unknown(name, f"the SQL ibis compiled cannot be parsed: {exc}", "ibis")
    spec = project.models[name]

    def resolve(table: exp.Table) -> str | None:
        found = _resolve(project, table)
        if found is None and table.name.startswith("__il_xc_"):
            found = table.name.removeprefix("__il_xc_")
        return found

    return _with_docs(
        sql_lineage(
            query, dialect, model=name, resolve=resolve, upstream_columns={}, origin="ibis"
        ),
        spec.column_docs,
    )


def schema_digest(columns: Mapping[str, str | None]) -> str:
    return hashlib.sha256(json.dumps(sorted(columns.items())).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------- reading lineage


def column_names(lineage: ModelLineage) -> list[str]:
    return [c.name for c in lineage.columns if c.name != "*"]


def require_column(lineage: ModelLineage, column: str) -> ColumnLineage:
    """The column ``column`` of ``lineage``, or a :class:`LineageError` listing the columns."""
    found = lineage.column(column)
    if found is not None:
        return found
    names = column_names(lineage)
    if not names and lineage.status == "unknown":
        raise LineageError(
            f"has no known columns, so not '{column}': {lineage.reason}",
            model=lineage.model,
            hint="run the model once, or declare its columns in fields",
        )
    raise LineageError(
        f"has no column '{column}'",
        model=lineage.model,
        hint=f"its columns: {', '.join(names) or '(none known)'}",
    )


def upstream_of(
    lineage: Mapping[str, ModelLineage], model: str, column: str
) -> list[tuple[str, str, int]]:
    """Every upstream column ``model.column`` is computed from, transitively, as
    ``(model, column, depth)`` (depth 1: read directly)."""
    out: list[tuple[str, str, int]] = []
    seen: set[tuple[str, str]] = set()
    frontier = [(model, column, 0)]
    while frontier:
        name, col, depth = frontier.pop(0)
        found = lineage.get(name)
        entry = found.column(col) if found is not None else None
        if entry is None:
            continue
        for source in entry.sources:
            key = (source.model, source.column)
            if key in seen:
                continue
            seen.add(key)
            out.append((source.model, source.column, depth + 1))
            frontier.append((source.model, source.column, depth + 1))
    return out


def downstream_of(
    lineage: Mapping[str, ModelLineage], model: str, column: str | None = None
) -> list[tuple[str, str, str, int]]:
    """Every column computed from ``model.column`` (any column of ``model`` when None),
    transitively, as ``(model, column, from_column, depth)``."""
    readers: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for name, found in lineage.items():
        for entry in found.columns:
            for source in entry.sources:
                readers.setdefault((source.model, source.column.lower()), []).append(
                    (name, entry.name)
                )
    out: list[tuple[str, str, str, int]] = []
    seen: set[tuple[str, str]] = set()
    start = lineage.get(model)
    columns = [column] if column is not None else (column_names(start) if start else [])
    frontier = [(model, c, 0) for c in columns]
    while frontier:
        name, col, depth = frontier.pop(0)
        for reader, reader_column in readers.get((name, col.lower()), []):
            if (reader, reader_column) in seen:
                continue
            seen.add((reader, reader_column))
            out.append((reader, reader_column, col, depth + 1))
            frontier.append((reader, reader_column, depth + 1))
    return out


def lineage_data(
    found: dict[str, ModelLineage], model: str, columns: list[str], direction: str | None
) -> dict[str, Any]:
    """The lineage of ``columns`` of ``model`` as JSON-ready data (CLI and API)."""
    own = found[model]
    out: dict[str, Any] = {
        "model": model,
        "status": own.status,
        "reason": own.reason,
        "origin": own.origin,
        "columns": [],
    }
    for name in columns:
        entry = own.column(name)
        item: dict[str, Any] = {
            "name": name,
            "type": entry.type if entry else None,
            "transform": entry.transform if entry else None,
            "description": entry.description if entry else None,
        }
        if direction in (None, "upstream"):
            item["upstream"] = [
                {"model": m, "column": c, "depth": d} for m, c, d in upstream_of(found, model, name)
            ]
        if direction in (None, "downstream"):
            item["downstream"] = [
                {"model": m, "column": c, "from": f, "depth": d}
                for m, c, f, d in downstream_of(found, model, name)
            ]
        out["columns"].append(item)
    out["edges"] = _edges(found, model, columns, direction)
    return out


def _edges(
    found: dict[str, ModelLineage], model: str, columns: list[str], direction: str | None
) -> list[list[str]]:
    """Each ``[from, to]`` column edge reachable from the columns (``model.column`` names)."""
    edges: dict[tuple[str, str], None] = {}
    if direction in (None, "upstream"):
        frontier = [(model, c) for c in columns]
        seen: set[tuple[str, str]] = set()
        while frontier:
            name, col = frontier.pop()
            entry = found[name].column(col) if name in found else None
            for source in entry.sources if entry else ():
                edges[(f"{source.model}.{source.column}", f"{name}.{col}")] = None
                if (source.model, source.column) not in seen:
                    seen.add((source.model, source.column))
                    frontier.append((source.model, source.column))
    if direction in (None, "downstream"):
        for column in columns:
            for reader, reader_column, _, _ in downstream_of(found, model, column):
                entry = found[reader].column(reader_column)
                for source in entry.sources if entry else ():
                    edges[(f"{source.model}.{source.column}", f"{reader}.{reader_column}")] = None
    return [list(e) for e in edges]
