"""Fallback resolution (SPEC §7.3): a non-production environment reads the upstream models it
has not built from another connection, by default the ``shared: true`` ones (production's
database, say), instead of failing or rebuilding the whole lineage.

Config::

    environments:
      production: [prod]                 # never fall back (default: prod, production)
      fallback_connections: [warehouse]  # search order (default: every shared connection)

Before a run, :func:`plan_fallbacks` looks at every upstream a selected model reads that is
neither selected nor present on the model's own connection. It attaches the fallback
connections to that connection's engine (read-only, inside the engine: DuckDB ATTACHes the other
file, no rows pass through Python) and looks the same ``schema.name`` up there, in order. The
model's query then reads ``alias.schema.name`` and its message names the upstreams it read that
way. Where the engine cannot attach the fallback (PostgreSQL reading another PostgreSQL database,
DuckDB reading PostgreSQL, ...), the reader copies the upstream into a temporary table of its own
session as Arrow batches before it runs, as for any upstream on another connection. An upstream
that no fallback has fails its readers with an error naming both connections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlglot import exp

from interlace import statements as st
from interlace.errors import InterlaceError, ModelExecutionError, first_line
from interlace.strategies import get_strategy

if TYPE_CHECKING:
    from interlace.connection_config import ConnectionConfig
    from interlace.engines.base import Engine
    from interlace.materialize.catalog import RunCatalog
    from interlace.project import Project
    from interlace.spec import ModelSpec

ALIAS_PREFIX = "__il_fallback_"
# keys that do not change which database a connection opens
_NOT_LOCATION = {
    "shared",
    "access",
    "circuit_breaker",
    "read_only",
    "threads",
    "memory_limit",
    "settings",
}


@dataclass(frozen=True)
class FallbackRead:
    """One upstream read from a fallback connection."""

    upstream: str
    connection: str  # the fallback connection
    table: exp.Table  # alias.schema.name in the reading engine; schema.name in ``source``
    source: Engine | None = None  # set when the rows are copied across from this engine


@dataclass
class Fallbacks:
    """What :func:`plan_fallbacks` decided for one run."""

    # (reading connection, upstream model) -> where it is read
    found: dict[tuple[str, str], FallbackRead] = field(default_factory=dict)
    # (reading connection, upstream model) -> why no fallback could serve it
    missing: dict[tuple[str, str], str] = field(default_factory=dict)
    attached: list[tuple[Engine, str]] = field(default_factory=list)
    engines: list[Engine] = field(default_factory=list)

    def table(self, connection: str, upstream: str) -> exp.Table | None:
        """The fallback table as the reading engine names it (None: not attached there)."""
        found = self.found.get((connection, upstream))
        return found.table.copy() if found is not None and found.source is None else None

    def used_by(self, project: Project, spec: ModelSpec) -> list[FallbackRead]:
        """The fallback reads of ``spec``'s query (through inlined ephemeral models)."""
        if not self.found:
            return []
        out = []
        for upstream in reads(project, spec.name):
            found = self.found.get((spec.connection, upstream))
            if found is not None:
                out.append(found)
        return out

    def note(self, project: Project, spec: ModelSpec) -> str | None:
        """``read from fallback 'prod': orders, customers`` for the model's message."""
        by_connection: dict[str, list[str]] = {}
        for read in self.used_by(project, spec):
            by_connection.setdefault(read.connection, []).append(read.upstream)
        if not by_connection:
            return None
        return "; ".join(
            f"read from fallback '{conn}': {', '.join(names)}"
            for conn, names in by_connection.items()
        )

    def release(self) -> None:
        """Detach what was attached and close the fallback engines (end of the run)."""
        for engine, alias in self.attached:
            engine.detach(alias)
        self.attached.clear()
        for engine in self.engines:
            engine.close()
        self.engines.clear()


def same_database(a: ConnectionConfig, b: ConnectionConfig) -> bool:
    """Whether two connection configs open the same database (paths relative to one root)."""
    if a.type != b.type:
        return False
    first = a.model_dump(exclude=_NOT_LOCATION)
    if first.get("path") == ":memory:":
        return False  # every in-memory database is a database of its own
    return first == b.model_dump(exclude=_NOT_LOCATION)


def writes_relation(spec: ModelSpec) -> bool:
    """Whether the model leaves a table or view behind after its run."""
    if spec.fn is not None and spec.materialize in ("ephemeral", "none"):
        return False
    return spec.materialize in ("table", "view") and get_strategy(spec.strategy).writes


def reads(project: Project, name: str) -> list[str]:
    """The models whose relations ``name``'s query reads, looking through inlined (SQL
    ephemeral) upstreams, in graph order."""
    found: list[str] = []
    stack = list(project.graph.parents[name])
    seen: set[str] = set()
    while stack:
        parent = stack.pop()
        if parent in seen:
            continue
        seen.add(parent)
        spec = project.models[parent]
        if spec.kind == "sql" and spec.materialize == "ephemeral":
            stack.extend(project.graph.parents[parent])
        else:
            found.append(parent)
    return project.graph.sort(found)


def inlined_between(project: Project, name: str) -> list[str]:
    """The SQL ephemeral models inlined into ``name``'s query (their bodies read for it)."""
    found: list[str] = []
    stack = list(project.graph.parents[name])
    while stack:
        parent = stack.pop()
        spec = project.models[parent]
        if spec.kind == "sql" and spec.materialize == "ephemeral" and parent not in found:
            found.append(parent)
            stack.extend(project.graph.parents[parent])
    return found


