"""Running one model and publishing its result atomically.

The result lands in a staging table beside the target; the strategy's statements then run in
one transaction. Any failure before the commit drops the staging table and leaves the published
table exactly as it was.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import threading
import time
import traceback
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from interlace import statements as st
from interlace.context import ModelContext
from interlace.errors import (
    InterlaceError,
    ModelExecutionError,
    SchemaChangeError,
    UnsupportedResultError,
    first_line,
)
from interlace.fallback import Fallbacks, inlined_between, missing_error, view_error
from interlace.incremental import CursorFilters, cursor_text, first_row, lookback_error, lower_bound
from interlace.outputs import Source, to_source
from interlace.quality import CheckResult, QualityCheckError
from interlace.schema_modes import SchemaPlan, differences, plan_schema
from interlace.strategies import PublishContext, Strategy, get_strategy
from interlace.strategies.replace import swap_in
from interlace.types import to_sql_type
from interlace.window import Window

if TYPE_CHECKING:
    from interlace.engines.base import Column, Engine, Session
    from interlace.project import Project
    from interlace.spec import ModelSpec
    from interlace.state.base import ModelState, StateStore, Watermark

STAGING_PREFIX = "__il_stage_"


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

    @property
    def run_schema(self) -> str:
        return f"__il_run_{self.run_id[:12]}"

    def is_inline(self, spec: ModelSpec) -> bool:
        return spec.kind == "sql" and spec.materialize == "ephemeral"

    def is_in_run(self, spec: ModelSpec) -> bool:
        return spec.kind == "python" and spec.materialize in ("ephemeral", "none")

    def target_of(self, spec: ModelSpec) -> exp.Table:
        if self.is_in_run(spec):
            return st.table(self.run_schema, spec.name)
        return st.table(spec.schema, spec.name)

    def writer(self, spec: ModelSpec) -> AbstractContextManager[Any]:
        """Held while ``spec`` writes its relation: SQLite and MySQL attachments take one writer
        at a time (concurrent SQLite commits fail with 'database is locked', concurrent writes
        through DuckDB's mysql extension fail), so writes there take turns."""
        database = spec.database
        if database is None:
            return nullcontext()
        config = self.project.config.connections[spec.connection]
        attached = {item.name: item.type for item in getattr(config, "attach", [])}
        if attached.get(database) not in ("sqlite", "mysql"):
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

    def relation_of(self, ref: str, connection: str) -> exp.Expr | None:
        """Where model ``ref`` (name or ``schema.name``) is read by a query on ``connection``
        during this run: its table or view, or its query when it is inlined. None when ``ref``
        is no model of the project. Quality checks resolve referenced models with it."""
        project = self.project
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
        if self.is_inline(spec):
            return exp.Subquery(
                this=compile_sql(spec, self),
                alias=exp.TableAlias(this=exp.to_identifier(_cte_name(name), quoted=True)),
            )
        if self.is_in_run(spec) and name not in self.in_run:
            raise ModelExecutionError(
                f"model '{name}' exists only while it runs with its consumers",
                hint="materialize it as a table or view to read it from elsewhere",
            )
        if spec.materialize == "none" or not get_strategy(spec.strategy).writes:
            raise ModelExecutionError(
                f"model '{name}' writes no table (materialize '{spec.materialize}', "
                f"strategy '{spec.strategy}')"
            )
        fallback = self.fallbacks.table(connection, name)
        return fallback if fallback is not None else self.target_of(spec)

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


# ---------------------------------------------------------------------------- SQL compilation


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
    query = project.queries[spec.name].copy()
    own_ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}

    def transform(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Table) or not node.name or isinstance(node.this, exp.Func):
            return node
        if not node.db and node.name.lower() in own_ctes:
            return node
        ref = st.reference(node)
        target_name = project.lookup(ref)
        if target_name is None:  # no model: a table loaded outside Interlace
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


# ---------------------------------------------------------------------------- projection


def _project(source: Source, spec: ModelSpec, session: Session) -> exp.Expr:
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


# ---------------------------------------------------------------------------- running a model


