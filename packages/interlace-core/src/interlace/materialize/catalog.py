"""Where each model's relation lives during one run, and what running one produced."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from interlace import statements as st
from interlace.engines.duckdb_attach import single_writer
from interlace.errors import ModelExecutionError
from interlace.fallback import Fallbacks, missing_error
from interlace.strategies import get_strategy
from interlace.window import Window

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlglot import exp

    from interlace.engines.base import Engine, Session
    from interlace.project import Project
    from interlace.quality import CheckResult
    from interlace.spec import ModelSpec
    from interlace.state.base import ModelState, StateStore, Watermark


STAGING_PREFIX = "__il_stage_"
RUN_SCHEMA_PREFIX = "__il_run_"
# the lock a run holds on its run schema while it lives: a run schema whose claim can be taken
# belongs to a run that ended without dropping it (killed), and is dropped by the next run
RUN_CLAIM = "__il_run_claim"


@dataclass
class Outcome:
    rows: int | None
    message: str | None = None
    stats: dict[str, int] = field(default_factory=dict)
    columns: tuple[tuple[str, str], ...] | None = None  # the published table's schema
    schema_notes: tuple[str, ...] = ()
    data_changed: bool = False
    content_hash: str | None = None
    watermark: tuple[str, str, str] | None = None  # (column, value, type)
    checks: list[CheckResult] = field(default_factory=list)


@dataclass
class RunCatalog:
    """Where each model's relation lives during one run (tables, CTEs, in-run tables)."""

    project: Project
    run_id: str
    engines: dict[str, Engine]
    relations: dict[tuple[str, str, str], str] = field(
        default_factory=dict
    )  # (conn, schema, name) -> kind
    schemas: set[tuple[str, str]] = field(default_factory=set)
    in_run: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    run_ts: dt.datetime = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None)
    )
    # change detection and incremental state, read once at the start of the run
    fingerprints: dict[str, str] = field(default_factory=dict)
    states: dict[str, ModelState] = field(default_factory=dict)
    data_versions: dict[str, int] = field(default_factory=dict)
    # sources (extension kinds, e.g. streams) whose kind cannot tell when new data arrived:
    # their readers run every time, like readers of outside data
    unversioned: set[str] = field(default_factory=set)
    watermarks: dict[str, Watermark] = field(default_factory=dict)
    window: Window = field(default_factory=lambda: Window(None, None))
    full_refresh: bool = False  # rebuild tables from scratch, ignoring watermarks
    # (reader, upstream) -> temporary table on the reader's session holding an upstream that
    # lives on another connection (streamed across as Arrow batches)
    crossed: dict[tuple[str, str], exp.Table] = field(default_factory=dict)
    cancelled: threading.Event = field(default_factory=threading.Event)  # set on cancel
    fallbacks: Fallbacks = field(default_factory=Fallbacks)  # unbuilt upstreams (SPEC §7.3)
    writers: dict[tuple[str, str], threading.Lock] = field(default_factory=dict)
    # where the run's state lives (re-read under a target's lock when another run may have
    # written it), and PROCESS_LOCKS.generation when the run read its state
    store: StateStore | None = None
    lock_generation: int = 0
    # the SQL (and its dialect) each Python model's ibis expression compiled to: its column
    # lineage is traced from it after the run (interlace.project_lineage.record_run)
    ibis_queries: dict[str, tuple[str, str]] = field(default_factory=dict)

    # the claims on this run's run schema (one per connection), released at the run's end
    claims: ExitStack = field(default_factory=ExitStack)

    @property
    def run_schema(self) -> str:
        """The scratch schema of this run (a hash of its id: ids may be chosen by callers, and
        two of them may share a prefix)."""
        digest = hashlib.blake2b(self.run_id.encode(), digest_size=6).hexdigest()
        return f"{RUN_SCHEMA_PREFIX}{digest}"

    def claim_run_schema(self, conn: str) -> None:
        """Hold this run's claim on its run schema in ``conn`` until :meth:`release_claims`:
        a run starting meanwhile, in this process or another (on the same database), leaves
        the schema alone."""
        from interlace.locks import LockWait, hold_target

        engine = self.engines[conn]
        session = engine.session()
        self.claims.callback(session.close)
        wait = LockWait(cancelled=self.cancelled)
        self.claims.enter_context(hold_target(engine, session, self.run_schema, RUN_CLAIM, wait))

    def release_claims(self) -> None:
        self.claims.close()

    def drop_if_abandoned(self, conn: str, schema: str) -> bool:
        """Drop the run schema ``schema`` if its run is gone (its claim is free, see
        :meth:`claim_run_schema`); a live run's, in this process or another, stays."""
        from interlace.locks import LockTimeoutError, LockWait, hold_target

        engine = self.engines[conn]
        session = engine.session()
        try:
            with hold_target(engine, session, schema, RUN_CLAIM, LockWait(timeout=0)):
                session.execute(st.drop_schema(schema))
            return True
        except LockTimeoutError:
            return False
        finally:
            session.close()

    def is_inline(self, spec: ModelSpec) -> bool:
        return spec.kind == "sql" and spec.materialize == "ephemeral"

    def is_in_run(self, spec: ModelSpec) -> bool:
        return spec.fn is not None and spec.materialize in ("ephemeral", "none")

    def target_of(self, spec: ModelSpec) -> exp.Table:
        if self.is_in_run(spec):
            return st.table(self.run_schema, spec.name)
        return st.table(spec.schema, spec.name)

    def writer(self, spec: ModelSpec) -> AbstractContextManager[Any]:
        """Held while ``spec`` writes its relation: writes into an attachment that takes one
        writer at a time (:func:`~interlace.engines.duckdb_attach.single_writer`) take turns."""
        database = spec.database
        if database is None:
            return nullcontext()
        config = self.project.config.connections[spec.connection]
        attached = {item.name: item.type for item in getattr(config, "attach", [])}
        if not single_writer(attached.get(database)):
            return nullcontext()
        with self.lock:
            return self.writers.setdefault((spec.connection, database), threading.Lock())

    def is_transparent(self, spec: ModelSpec) -> bool:
        """Models without data of their own: readers see their upstreams' data through them."""
        return spec.materialize in ("view", "ephemeral") or self.is_in_run(spec)

    def sources(self, name: str) -> set[str] | None:
        """The tables ``name`` reads, looking through views and ephemeral models.

        ``None`` when it reads outside data somewhere (a root, or a side-effect model).
        """
        project = self.project
        parents = project.graph.parents[name]
        if not parents:
            return None
        found: set[str] = set()
        for parent in parents:
            spec = project.models[parent]
            if self.is_transparent(spec):
                inner = self.sources(parent)
                if inner is None:
                    return None
                found |= inner
            elif parent in self.unversioned:
                return None
            elif spec.materialize == "table" and get_strategy(spec.strategy).writes:
                found.add(parent)
            else:
                return None
        return found

    def upstream_versions(self, name: str) -> dict[str, int] | None:
        if self.fallbacks.used_by(self.project, self.project.models[name]):
            return None  # reads another environment's data: like a root, it always runs
        sources = self.sources(name)
        if sources is None:
            return None
        return {s: self.data_versions.get(s, 0) for s in sorted(sources)}

    def read_relation(self, spec: ModelSpec, reader: ModelSpec) -> exp.Table:
        """Where ``reader``'s query reads model ``spec`` (a table or view, not inlined): its
        relation in this environment, a copy brought over from another connection, or the same
        relation on a fallback connection (SPEC §7.3)."""
        crossed = self.crossed.get((reader.name, spec.name))
        if crossed is not None:
            return crossed.copy()
        key = (reader.connection, spec.name)
        found = self.fallbacks.found.get(key)
        if found is not None:
            return found.table.copy()
        missing = self.fallbacks.missing.get(key)
        if missing is not None:
            raise missing_error(missing, reader, self.project.env)
        return self.target_of(spec)

    def read_source_versions(self, store: StateStore, names: Iterable[str]) -> None:
        """Ask the kind of each source that ``names`` read (or that is among them) for its
        data version (a stream's committed offset): readers run again when it moved."""
        from interlace.kinds import SourceContext

        project = self.project
        sources = [name for name, spec in project.models.items() if spec.is_source]
        if not sources:
            return
        wanted = set(names)
        for name in sources:
            if name not in wanted and not (project.graph.descendants(name) & wanted):
                continue
            spec = project.models[name]
            engine = self.engines.get(spec.connection)
            if engine is None:  # read through a view on another connection: cannot tell
                self.unversioned.add(name)
                continue
            session = engine.session()
            try:
                context = SourceContext(project=project, store=store, session=session)
                version = project.kinds[spec.kind].data_version(spec, context)
            finally:
                session.close()
            if version is None:
                self.unversioned.add(name)
            else:
                self.data_versions[name] = version

    def relation_exists(self, spec: ModelSpec) -> bool:
        if spec.materialize in ("table", "view") and get_strategy(spec.strategy).writes:
            return (spec.connection, spec.schema, spec.name) in self.relations
        return True

    def snapshot(self) -> None:
        """Read existing relations once per run (cheaper than a catalog query per model)."""
        for conn, engine in self.engines.items():
            self.schemas.update((conn, schema) for schema in engine.list_schemas())
            for schema, name, kind in engine.list_relations("%"):
                self.relations[(conn, schema, name)] = kind
                self.schemas.add((conn, schema))

    def leftovers(self) -> list[tuple[str, str, str]]:
        """Staging tables a killed run left behind, in this project's model schemas only (a
        server-wide listing, MySQL's, also shows other projects' staging tables in flight)."""
        ours = {(spec.connection, spec.schema) for spec in self.project.models.values()}
        return [
            key
            for key in self.relations
            if key[2].startswith(STAGING_PREFIX) and (key[0], key[1]) in ours
        ]


