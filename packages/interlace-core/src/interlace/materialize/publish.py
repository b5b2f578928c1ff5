"""Publishing a model's result atomically: stage, audit, then the strategy's statements in one
transaction.

Why one module over 500 lines: write-audit-publish is one protocol (staging, schema plan,
key checks, audit, the strategy's statements and their rollback); split, its steps would be
read out of order.
"""

from __future__ import annotations

import datetime as dt
import time
from contextlib import nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlglot import exp

from interlace import statements as st
from interlace.errors import (
    ModelExecutionError,
    SchemaChangeError,
    UnsupportedResultError,
    first_line,
)
from interlace.incremental import cursor_text, first_row
from interlace.materialize import versions
from interlace.materialize.catalog import STAGING_PREFIX, Outcome, RunCatalog, null_only_columns
from interlace.materialize.compile import columns_of, project_result, relation_of
from interlace.quality import CheckResult, QualityCheckError
from interlace.schema_modes import SchemaPlan, differences
from interlace.strategies import PublishContext, Strategy, get_strategy
from interlace.strategies.replace import swap_in
from interlace.types import to_sql_type

if TYPE_CHECKING:
    from interlace.engines.base import Column, Session
    from interlace.outputs import Source
    from interlace.spec import ModelSpec


class TablePublisher:
    """Stage, audit and publish a model's result as a table, atomically (write-audit-publish).

    The part of :class:`~interlace.materialize.runner.ModelRunner` that writes: the result lands
    in a staging table beside the target, error checks run on it, and the strategy's statements
    publish it in one transaction; any failure before the commit leaves the target as it was.
    """

    spec: ModelSpec
    catalog: RunCatalog
    session: Session
    conn: str
    published: bool

    def _ensure_schema(self, schema: str) -> None:
        key = (self.conn, schema)
        if key in self.catalog.schemas:
            return
        with self.catalog.lock:  # concurrent CREATE SCHEMA of one name conflicts in DuckDB
            if key not in self.catalog.schemas:
                if schema == self.catalog.run_schema:
                    self.catalog.claim_run_schema(self.conn)
                self.session.execute(st.create_schema(schema))
                self.catalog.schemas.add(key)

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
        if self.catalog.engines[self.conn].capabilities.publish == "versioned_view":
            return self._publish_version(source)
        self._ensure_schema(spec.schema)
        staging = st.table(spec.schema, f"{STAGING_PREFIX}{spec.name}_{self.catalog.run_id[:8]}")
        transactional = self.catalog.engines[self.conn].capabilities.publish == "transaction"
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

    def _publish_version(self, source: Source) -> Outcome:
        """Write a new version table, audit it, and publish it with one CREATE OR REPLACE VIEW
        (:mod:`interlace.materialize.versions`): a failure anywhere before the view statement
        leaves the published version as it was."""
        spec = self.spec
        session = self.session
        catalog = self.catalog
        self._ensure_schema(spec.schema)
        key = (self.conn, spec.schema, spec.name)
        kind = catalog.relations.get(key)
        shown = None
        if kind == "view":
            text = session.view_query(spec.schema, spec.name)
            shown = versions.shown_version(spec.name, text, session.dialect) if text else None
        existing = [
            n
            for (c, schema, n) in list(catalog.relations)
            if c == self.conn and schema == spec.schema and versions.is_version(spec.name, n)
        ]
        for name in versions.leftovers(spec.name, existing, shown):  # a write that died
            session.execute(st.drop(st.table(spec.schema, name)))
            catalog.relations.pop((self.conn, spec.schema, name), None)
            existing.remove(name)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        new = st.table(spec.schema, versions.version_name(spec.name, now))
        view = st.table(spec.schema, spec.name)
        incremental = get_strategy(spec.strategy).incremental and not catalog.full_refresh
        base: exp.Table | None = None
        if incremental and shown is not None:
            base = st.table(spec.schema, shown)
        elif incremental and kind == "table":  # a table written before publishing by version
            base = view
        staging = st.table(spec.schema, f"{STAGING_PREFIX}{spec.name}_{catalog.run_id[:8]}")
        self._register(source)
        try:
            if base is not None:  # the new version starts as a copy of the published one
                session.execute(st.create_table_as(new, st.select_all(base)))
            outcome = self._stage_and_publish(
                source,
                staging,
                in_transaction=False,
                version=(new, "table" if base is not None else None),
                has_data=shown is not None or kind == "table",
            )
        except BaseException as exc:
            for leftover in (staging, new):
                try:
                    session.execute(st.drop(leftover))
                except Exception:
                    pass  # the connection may be gone (interrupt); the next write cleans up
            if isinstance(exc, _Unchanged):
                return exc.outcome
            raise
        finally:
            self._unregister(source)
        if kind == "table":  # once: a plain table of the model's name gives way to the view
            session.execute(st.drop(view))
        session.execute(st.create_view(view, st.select_all(new)))  # the publish
        self.published = True
        catalog.relations[key] = "view"
        catalog.relations[(self.conn, spec.schema, new.name)] = "table"
        kept = catalog.engines[self.conn].capabilities.versions_kept
        for name in versions.expired(spec.name, [*existing, new.name], new.name, kept):
            try:
                session.execute(st.drop(st.table(spec.schema, name)))
                catalog.relations.pop((self.conn, spec.schema, name), None)
            except Exception:
                pass  # still read by someone, or gone: a later write retries
        checks = outcome.checks + self._audit(view, "warn")
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
        self,
        source: Source,
        staging: exp.Table,
        *,
        in_transaction: bool,
        temporary: bool = False,
        version: tuple[exp.Table, str | None] | None = None,
        has_data: bool | None = None,
    ) -> Outcome:
        """``version``: the strategy writes into this unpublished version table (and whether
        it already holds the published rows, ``'table'``, or not yet exists, None) instead of
        the model's table; ``has_data``: whether the model has a published table whose data
        an identical result need not replace (by default: the target is a table)."""
        spec = self.spec
        session = self.session
        strategy = get_strategy(spec.strategy)
        if version is None:
            target = st.table(spec.schema, spec.name)
            target_kind = self.catalog.relations.get((self.conn, spec.schema, spec.name))
        else:
            target, target_kind = version
        if source.empty:
            self._create_empty(staging, target, target_kind, temporary=temporary)
            rows = 0
        else:
            first_write = target_kind != "table" or self.catalog.full_refresh
            query = self._with_extras(
                project_result(source, spec, session), strategy, source, first_write=first_write
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
            content_hash = session.content_hash(staging, staged_columns)
            previous = self.catalog.states.get(spec.name)
            if has_data is None:
                has_data = target_kind == "table"
            if (
                content_hash is not None
                and has_data
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
            session.describe(spec.schema, target.name)
            if target_kind == "table" and not full_refresh
            else []
        )
        plan = (
            strategy.schema_plan(spec, staged_columns, target_columns)
            if target_columns
            else SchemaPlan()
        )
        if plan.error and target_columns and "type change" in plan.error:
            null_only = self._null_only_columns(target, staged_columns, target_columns)
            if null_only:
                plan = strategy.schema_plan(spec, staged_columns, target_columns, null_only)
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
            target_name=target.name,
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
        project = self.catalog.project
        later = {id(a.check) for a in project.audits if a.model == self.spec.name}  # run after
        checks = [
            c
            for c in project.checks.get(self.spec.name, [])
            if c.severity == severity and id(c) not in later
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
            resolve=lambda ref: relation_of(self.catalog, ref, self.conn),
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
            spec, lambda: columns_of(query, source, spec, self.session), first_write=first_write
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
        return null_only_columns(self.session, target, changed)

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


def now() -> float:
    return time.perf_counter()