class ModelRunner:
    """Runs one model on one session: compute, stage, publish."""

    def __init__(self, spec: ModelSpec, catalog: RunCatalog, session: Session) -> None:
        self.spec = spec
        self.catalog = catalog
        self.session = session
        self.conn = spec.connection
        self._source: Source | None = None
        self._context: ModelContext | None = None
        self.published = False  # the table or view was committed (a later failure leaves it)

    # -- entry point
    def run(self) -> Outcome:
        check_writable(self.spec, self.catalog.project)
        try:
            fallback_reads = self.catalog.fallbacks.used_by(self.catalog.project, self.spec)
            if fallback_reads and self.spec.materialize == "view":
                raise view_error(fallback_reads[0], self.spec, self.catalog.project.env)
            self._recover_watermark()
            self._bring_across()
            outcome = self._produce()
            if self.spec.options.export is not None:
                self._export(outcome)
            note = self.catalog.fallbacks.note(self.catalog.project, self.spec)
            if note is not None:  # say which upstreams came from another environment
                outcome.message = f"{note}; {outcome.message}" if outcome.message else note
            return outcome
        finally:
            if self._context is not None:  # storage connections the model opened
                self._context.close()

    def _export(self, outcome: Outcome) -> None:
        """Write the published relation to the model's export file (after a successful write)."""
        from interlace.export import ExportError, placeholder_values, write_export

        spec = self.spec
        export = spec.options.export
        assert export is not None
        target = self.catalog.target_of(spec)
        if self.session.relation_kind(st.schema_of(target), target.name) is None:
            raise ExportError(
                f"export= needs a table or view, but the model wrote none (materialize "
                f"'{spec.materialize}', strategy '{spec.strategy}')",
                model=spec.name,
                file=spec.file,
                line=spec.line,
                hint="remove export=, or materialize the model as a table or view",
            )
        values = placeholder_values(
            name=spec.name,
            schema=spec.schema,
            env=self.catalog.project.env,
            run_id=self.catalog.run_id,
            at=self.catalog.run_ts,
        )
        root = self.catalog.project.root
        try:
            path = write_export(
                self.session,
                st.select_all(target),
                export,
                root=root,
                values=values,
                config=self.catalog.project.config,
            )
        except ExportError as exc:
            raise ExportError(
                f"{exc.message}; the table itself was published",
                model=spec.name,
                file=spec.file,
                line=spec.line,
                hint=exc.hint,
            ) from None
        # a storage export returns its URL (s3://..., sftp://...), a local one its Path
        shown = path if isinstance(path, str) else _relative(str(path), root)
        note = f"exported to {shown}"
        outcome.message = f"{outcome.message}; {note}" if outcome.message else note

    def _produce(self) -> Outcome:
        spec = self.spec
        if spec.kind == "sql":
            return self._run_sql()
        try:
            return self._run_python()
        except Exception as exc:
            # a model's generator that raised while the engine read it: report the model's own
            # exception (its line, its traceback), not the engine's wrapper around it
            raised = self._source.iterator_errors if self._source is not None else []
            if not raised or raised[0] is exc:
                raise
            if isinstance(raised[0], InterlaceError):
                raise raised[0] from None
            root = self.catalog.project.root
            raise user_error(raised[0], spec.name, root, spec.file, spec.line) from raised[0]

    # -- SQL models
    def _run_sql(self) -> Outcome:
        spec = self.spec
        if spec.materialize == "ephemeral":
            return Outcome(None, "ephemeral: inlined into its consumers")
        query = compile_sql(spec, self.catalog, self.session)
        if spec.materialize == "none":
            self.session.execute(query)
            return Outcome(None, "ran for its side effect")
        if spec.materialize == "view":
            return self._write_view(query)
        if not get_strategy(spec.strategy).writes:
            self.session.execute(query)
            return Outcome(None, f"strategy {spec.strategy}: nothing written")
        return self._write_table(Source(query=query, is_sql=True))  # type: ignore[arg-type]

    # -- Python models
    def _run_python(self) -> Outcome:
        spec = self.spec
        value = self._call()
        register_as = f"__il_py_{spec.name}_{self.catalog.run_id[:8]}"
        source = to_source(
            value,
            self.session,
            register_as=register_as,
            model=spec.name,
            cancelled=self.catalog.cancelled,
        )
        self._source = source
        if source is None:
            if spec.options.fields and spec.materialize == "table":
                return self._write_table(Source(query=exp.select("*"), empty=True))
            return Outcome(None, "returned None (side effect only)")
        if spec.materialize in ("ephemeral", "none"):
            return self._write_in_run(source)
        if not get_strategy(spec.strategy).writes:
            _drain(source)
            return Outcome(None, f"strategy {spec.strategy}: nothing written")
        if spec.materialize == "view":
            if not source.is_sql:
                raise UnsupportedResultError(
                    "a view needs an ibis expression on its own connection, but the model "
                    "returned in-memory data",
                    model=spec.name,
                    hint="use materialize='table', or return an ibis expression",
                )
            self._register(source)
            return self._write_view(source.query)
        return self._write_table(source)

    def _call(self) -> Any:
        spec = self.spec
        assert spec.fn is not None
        kwargs: dict[str, Any] = {}
        if spec.inputs:
            backend = self.session.ibis()
            filters = (
                CursorFilters(spec, self.catalog, self.session) if spec.options.cursor else None
            )
            for param, upstream in spec.inputs.items():
                kwargs[param] = self._ibis_input(backend, upstream, filters)
            if filters is not None:
                filters.check()
        if spec.wants_context:
            kwargs["context"] = self._context = ModelContext(
                run_id=self.catalog.run_id,
                env=self.catalog.project.env,
                model=spec,
                config=self.catalog.project.config,
                project_root=self.catalog.project.root,
                session=self.session,
                cursor=self._cursor_value() if spec.options.cursor else None,
            )
        if "cursor" in inspect.signature(spec.fn).parameters:
            kwargs["cursor"] = self._cursor_value()
        try:
            result = spec.fn(**kwargs)
            if inspect.isawaitable(result):
                result = asyncio.run(_await(result))
            return result
        except InterlaceError:
            raise
        except Exception as exc:
            raise user_error(
                exc, spec.name, self.catalog.project.root, spec.file, spec.line
            ) from exc

    def _bring_across(self) -> None:
        """Copy upstream tables that live on another connection into a temporary table of this
        model's session, streaming Arrow batches (bounded memory, no pandas)."""
        catalog = self.catalog
        for name in self.spec.depends_on:
            upstream = catalog.project.models[name]
            if upstream.connection == self.spec.connection or catalog.is_inline(upstream):
                continue
            if catalog.is_in_run(upstream):
                raise ModelExecutionError(
                    f"reads '{name}', a model kept only during the run on connection "
                    f"'{upstream.connection}'; it cannot cross connections",
                    model=self.spec.name,
                    file=self.spec.file,
                    line=self.spec.line,
                    hint=f"materialize '{name}' as a table, or run both on one connection",
                )
            self._copy_in(catalog.engines[upstream.connection], catalog.target_of(upstream), name)
        project = catalog.project
        for read in catalog.fallbacks.used_by(project, self.spec):
            if read.source is not None:  # a fallback the engine could not attach
                self._copy_in(read.source, read.table, read.upstream)

    def _copy_in(self, engine: Engine, table: exp.Table, upstream: str) -> None:
        """Stream ``table`` of ``engine`` into a temporary table of this session, which the
        model's query (and the ephemeral models inlined into it) then read for ``upstream``."""
        catalog = self.catalog
        query = exp.select("*").from_(table)
        source = engine.session()
        try:
            pushed = self._cursor_filter(source, table)
            if pushed is not None:  # only the rows the incremental model will read
                query = query.where(pushed)
            temp = f"__il_xc_{upstream}"
            self.session.load_temp(temp, source.fetch_batches(query))
        finally:
            source.close()
        copied = exp.Table(this=exp.to_identifier(temp, quoted=True))
        for reader in (self.spec.name, *inlined_between(catalog.project, self.spec.name)):
            catalog.crossed[(reader, upstream)] = copied

    def _cursor_filter(self, session: Session, table: exp.Table) -> exp.Expr | None:
        """The incremental model's cursor condition, for an upstream read on ``session``."""
        if not self.spec.options.cursor:
            return None
        filters = CursorFilters(self.spec, self.catalog, session)
        types = {c.name: c.type for c in session.describe_relation(table)}
        if filters.column not in types:
            return None
        return filters.condition(types[filters.column], session.dialect)

    def _ibis_input(self, backend: Any, upstream: str, filters: CursorFilters | None) -> Any:
        target = self.catalog.project.models[upstream]
        if self.catalog.is_inline(target):
            sql = compile_sql(target, self.catalog).sql(dialect=self.session.dialect)
            return backend.sql(sql, dialect=self.session.dialect)
        table = self.catalog.read_relation(target, self.spec)
        predicate = filters.predicate(target) if filters is not None else None
        if predicate is not None:
            query = exp.select("*").from_(table).where(predicate)
            return backend.sql(
                query.sql(dialect=self.session.dialect), dialect=self.session.dialect
            )
        database = (table.catalog, table.db) if table.catalog else (table.db or None)
        return backend.table(table.name, database=database)

    def _recover_watermark(self) -> None:
        """Take the table's own newest cursor value when it is ahead of the stored watermark.

        The watermark is recorded in the state store after the table commits; a run killed in
        between leaves it behind the table, and an ``append`` would then write those rows
        twice. The table itself says how far it got, so the next run converges.
        """
        spec = self.spec
        catalog = self.catalog
        if (
            not spec.options.cursor
            or catalog.full_refresh
            or catalog.window.since is not None
            or catalog.relations.get((self.conn, spec.schema, spec.name)) != "table"
        ):
            return
        from interlace.state.base import Watermark

        name = spec.options.cursor.column
        target = catalog.target_of(spec)
        types = {c.name: c.type for c in self.session.describe_relation(target)}
        if name not in types:
            return
        newest = exp.Max(this=st.column(name))
        stored = catalog.watermarks.get(spec.name)
        ahead: exp.Expr = exp.true()
        if stored is not None:
            as_type = exp.DataType.build(types[name], dialect=self.session.dialect)
            ahead = exp.GT(
                this=newest.copy(), expression=exp.cast(exp.Literal.string(stored.value), as_type)
            )
        row = first_row(self.session, exp.select(newest, ahead).from_(target))
        if row is None or row[0] is None or not row[1]:
            return
        text = cursor_text(row[0])
        catalog.watermarks[spec.name] = Watermark(
            model=spec.name,
            cursor_column=name,
            value=text,
            value_type=types[name],
            run_id=None,
            updated_at=0.0,
        )

    def _cursor_value(self) -> Any:
        """The ``cursor`` parameter: the backfill start, else the stored watermark minus the
        cursor's lookback (typed): where a root model starts reading its source."""
        window = self.catalog.window
        if window.since is not None:
            return window.since
        watermark = self.catalog.watermarks.get(self.spec.name)
        cursor = self.spec.options.cursor
        if watermark is None or cursor is None:
            return None
        as_type = exp.DataType.build(watermark.value_type, dialect="duckdb")
        try:
            bound = lower_bound(watermark.value, as_type, cursor.lookback)
        except ValueError as exc:
            raise lookback_error(self.spec, exc) from None
        row = first_row(self.session, exp.select(exp.cast(bound, as_type.copy())))
        return row[0] if row else watermark.value

    # -- writers
    def _register(self, source: Source) -> None:
        for name, data in source.registrations.items():
            self.session.register(name, data)

    def _unregister(self, source: Source) -> None:
        for name in source.registrations:
            try:
                self.session.unregister(name)
            except Exception:
                pass

    def _ensure_schema(self, schema: str) -> None:
        key = (self.conn, schema)
        if key in self.catalog.schemas:
            return
        with self.catalog.lock:  # concurrent CREATE SCHEMA of one name conflicts in DuckDB
            if key not in self.catalog.schemas:
                self.session.execute(st.create_schema(schema))
                self.catalog.schemas.add(key)

    def _write_view(self, query: exp.Expr) -> Outcome:
        with self.catalog.writer(self.spec):
            return self._replace_view(query)

    def _replace_view(self, query: exp.Expr) -> Outcome:
        spec = self.spec
        query = _project(Source(query=query, is_sql=True), spec, self.session)  # type: ignore[arg-type]
        as_relation = exp.Subquery(
            this=query.copy(), alias=exp.TableAlias(this=exp.to_identifier("__il_view"))
        )
        checks = self._audit(as_relation, "error")  # before the view is replaced
        self._ensure_schema(spec.schema)
        target = st.table(spec.schema, spec.name)
        kind = self.catalog.relations.get((self.conn, spec.schema, spec.name))
        replaced = False
        if kind == "table" and spec.database is not None:
            # DuckDB lists a PostgreSQL attachment's views as tables: try replacing it as a view
            try:
                with self.session.transaction():
                    self.session.execute(st.create_view(target, query))
                replaced = True
                self.published = True
            except Exception:
                pass  # it really is a table
        if not replaced:
            with self.session.transaction():
                if kind == "table":
                    self.session.execute(st.drop(target, "TABLE"))
                self.session.execute(st.create_view(target, query))
            self.published = True
        self.catalog.relations[(self.conn, spec.schema, spec.name)] = "view"
        checks += self._audit(st.table(spec.schema, spec.name), "warn")
        return Outcome(None, checks=checks)

    def _write_in_run(self, source: Source) -> Outcome:
        self._ensure_schema(self.catalog.run_schema)
        target = self.catalog.target_of(self.spec)
        self._register(source)
        try:
            if source.empty:
                raise UnsupportedResultError(
                    "returned no rows and declares no fields",
                    model=self.spec.name,
                    hint="declare fields= so an empty result still has columns",
                )
            self.session.execute(
                st.create_table_as(target, _project(source, self.spec, self.session), replace=True)
            )
        finally:
            self._unregister(source)
        self.catalog.in_run.add(self.spec.name)
        rows = self.session.fetch_all(st.count_rows(target))[0][0]
        return Outcome(int(rows), "kept for this run only")

    def _write_table(self, source: Source) -> Outcome:
        spec = self.spec
        engine = self.catalog.engines[self.conn]
        missing = get_strategy(spec.strategy).missing_capabilities(engine.capabilities)
        if missing:
            raise ModelExecutionError(
                f"strategy '{spec.strategy}' needs {', '.join(missing)}, which the "
                f"{engine.dialect} engine of connection '{self.conn}' does not support",
                model=spec.name,
                file=spec.file,
                line=spec.line,
                hint="choose another strategy for this model, or put it on a connection whose "
                "engine supports it",
            )
        with self.catalog.writer(spec):
            return self._stage_audit_publish(source)

    def _stage_audit_publish(self, source: Source) -> Outcome:
        """Stage, audit and publish in one transaction where the engine allows DDL in one
        (a single commit, and a failure anywhere leaves no trace); otherwise, and for an
        incremental write staged in a temporary table (:meth:`_stages_apart`), stage first and
        publish in a transaction of its own."""
        spec = self.spec
        session = self.session
        self._ensure_schema(spec.schema)
        staging = st.table(spec.schema, f"{STAGING_PREFIX}{spec.name}_{self.catalog.run_id[:8]}")
        transactional = self.catalog.engines[self.conn].capabilities.transactional_ddl
        temporary = self._stages_apart()
        if temporary:  # staged and committed first (session-private), published in one transaction
            staging = session.temporary_table(staging.name)
            transactional = False
        self._register(source)
        try:
            if transactional:
                with session.transaction():
                    outcome = self._stage_and_publish(source, staging, in_transaction=True)
            else:
                outcome = self._stage_and_publish(
                    source, staging, in_transaction=False, temporary=temporary
                )
        except _Unchanged as unchanged:
            return unchanged.outcome  # rolled back: the staged copy is gone, the table untouched
        except BaseException:
            if not transactional:
                try:
                    session.execute(st.drop(staging))
                except Exception:
                    pass  # the connection may be gone (interrupt); the next run cleans up
            raise
        finally:
            self._unregister(source)
        self.published = True
        self.catalog.relations[(self.conn, spec.schema, spec.name)] = "table"
        checks = outcome.checks + self._audit(st.table(spec.schema, spec.name), "warn")
        return replace(outcome, checks=checks)

    def _stages_apart(self) -> bool:
        """Stage in a temporary table, committed before the publish transaction, where the
        engine asks for it (``Capabilities.temporary_staging``). Only when the staged table
        stays apart from the table (an incremental write into an existing table of the
        connection's own database): a strategy that is not incremental (``replace``), a first
        write and a full refresh rename it into place."""
        spec = self.spec
        return (
            self.catalog.engines[self.conn].capabilities.temporary_staging
            and get_strategy(spec.strategy).incremental
            and not self.catalog.full_refresh
            and spec.database is None  # not a table in an attached database
            and self.catalog.relations.get((self.conn, spec.schema, spec.name)) == "table"
        )

    def _stage_and_publish(
        self, source: Source, staging: exp.Table, *, in_transaction: bool, temporary: bool = False
    ) -> Outcome:
        spec = self.spec
        session = self.session
        strategy = get_strategy(spec.strategy)
        target = st.table(spec.schema, spec.name)
        target_kind = self.catalog.relations.get((self.conn, spec.schema, spec.name))
        if source.empty:
            self._create_empty(staging, target, target_kind, temporary=temporary)
            rows = 0
        else:
            first_write = target_kind != "table" or self.catalog.full_refresh
            query = self._with_extras(
                _project(source, spec, session), strategy, source, first_write=first_write
            )
            created = session.fetch_one(
                st.create_table_as(staging, query, replace=True, temporary=temporary)
            )
            rows = int(created[0]) if created and created[0] is not None else -1
        if rows < 0:  # the engine does not report CTAS row counts
            rows = int(session.fetch_all(st.count_rows(staging))[0][0])
        staged_columns = session.describe_relation(staging)
        if strategy.keyed(spec):
            check_keys(session, spec, staging, [c.name for c in staged_columns])
        watermark = self._watermark(staging, staged_columns) if spec.options.cursor else None
        content_hash = None
        if (
            not strategy.incremental
            and not self.catalog.full_refresh
            and self.catalog.project.graph.children[spec.name]
        ):
            # only worth a scan when downstream models could skip on identical data
            content_hash = session.content_hash(staging)
            previous = self.catalog.states.get(spec.name)
            if (
                content_hash is not None
                and target_kind == "table"
                and previous is not None
                and previous.content_hash == content_hash
            ):
                if not in_transaction:
                    session.execute(st.drop(staging))
                raise _Unchanged(
                    Outcome(rows, "no data change", content_hash=content_hash, watermark=watermark)
                )
        full_refresh = self.catalog.full_refresh and target_kind == "table"
        target_columns = (
            session.describe(spec.schema, spec.name)
            if target_kind == "table" and not full_refresh
            else []
        )
        plan = (
            plan_schema(
                staged_columns,
                target_columns,
                spec.schema_mode,
                incremental=strategy.incremental,
                ignore=strategy.bookkeeping(spec),
            )
            if target_columns
            else SchemaPlan()
        )
        if plan.error and target_columns and "type change" in plan.error:
            null_only = self._null_only_columns(target, staged_columns, target_columns)
            if null_only:
                plan = plan_schema(
                    staged_columns,
                    target_columns,
                    spec.schema_mode,
                    incremental=strategy.incremental,
                    ignore=strategy.bookkeeping(spec),
                    null_only=null_only,
                )
        if plan.error:
            raise SchemaChangeError(
                plan.error,
                model=spec.name,
                file=spec.file,
                line=spec.line,
                hint=f"schema_mode is '{spec.schema_mode}': change the model back, or set "
                "schema_mode='flexible' (coerce), or rebuild the table with --full-refresh",
            )
        if plan.add_to_staging or plan.cast_staging:
            self._adjust_staging(staging, plan)
            staged_columns = session.describe_relation(staging)
        checks = self._audit(staging, "error")  # write-audit-publish: before the swap
        ctx = PublishContext(
            spec=spec,
            target=target,
            target_name=spec.name,
            staging=staging,
            target_kind=target_kind,
            staged_columns=staged_columns,
            target_columns=target_columns,
            capabilities=self.catalog.engines[self.conn].capabilities,
            dialect=session.dialect,
            run_ts=self.catalog.run_ts,
        )
        stats: dict[str, int] = {}
        try:
            with nullcontext() if in_transaction else session.transaction():
                for statement in _target_changes(target, plan):
                    session.execute(statement)
                for step in swap_in(ctx) if full_refresh else strategy.steps(ctx):
                    if step.record:
                        row = session.fetch_one(step.statement)
                        for name, value in zip(step.record, row or (), strict=False):
                            stats[name] = stats.get(name, 0) + int(value or 0)
                    else:
                        session.execute(step.statement)
        except Exception as exc:
            refused = self._ignored_mismatch(exc, staged_columns, target_columns, strategy)
            if refused is None:
                raise
            raise refused from exc
        stats = strategy.finish_stats(stats)
        if target_kind != "table" or full_refresh:
            stats = {"inserted": rows}
            published = staged_columns
        elif not strategy.incremental:
            published = staged_columns
        else:
            published = _published_columns(target_columns, plan)
        return Outcome(
            rows,
            stats=stats,
            columns=tuple((c.name, c.type) for c in published),
            schema_notes=tuple(plan.notes),
            message="; ".join(plan.notes) or None,
            data_changed=not strategy.incremental or any(stats.values()),
            content_hash=content_hash,
            watermark=watermark,
            checks=checks,
        )

    def _audit(self, relation: exp.Expr, severity: str) -> list[CheckResult]:
        """Run the model's checks of one severity; failing error checks stop the write."""
        checks = [
            c for c in self.catalog.project.checks.get(self.spec.name, []) if c.severity == severity
        ]
        if not checks:
            return []
        from interlace.plugins import check_runner

        runner = check_runner()
        assert runner is not None  # the project loader refuses declared checks without one
        results: list[CheckResult] = runner.run(
            self.session,
            self.spec,
            relation,
            checks,
            resolve=lambda ref: self.catalog.relation_of(ref, self.conn),
        )
        if severity == "error" and any(r.blocks for r in results):
            raise QualityCheckError(self.spec.name, results)
        return results

    def _watermark(self, staging: exp.Table, columns: list[Column]) -> tuple[str, str, str] | None:
        """The newest cursor value of this batch (stored only after a successful publish)."""
        spec = self.spec
        assert spec.options.cursor is not None
        name = spec.options.cursor.column
        types = {c.name: c.type for c in columns}
        if name not in types:
            raise ModelExecutionError(
                f"cursor column '{name}' is not in the result",
                model=spec.name,
                file=spec.file,
                line=spec.line,
                hint=f"result columns: {', '.join(types)}; keep the cursor column in the output",
            )
        newest = exp.Max(this=st.column(name))
        stored = self.catalog.watermarks.get(spec.name)
        behind: exp.Expr = exp.false()
        if stored is not None:  # a lookback re-reads older rows: never move the watermark back
            as_type = exp.DataType.build(types[name], dialect=self.session.dialect)
            behind = exp.LT(
                this=newest.copy(), expression=exp.cast(exp.Literal.string(stored.value), as_type)
            )
        row = first_row(self.session, exp.select(newest, behind).from_(staging))
        if row is None or row[0] is None:
            return None
        if row[1]:
            return name, stored.value, types[name]  # type: ignore[union-attr]
        return name, cursor_text(row[0]), types[name]

    def _with_extras(
        self, query: exp.Expr, strategy: Strategy, source: Source, *, first_write: bool
    ) -> exp.Expr:
        """Add the strategy's bookkeeping columns (SCD2 validity, soft-delete flags; the SCD2
        row hash only when the staged table becomes the table: later runs hash only the rows
        they write)."""
        spec = self.spec
        extras = strategy.staged_extras(spec, self.catalog.run_ts)
        extras += strategy.computed_extras(
            spec, lambda: _columns_of(query, source, spec, self.session), first_write=first_write
        )
        if not extras:
            return query
        src = exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier("__il_q")))
        return exp.select(
            exp.Star(),
            *[exp.alias_(value, exp.to_identifier(name, quoted=True)) for name, value in extras],
        ).from_(src)

    def _null_only_columns(
        self, target: exp.Table, staged: list[Column], existing: list[Column]
    ) -> frozenset[str]:
        """Table columns whose type differs from the result and that hold only NULLs."""
        staged_types = {c.name: c.type for c in staged}
        changed = [
            c.name for c in existing if c.name in staged_types and staged_types[c.name] != c.type
        ]
        if not changed:
            return frozenset()
        row = self.session.fetch_one(
            exp.select(*[exp.Count(this=st.column(name)) for name in changed]).from_(target.copy())
        )
        return frozenset(name for name, count in zip(changed, row or (), strict=False) if not count)

    def _ignored_mismatch(
        self,
        exc: Exception,
        staged: list[Column],
        target: list[Column],
        strategy: Strategy,
    ) -> SchemaChangeError | None:
        """Under schema_mode ``ignore`` nothing was checked before the write; when the database
        refuses it, say which columns of the table did not fit (not the engine's aliases)."""
        spec = self.spec
        if spec.schema_mode != "ignore" or not target or self.catalog.cancelled.is_set():
            return None
        found = differences(staged, target, ignore=strategy.bookkeeping(spec))
        if not found:
            return None
        return SchemaChangeError(
            f"cannot write the result into table {spec.schema}.{spec.name}: "
            f"{'; '.join(found)} (the database said: {first_line(exc)})",
            model=spec.name,
            file=spec.file,
            line=spec.line,
            hint="schema_mode 'ignore' writes without checking: change the model back, use "
            "schema_mode='safe' (adds columns, refuses unsafe changes) or 'flexible' (casts to "
            "the table's types), or rebuild the table with --full-refresh",
        )

    def _adjust_staging(self, staging: exp.Table, plan: SchemaPlan) -> None:
        for column in plan.add_to_staging:
            self.session.execute(
                st.add_column(
                    staging,
                    column.name,
                    exp.DataType.build(column.type, dialect=self.session.dialect),
                )
            )
        for change in plan.cast_staging:
            try:
                self.session.execute(
                    st.alter_type(
                        staging,
                        change.column,
                        exp.DataType.build(change.old, dialect=self.session.dialect),
                        try_cast=plan.try_cast,
                    )
                )
            except Exception as exc:  # a value that does not cast: say which column
                spec = self.spec
                raise SchemaChangeError(
                    f"cannot coerce column '{change.column}' from {change.new} to the table's "
                    f"{change.old}: {first_line(exc)}",
                    model=spec.name,
                    file=spec.file,
                    line=spec.line,
                    hint="fix the values, use schema_mode='lenient' (NULL where a value does not "
                    "fit), or rebuild the table with --full-refresh",
                ) from exc

    def _create_empty(
        self,
        staging: exp.Table,
        target: exp.Table,
        target_kind: str | None,
        *,
        temporary: bool = False,
    ) -> None:
        spec = self.spec
        if spec.options.fields:
            self.session.execute(
                st.create_table(
                    staging,
                    [(n, to_sql_type(t)) for n, t in spec.options.fields.items()],
                    temporary=temporary,
                )
            )
        elif target_kind == "table":
            self.session.execute(
                st.create_table_as(staging, st.select_all(target).limit(0), temporary=temporary)
            )
        else:
            raise UnsupportedResultError(
                "returned no rows and declares no fields, so the table's columns are unknown",
                model=spec.name,
                hint="declare fields={'col': 'int64', ...} so an empty result creates a typed table",
            )


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


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _drain(source: Source) -> None:
    for data in source.registrations.values():
        if hasattr(data, "read_next_batch"):
            for _ in data:
                pass


