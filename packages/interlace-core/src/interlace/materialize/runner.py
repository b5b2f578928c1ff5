"""Running one model: compute its result (SQL or Python, with cursors and inputs brought
across connections), then write it as a view, an in-run table or a published table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from interlace import statements as st
from interlace.context import ModelContext
from interlace.errors import (
    InterlaceError,
    ModelExecutionError,
    UnsupportedResultError,
)
from interlace.fallback import inlined_between, view_error
from interlace.incremental import CursorFilters, cursor_text, first_row, lookback_error, lower_bound
from interlace.materialize.catalog import Outcome, RunCatalog, check_writable
from interlace.materialize.compile import compile_sql, project_result
from interlace.materialize.publish import TablePublisher
from interlace.materialize.tracebacks import relative_path, user_error
from interlace.outputs import Source, to_source
from interlace.strategies import get_strategy

if TYPE_CHECKING:
    from interlace.engines.base import Engine, Session
    from interlace.spec import ModelSpec


class ModelRunner(TablePublisher):
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
        shown = path if isinstance(path, str) else relative_path(str(path), root)
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
        if source is not None and source.is_sql and source.query is not None:
            try:  # kept for the model's column lineage (traced after the run)
                dialect = self.session.dialect
                self.catalog.ibis_queries[spec.name] = (source.query.sql(dialect=dialect), dialect)
            except Exception:
                pass
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
        # the type as the engine names it (MySQL's TIMESTAMP is an instant, DuckDB's is not)
        as_type = exp.DataType.build(watermark.value_type, dialect=self.session.dialect)
        try:
            bound = lower_bound(watermark.value, as_type, cursor.lookback)
        except ValueError as exc:
            raise lookback_error(self.spec, exc) from None
        row = first_row(self.session, exp.select(exp.cast(bound, as_type.copy())))
        if not row:
            return watermark.value
        value = row[0]
        if (
            isinstance(value, dt.datetime)
            and value.tzinfo is None
            and as_type.this in (exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ)
        ):  # a driver that gives instants without their zone (MySQL's): sessions run in UTC
            value = value.replace(tzinfo=dt.UTC)
        return value

    def _write_view(self, query: exp.Expr) -> Outcome:
        with self.catalog.writer(self.spec):
            return self._replace_view(query)

    def _replace_view(self, query: exp.Expr) -> Outcome:
        spec = self.spec
        query = project_result(Source(query=query, is_sql=True), spec, self.session)  # type: ignore[arg-type]
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
                st.create_table_as(
                    target, project_result(source, self.spec, self.session), replace=True
                )
            )
        finally:
            self._unregister(source)
        self.catalog.in_run.add(self.spec.name)
        rows = self.session.fetch_all(st.count_rows(target))[0][0]
        return Outcome(int(rows), "kept for this run only")


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _drain(source: Source) -> None:
    for data in source.registrations.values():
        if hasattr(data, "read_next_batch"):
            for _ in data:
                pass