def fallback_connections(project: Project) -> list[str]:
    """The fallback connections of the project's environment (none in production)."""
    config = project.config
    if project.env in config.environments.production:
        return []
    return config.environments.fallbacks(config.connections)


def plan_fallbacks(catalog: RunCatalog, names: list[str]) -> None:
    """Decide where the selected models read upstreams this environment has not built.

    Call after ``catalog.snapshot()``; :meth:`Fallbacks.release` undoes the attachments.
    """
    project = catalog.project
    candidates = fallback_connections(project)
    if not candidates:
        return
    selected = set(names)
    needed: dict[str, dict[str, ModelSpec]] = {}  # reading connection -> upstreams
    for name in names:
        spec = project.models[name]
        for upstream in reads(project, name):
            target = project.models[upstream]
            if (
                upstream in selected
                or target.connection != spec.connection
                or not writes_relation(target)
                or (target.connection, target.schema, target.name) in catalog.relations
            ):
                continue
            needed.setdefault(spec.connection, {})[upstream] = target
    for connection, upstreams in needed.items():
        searched = _attach_all(catalog, connection, candidates)
        for target in upstreams.values():
            _resolve(catalog, connection, target, searched)


@dataclass
class _Searched:
    connection: str
    alias: str
    relations: set[tuple[str, str]] | None  # None: could not be read
    problem: str | None = None
    source: Engine | None = None  # not attached: readers copy its tables across


def _attach_all(catalog: RunCatalog, connection: str, candidates: list[str]) -> list[_Searched]:
    from interlace.opening import open_engines

    project = catalog.project
    connections = project.config.connections
    engine = catalog.engines[connection]
    searched: list[_Searched] = []
    for name in candidates:
        if name == connection or same_database(connections[name], connections[connection]):
            continue  # the model's own database is no fallback
        alias = ALIAS_PREFIX + name
        # open in this run already (a selected model, or an upstream read across connections,
        # lives there): DuckDB attaches no file that is open, so its tables are copied across
        relations: list[tuple[str, str, str]] | None = None
        other = catalog.engines.get(name)
        if other is None:
            others = open_engines(project, [name])
            if name not in others:
                searched.append(_Searched(name, alias, None, "it is a storage connection"))
                continue
            other = others[name]
            catalog.fallbacks.engines.append(other)
            try:
                relations = engine.attach(alias, other)
            except InterlaceError as exc:
                searched.append(_Searched(name, alias, None, exc.message))
                continue
        if relations is None:  # not attachable: its tables are copied across as Arrow batches
            try:
                listed = {(s, n) for s, n, _ in other.list_relations("%")}
            except InterlaceError as exc:
                searched.append(_Searched(name, alias, None, exc.message))
                continue
            except Exception as exc:
                searched.append(_Searched(name, alias, None, first_line(exc)))
                continue
            searched.append(_Searched(name, alias, listed, source=other))
            continue
        catalog.fallbacks.attached.append((engine, alias))
        searched.append(_Searched(name, alias, {(s, n) for s, n, _ in relations}))
    return searched


def _resolve(
    catalog: RunCatalog, connection: str, target: ModelSpec, searched: list[_Searched]
) -> None:
    key = (connection, target.name)
    for place in searched:
        if place.relations is None or (target.schema, target.name) not in place.relations:
            continue
        table = st.table(target.schema, target.name)  # as the fallback names it
        if place.source is None:  # attached: the reading engine names it through the alias
            table.set("catalog", exp.to_identifier(place.alias, quoted=True))
        catalog.fallbacks.found[key] = FallbackRead(
            target.name, place.connection, table, place.source
        )
        return
    env = catalog.project.env
    head = (
        f"upstream '{target.name}' is not built in env '{env}' (no {target.qualified_name} on "
        f"connection '{connection}')"
    )
    if not searched:
        catalog.fallbacks.missing[key] = f"{head} and there is no other fallback connection"
        return
    reasons = [
        f"fallback connection '{p.connection}' does not have it either"
        if p.problem is None
        else f"fallback connection '{p.connection}' cannot be read: {p.problem}"
        for p in searched
    ]
    catalog.fallbacks.missing[key] = f"{head}, and {'; '.join(reasons)}"


def missing_error(message: str, reader: ModelSpec, env: str) -> ModelExecutionError:
    """The error of a model whose upstream no environment has built."""
    return ModelExecutionError(
        message,
        model=reader.name,
        file=reader.file,
        line=reader.line,
        hint=f"build it here (interlace run --env {env} +{reader.name}), or build it in the "
        "environment the fallback connection belongs to",
    )


def view_error(read: FallbackRead, reader: ModelSpec, env: str) -> ModelExecutionError:
    """A view cannot keep a query that reads an attached fallback database."""
    return ModelExecutionError(
        f"view would read upstream '{read.upstream}' from fallback connection "
        f"'{read.connection}', but a view keeps its query and the fallback is attached (or "
        "copied) only during a run",
        model=reader.name,
        file=reader.file,
        line=reader.line,
        hint=f"build '{read.upstream}' in env '{env}' first (interlace run --env {env} "
        f"+{reader.name}), or materialize '{reader.name}' as a table",
    )