def null_only_columns(session: Session, table: exp.Table, names: Iterable[str]) -> frozenset[str]:
    """Which of the columns ``names`` of ``table`` hold no value (only NULLs, or no rows): a
    type change of those loses nothing, and schema modes allow it."""
    from sqlglot import exp as sql

    names = list(names)
    if not names:
        return frozenset()
    counts = sql.select(*[sql.Count(this=st.column(name)) for name in names])
    row = session.fetch_one(counts.from_(table.copy()))
    return frozenset(name for name, count in zip(names, row or (), strict=False) if not count)


def writes(spec: ModelSpec, project: Project) -> bool:
    """Whether running ``spec`` writes to its connection (a table, a view, an in-run table,
    or a SQL statement run for its side effect that is not a plain query)."""
    if spec.kind == "sql":
        if spec.materialize == "ephemeral":
            return False  # inlined into its consumers
        if spec.materialize == "none":
            return not project.sql_facts[spec.name].is_query
        return get_strategy(spec.strategy).writes or spec.materialize == "view"
    if spec.materialize in ("ephemeral", "none"):
        return True  # kept in an in-run table
    return get_strategy(spec.strategy).writes or spec.materialize == "view"


def check_writable(spec: ModelSpec, project: Project) -> None:
    """Refuse to run a model that writes to an ``access: read`` connection (SPEC §7.2)."""
    config = project.config.connections[spec.connection]
    if config.access == "read" and writes(spec, project):
        what = (
            f"materialize it as a {spec.materialize}"
            if spec.materialize in ("table", "view")
            else "keep its result during the run"
        )
        raise ModelExecutionError(
            f"connection '{spec.connection}' is read-only (access: read): cannot {what} there",
            model=spec.name,
            file=spec.file,
            line=spec.line,
            hint=f"run the model on a writable connection (connection=...), or set "
            f"`access: write` on '{spec.connection}'",
        )