def user_error(
    exc: BaseException, model: str, root: Path, file: str | None = None, line: int | None = None
) -> ModelExecutionError:
    """A model's exception as a ModelExecutionError whose traceback shows only user code."""
    frames = traceback.extract_tb(exc.__traceback__)
    user = [f for f in frames if _is_user_file(f.filename, root)]
    shown = user or frames[-1:]
    tb = "".join(traceback.format_list(shown)) + "".join(traceback.format_exception_only(exc))
    location = None
    if user:
        last = user[-1]
        location = f"{_relative(last.filename, root)}:{last.lineno}"
    return ModelExecutionError(
        f"{type(exc).__name__}: {exc}",
        model=model,
        file=location.rsplit(":", 1)[0] if location else file,
        line=int(location.rsplit(":", 1)[1]) if location else line,
        user_traceback=tb,
    )


def _is_user_file(filename: str, root: Path) -> bool:
    try:
        Path(filename).resolve().relative_to(root)
    except (ValueError, OSError):
        return False
    return "site-packages" not in filename


def _relative(filename: str, root: Path) -> str:
    try:
        return str(Path(filename).resolve().relative_to(root))
    except ValueError:
        return filename


def now() -> float:
    return time.perf_counter()


def _columns_of(query: exp.Expr, source: Source, spec: ModelSpec, session: Session) -> list[str]:
    opts = spec.options
    if source.columns is not None and not (opts.fields or opts.column_mapping or opts.strict):
        return list(source.columns)
    sample = session.fetch_arrow(
        exp.select("*")
        .from_(exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier("__il_cols"))))
        .limit(0)
    )
    return list(sample.column_names)


