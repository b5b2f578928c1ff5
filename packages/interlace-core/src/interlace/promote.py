"""Promote (SPEC §7.4): copy the tables of selected models from one environment to another.

Tables are copied inside the engine where it can read the other environment's database (DuckDB
ATTACHes the source file read-only and runs ``CREATE OR REPLACE TABLE ... AS SELECT * FROM
source``), all tables of one target connection in one transaction: either every table of the
promotion lands or none does. Elsewhere rows move as Arrow batches, never as pandas. Views are
then recreated from their definition in the target environment; ephemeral models are skipped.

The target environment's state learns what was copied (fingerprint, data version, schema
version, watermark), so change detection there treats the promoted tables as current.

Example::

    from interlace.promote import promote

    result = promote("path/to/project", "dev", "prod", ["+revenue"])
    print(result.rows)  # {'orders': 3, 'revenue': 2}
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlglot import exp

from interlace import statements as st
from interlace.errors import InterlaceError, first_line
from interlace.locks import hold_target
from interlace.promote_plan import (
    PromoteError,
    PromotePlan,
    PromoteStep,
    check_known_environments,
    check_sources_exist,
    check_writable_targets,
    make_plan,
    select_models,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from interlace.engines.base import Engine, Session
    from interlace.events import Event, EventBus
    from interlace.materialize.catalog import RunCatalog
    from interlace.project import Project
    from interlace.spec import ModelSpec
    from interlace.state.base import StateStore
    from interlace.status import RunOutcome

ALIAS_PREFIX = "__il_promote_"


@dataclass(frozen=True)
class PromoteResult:
    plan: PromotePlan
    dry_run: bool
    run_id: str | None = None
    rows: dict[str, int] = field(default_factory=dict)  # rows copied per table
    duration: float = 0.0


def promote(
    project: str | Path,
    from_env: str,
    to_env: str,
    select: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    *,
    all_models: bool = False,
    sources_only: bool = False,
    dry_run: bool = False,
    bus: EventBus | None = None,
    on_event: Callable[[Event], None] | None = None,
    run_id: str | None = None,
) -> PromoteResult:
    """Copy the tables of the selected models from ``from_env`` to ``to_env``.

    ``select`` uses the selection syntax of ``run`` (``orders``, ``+revenue``, ``tag:x``);
    ``all_models`` promotes every model, ``sources_only`` only root models (of the selection,
    or of the project). ``dry_run`` returns the plan and changes nothing. The copy is one run
    of the target environment (a :class:`~interlace.run_session.RunSession`: ``run_id`` may be
    chosen by the caller, :func:`~interlace.run_session.cancel_run` stops it, its events are
    numbered and kept by the state store like a run's).

    Raises :class:`PromoteError` for an unknown or identical environment, a source table that
    does not exist, or a read-only target connection; nothing is copied then.

    Example::

        plan = promote(".", "dev", "prod", ["orders"], dry_run=True).plan
        assert [s.action for s in plan.steps] == ["copy"]
    """
    from interlace.project import load_project

    root = Path(project).resolve()
    if from_env == to_env:
        raise PromoteError(
            f"--from and --to are both '{from_env}'",
            hint="promote copies between two environments, e.g. --from dev --to prod",
        )
    source = load_project(root, env=from_env)
    target = load_project(root, env=to_env)
    check_known_environments(source, target)
    names = select_models(target, select, exclude, all_models=all_models, sources_only=sources_only)
    plan = make_plan(source, target, names)
    check_writable_targets(plan, target)
    check_sources_exist(plan, source)
    if dry_run:
        return PromoteResult(plan, dry_run=True)
    return _Promotion(source, target, plan, bus, on_event, run_id).run()


# ---------------------------------------------------------------------------- copying


class _Promotion:
    """Carries out a checked plan and records it in the target environment's state."""

    def __init__(
        self,
        source: Project,
        target: Project,
        plan: PromotePlan,
        bus: EventBus | None,
        on_event: Callable[[Event], None] | None,
        run_id: str | None = None,
    ) -> None:
        from interlace.run_session import RunSession

        self.source = source
        self.target = target
        self.plan = plan
        self.on_event = on_event
        self.session = RunSession(target, run_id=run_id, bus=bus)
        self.run_id = self.session.run_id
        self.rows: dict[str, int] = {}
        self._timings: dict[str, float] = {}

    def _emit(self, event: Event) -> None:
        """Record the event in the target's state, then publish it numbered and stored."""
        self.session.recorder.record(event)
        self.session.events.publish(event)

    def run(self) -> PromoteResult:
        from interlace.events import RunFinished, RunStarted
        from interlace.materialize.catalog import RunCatalog
        from interlace.opening import open_state

        target = self.target
        session = self.session
        unsubscribe_user = session.bus.subscribe(self.on_event) if self.on_event else None
        work = [s for s in self.plan.steps if s.action != "skip"]
        try:
            session.open({s.target_connection for s in work})
            source_store = open_state(self.source)
        except BaseException:
            session.close()
            if unsubscribe_user is not None:
                unsubscribe_user()
            raise
        store, engines = session.store, session.engines
        catalog = RunCatalog(project=target, run_id=self.run_id, engines=engines)
        started = time.perf_counter()
        status: RunOutcome = "failed"
        error: str | None = None
        done = 0
        try:
            selection = ("promote", "--from", self.source.env, *(s.model for s in work))
            self._emit(
                RunStarted(
                    run_id=self.run_id,
                    project=target.name,
                    env=target.env,
                    models=tuple(s.model for s in work),
                    selection=selection,
                )
            )
            try:
                self._prepare(catalog, store)
                done += self._copy_tables(catalog, source_store)
                done += self._recreate_views(catalog)
                for step in self.plan.of("skip"):
                    self._skipped(step)
                status = "success"
            except InterlaceError as exc:
                error = exc.message
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                raise PromoteError(error) from exc
            finally:
                self._emit(
                    RunFinished(
                        run_id=self.run_id,
                        status=status,
                        duration=time.perf_counter() - started,
                        succeeded=done,
                        failed=0 if status == "success" else 1,
                        skipped=len(self.plan.of("skip")) if status == "success" else 0,
                        error=error,
                    )
                )
        finally:
            if unsubscribe_user is not None:
                unsubscribe_user()
            session.close()
            source_store.close()
        return PromoteResult(
            self.plan,
            dry_run=False,
            run_id=self.run_id,
            rows=dict(self.rows),
            duration=time.perf_counter() - started,
        )

    def _prepare(self, catalog: RunCatalog, store: StateStore) -> None:
        from interlace.fingerprint import fingerprints

        catalog.fingerprints = fingerprints(self.target)
        catalog.states = store.model_states(self.target.env)
        catalog.data_versions = {n: s.data_version for n, s in catalog.states.items()}
        catalog.snapshot()

    # -- tables
    def _copy_tables(self, catalog: RunCatalog, source_store: StateStore) -> int:
        """Copy per target connection, each in one transaction; then record every table."""
        from interlace.opening import open_engines

        copies = self.plan.of("copy")
        pairs = sorted({(s.source_connection, s.target_connection) for s in copies})
        for source_conn, target_conn in pairs:
            steps = [
                s
                for s in copies
                if (s.source_connection, s.target_connection) == (source_conn, target_conn)
            ]
            engine = catalog.engines[target_conn]
            other = open_engines(self.source, [source_conn])[source_conn]
            alias = ALIAS_PREFIX + source_conn
            try:
                attached = engine.attach(alias, other)
                session = engine.session()
                try:
                    self._copy(
                        catalog, session, steps, alias if attached is not None else None, other
                    )
                finally:
                    session.close()
            finally:
                engine.detach(alias)
                other.close()
        for step in copies:  # in graph order, so upstream versions are the new ones
            self._finished_table(catalog, step, source_store)
        return len(copies)

    def _copy(
        self,
        catalog: RunCatalog,
        session: Session,
        steps: list[PromoteStep],
        alias: str | None,
        other: Engine,
    ) -> None:
        source_session = other.session() if alias is None else None
        engine = catalog.engines[steps[0].target_connection]
        try:
            with ExitStack() as locks, session.transaction():
                # no run writes these tables meanwhile (taken in one order: no deadlock)
                for schema, name in sorted(
                    {(self.target.models[s.model].schema, s.model) for s in steps}
                ):
                    locks.enter_context(
                        hold_target(engine, session, schema, name, self.session.lock_wait)
                    )
                for step in steps:
                    spec, spec_from = self.target.models[step.model], self.source.models[step.model]
                    target = st.table(spec.schema, spec.name)
                    started = time.perf_counter()
                    session.execute(st.create_schema(spec.schema))
                    kind = catalog.relations.get((spec.connection, spec.schema, spec.name))
                    if kind == "view":
                        session.execute(st.drop(target, "VIEW"))
                    if alias is not None:
                        source = exp.table_(
                            exp.to_identifier(spec_from.name, quoted=True),
                            db=exp.to_identifier(spec_from.schema, quoted=True),
                            catalog=exp.to_identifier(alias, quoted=True),
                        )
                        rows = self._create(session, target, st.select_all(source))
                    else:
                        assert source_session is not None
                        rows = self._create_through_arrow(
                            session, source_session, target, spec_from
                        )
                    self.rows[step.model] = rows
                    self._timings[step.model] = time.perf_counter() - started
                    catalog.relations[(spec.connection, spec.schema, spec.name)] = "table"
        except InterlaceError:
            raise
        except Exception as exc:
            raise PromoteError(
                f"copying to {self.plan.where(self.target.env, steps[0].target_connection)} "
                f"failed: {type(exc).__name__}: {first_line(exc)}",
                hint="nothing was changed on that connection (the copy is one transaction)",
            ) from exc
        finally:
            if source_session is not None:
                source_session.close()

    @staticmethod
    def _create(session: Session, target: exp.Table, query: exp.Expr) -> int:
        created = session.fetch_one(st.create_table_as(target, query, replace=True))
        if created and created[0] is not None and int(created[0]) >= 0:
            return int(created[0])
        return int(session.fetch_all(st.count_rows(target))[0][0])

    def _create_through_arrow(
        self, session: Session, source_session: Session, target: exp.Table, spec_from: ModelSpec
    ) -> int:
        """Engines that cannot read each other's databases: move the rows as Arrow."""
        data = source_session.fetch_arrow(st.select_all(st.table(spec_from.schema, spec_from.name)))
        name = f"__il_promote_{spec_from.name}_{self.run_id[:8]}"
        session.register(name, data)
        try:
            return self._create(session, target, st.select_all(name))
        finally:
            session.unregister(name)

    def _finished_table(
        self, catalog: RunCatalog, step: PromoteStep, source_store: StateStore
    ) -> None:
        from interlace.events import ModelFinished, ModelStarted

        spec = self.target.models[step.model]
        session = catalog.engines[spec.connection].session()
        try:
            columns = session.describe(spec.schema, spec.name)
            content_hash = session.content_hash(st.table(spec.schema, spec.name))
        finally:
            session.close()
        previous = catalog.states.get(step.model)
        version = (previous.data_version if previous else 0) + 1
        catalog.data_versions[step.model] = version
        watermark = source_store.get_watermark(self.source.env, step.model)
        rows = self.rows[step.model]
        self._emit(ModelStarted(run_id=self.run_id, model=step.model))
        self._emit(
            ModelFinished(
                run_id=self.run_id,
                model=step.model,
                rows=rows,
                duration=self._timings.get(step.model, 0.0),
                materialize=spec.materialize,
                strategy=spec.strategy,
                message=f"promoted from {self.source.env}",
                stats={"inserted": rows},
                fingerprint=catalog.fingerprints.get(step.model),
                data_version=version,
                data_changed=True,
                content_hash=content_hash,
                upstream_versions=catalog.upstream_versions(step.model) or {},
                columns=tuple((c.name, c.type) for c in columns),
                watermark=(
                    (watermark.cursor_column, watermark.value, watermark.value_type)
                    if watermark is not None
                    else None
                ),
            )
        )

    # -- views
    def _recreate_views(self, catalog: RunCatalog) -> int:
        from interlace.events import ModelFinished, ModelStarted
        from interlace.materialize.runner import ModelRunner

        views = self.plan.of("view")
        for step in views:
            spec = self.target.models[step.model]
            session = catalog.engines[spec.connection].session()
            started = time.perf_counter()
            self._emit(ModelStarted(run_id=self.run_id, model=step.model))
            try:
                engine = catalog.engines[spec.connection]
                with hold_target(engine, session, spec.schema, spec.name, self.session.lock_wait):
                    outcome = ModelRunner(spec, catalog, session).run()
            except InterlaceError as exc:
                raise PromoteError(
                    f"recreating view {step.relation} in env '{self.target.env}' failed: "
                    f"{exc.message}",
                    hint=exc.hint or "the tables were promoted; fix the view and promote it again",
                ) from exc
            except Exception as exc:
                raise PromoteError(
                    f"recreating view {step.relation} in env '{self.target.env}' failed: "
                    f"{type(exc).__name__}: {first_line(exc)}",
                    hint="the tables were promoted; the view reads a relation the target "
                    "environment does not have: promote or build it there too",
                ) from exc
            finally:
                session.close()
            previous = catalog.states.get(step.model)
            self._emit(
                ModelFinished(
                    run_id=self.run_id,
                    model=step.model,
                    rows=None,
                    duration=time.perf_counter() - started,
                    materialize=spec.materialize,
                    strategy=spec.strategy,
                    message=f"recreated in {self.target.env}",
                    fingerprint=catalog.fingerprints.get(step.model),
                    data_version=previous.data_version if previous else 0,
                    upstream_versions=catalog.upstream_versions(step.model) or {},
                    columns=outcome.columns,
                )
            )
        return len(views)

    def _skipped(self, step: PromoteStep) -> None:
        from interlace.events import ModelSkipped

        self._emit(
            ModelSkipped(run_id=self.run_id, model=step.model, reason=step.reason or "skipped")
        )