class _Unchanged(Exception):
    """Raised inside the publish transaction to roll it back when the data did not change."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("unchanged")
        self.outcome = outcome


def _published_columns(target: list[Column], plan: SchemaPlan) -> list[Column]:
    """The table's columns after an incremental write: widened types, then added columns."""
    from interlace.engines.base import Column as Col

    widened = {c.column: c.new for c in plan.widen_target}
    out = [Col(c.name, widened.get(c.name, c.type)) for c in target]
    return out + [Col(c.name, c.type) for c in plan.add_to_target]


def _target_changes(target: exp.Table, plan: SchemaPlan) -> list[exp.Expr]:
    out: list[exp.Expr] = [
        st.add_column(target, c.name, exp.DataType.build(c.type)) for c in plan.add_to_target
    ]
    out += [st.alter_type(target, c.column, exp.DataType.build(c.new)) for c in plan.widen_target]
    return out


def check_keys(session: Session, spec: ModelSpec, staging: exp.Table, columns: list[str]) -> None:
    """Key columns must exist, be non-NULL and unique within the batch."""
    keys = list(spec.options.primary_key)
    missing = [k for k in keys if k not in columns]
    if missing:
        raise ModelExecutionError(
            f"primary_key column(s) {missing} are not in the result",
            model=spec.name,
            file=spec.file,
            line=spec.line,
            hint=f"result columns: {', '.join(columns)}",
        )
    key_cols = [st.column(k) for k in keys]
    null_check = exp.or_(*[exp.Is(this=c.copy(), expression=exp.null()) for c in key_cols])
    row = session.fetch_one(exp.select(exp.Count(this=exp.Star())).from_(staging).where(null_check))
    if row and row[0]:
        raise ModelExecutionError(
            f"{row[0]} row(s) have a NULL in primary_key {keys}",
            model=spec.name,
            file=spec.file,
            line=spec.line,
            hint="filter them out or fix the key; NULL keys cannot be merged",
        )
    if len(keys) == 1 and session.unique_integers(staging, keys[0]):
        return  # proved without a GROUP BY; otherwise the GROUP BY finds an example
    dup = session.fetch_one(
        exp.select(*key_cols, exp.alias_(exp.Count(this=exp.Star()), "n"))
        .from_(staging)
        .group_by(*[c.copy() for c in key_cols])
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
        .limit(1)
    )
    if dup:
        sample = dict(zip(keys, dup[:-1], strict=True))
        raise ModelExecutionError(
            f"duplicate primary_key values in one batch, e.g. {sample} appears {dup[-1]} times",
            model=spec.name,
            file=spec.file,
            line=spec.line,
            hint="deduplicate the result (e.g. QUALIFY row_number() OVER (PARTITION BY key "
            "ORDER BY updated_at DESC) = 1) so each key appears once",
        )
