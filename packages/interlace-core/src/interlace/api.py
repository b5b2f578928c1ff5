"""The programmatic API: run a project from Python and get typed results back.

Example::

    import interlace

    result = interlace.run_sync("path/to/project", select=["+revenue"], env="dev")
    assert result.success, [m.error for m in result.failed]
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from interlace import statements as st
from interlace.errors import InterlaceError, StateStoreError
from interlace.events import Event, EventBus, RunFinished, RunStarted
from interlace.execution import Executor
from interlace.fallback import plan_fallbacks, reads, writes_relation
from interlace.fingerprint import fingerprints
from interlace.locks import PROCESS_LOCKS
from interlace.materialize.catalog import RUN_SCHEMA_PREFIX, RunCatalog
from interlace.materialize.compile import relation_of
from interlace.opening import has_state as has_state
from interlace.opening import open_engines as open_engines
from interlace.opening import open_state as open_state
from interlace.project import Project, load_project
from interlace.promote import PromoteResult as PromoteResult
from interlace.promote import promote as promote  # SPEC §7.4, re-exported here
from interlace.results import RunResult
from interlace.retry import RetryPolicy
from interlace.run_session import RunSession
from interlace.state_selection import select_with_state
from interlace.window import WindowError, check_window, count_windows, split_windows

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from interlace.quality import CheckResult
    from interlace.results import ModelResult
    from interlace.state.base import StateStore
    from interlace.status import RunOutcome


def incremental_models(project: Project, names: Iterable[str]) -> list[str]:
    """The models among ``names`` that read by a cursor (``cursor=``): those that
    ``since``/``until`` bound and that a ``window`` backfill splits into runs.

    Example::

        project = interlace.load_project(".")
        if not incremental_models(project, project.select(["+daily_revenue"])):
            print("--window would change nothing: no selected model is incremental")
    """
    return [name for name in names if project.models[name].options.cursor]


def _read_connections(project: Project, names: Iterable[str]) -> set[str]:
    """The connections of the models that ``names`` read: an upstream on another connection
    is streamed into its reader's session from that connection's engine, so a run of a
    selection opens those engines too (``interlace run kinds`` reading ``events`` on ``lake``).
    """
    return {project.models[up].connection for name in names for up in reads(project, name)}


def _with_in_run_ancestors(project: Project, names: list[str]) -> list[str]:
    """Python ephemeral/none upstreams exist only during a run: they run with their consumers."""
    needed = set(names)
    stack = list(names)
    while stack:
        for parent in project.graph.parents[stack.pop()]:
            spec = project.models[parent]
            if (
                parent not in needed
                and spec.fn is not None
                and spec.materialize in ("ephemeral", "none")
            ):
                needed.add(parent)
                stack.append(parent)
    return project.graph.sort(needed)


async def run(
    project: str | Path | Project = ".",
    select: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    *,
    env: str | None = None,
    force: bool = False,
    full_refresh: bool = False,
    since: str | None = None,
    until: str | None = None,
    window: str | None = None,
    max_workers: int | None = None,
    bus: EventBus | None = None,
    on_event: Callable[[Event], None] | None = None,
    lock_timeout: float | None = None,
    run_id: str | None = None,
    session: RunSession | None = None,
    state_env: str | None = None,
) -> RunResult:
    """Run the selected models of a project; never exits the process.

    Two runs never write one table at once: a model waits for a table another run is writing
    up to ``lock_timeout`` seconds (default ten minutes; 0 fails at once) and then fails with a
    :class:`~interlace.locks.LockTimeoutError`; after the wait it decides again whether it
    must run (the other run may have built it).

    ``since``/``until`` reprocess a window of incremental (``cursor=``) models without moving
    their stored watermarks (``until`` alone processes up to it and does move them);
    ``window="1d"`` splits ``since..until`` into one run per window, in order (at most
    :data:`~interlace.window.MAX_WINDOWS`); without incremental models among the selected ones
    there is nothing to split, and the models run once.
    ``run_id`` names the run (default: a new id); it can be cancelled by id from another thread
    with :func:`interlace.run_session.cancel_run`. A caller that manages the run's lifecycle
    itself (the service) passes an open :class:`~interlace.run_session.RunSession` instead.
    ``full_refresh`` rebuilds every selected table from scratch (incremental models reprocess
    all their input; the swap is still atomic). ``state_env`` is the environment that
    ``state:modified`` / ``state:new`` selectors compare with (:mod:`interlace.state_selection`).

    Load errors (bad config, bad model, cycle, empty selection, bad window) raise an
    :class:`~interlace.errors.InterlaceError`; model failures are reported in the result.
    """
    if not isinstance(project, Project):
        project = load_project(project, env=env)
    if window is not None and (session is not None or run_id is not None):
        raise WindowError(
            "a --window backfill is several runs: it takes no run id or session of its own"
        )
    if window is not None:
        if since is None:
            raise WindowError("--window needs --since", hint="e.g. --since 2024-01-01 --window 1d")
        select, exclude = list(select or ()), list(exclude or ())
        if not incremental_models(
            project, select_with_state(project, select, exclude, state_env=state_env)
        ):
            count_windows(since, until, window)  # bad bounds are errors all the same
            window = None  # no model reads by a cursor: nothing to split, one ordinary run
    if window is not None:
        assert since is not None
        parts: list[RunResult] = []
        for part in split_windows(since, until, window):
            result = await run(
                project,
                select,
                exclude,
                force=force,
                full_refresh=full_refresh,
                since=part.since,
                until=part.until,
                max_workers=max_workers,
                bus=bus,
                on_event=on_event,
                lock_timeout=lock_timeout,
                state_env=state_env,
            )
            parts.append(result)
            if not result.success:
                break
        last = parts[-1] if parts else None
        return RunResult(
            run_id=last.run_id if last else "",
            status=last.status if last else "success",
            env=project.env,
            duration=sum(p.duration for p in parts),
            models=last.models if last else {},
            error=last.error if last else None,
            windows=tuple(parts),
        )
    bounds = check_window(since, until)
    selection = tuple(select or ())
    chosen = select_with_state(project, list(selection), list(exclude or ()), state_env=state_env)
    names = _with_in_run_ancestors(project, chosen)
    owned = session is None
    if session is None:
        session = RunSession(project, run_id=run_id, bus=bus, lock_timeout=lock_timeout)
    unsubscribe_user = session.bus.subscribe(on_event) if on_event is not None else None
    run_id = session.run_id
    connections = {project.models[n].connection for n in names}
    started = time.perf_counter()
    status: RunOutcome = "failed"
    error: str | None = None
    results = {}
    catalog: RunCatalog | None = None
    try:
        needed = connections | _read_connections(project, names)
        if owned:
            session.open(needed)
        else:
            session.open_engines(needed)
        store, recorder, events = session.store, session.recorder, session.events
        catalog = RunCatalog(
            project=project,
            run_id=run_id,
            engines=session.engines,
            window=bounds,
            full_refresh=full_refresh,
            store=store,
            cancelled=session.cancelled,
        )
        run_started = RunStarted(
            run_id=run_id,
            project=project.name,
            env=project.env,
            models=tuple(names),
            selection=selection,
            force=force,
        )
        recorder.record(run_started)  # a state store that cannot be written stops the run here
        events.publish(run_started)
        try:
            await asyncio.to_thread(_prepare, catalog, store, names)
            executor = Executor(
                catalog,
                events,
                max_workers or project.config.executor.max_workers,
                force=force or full_refresh,
                default_retry=_default_retry(project),
                breakers=session.breakers.for_run(project, connections),
                recorder=recorder,
                lock_wait=session.lock_wait,
            )
            session.on_cancel(executor.cancel)
            results = await executor.run(names)
            status = "success" if all(r.ok for r in results.values()) else "failed"
            await asyncio.to_thread(_record_versions, catalog, store, results)
            if executor.record_errors:
                status = "failed"
                error = executor.record_errors[0].message
        except asyncio.CancelledError:
            status, error = "cancelled", "run cancelled"
            raise
        except InterlaceError as exc:
            error = str(exc)
            raise
        finally:
            succeeded, failed, skipped = (
                sum(1 for r in results.values() if r.status == s)
                for s in ("success", "failed", "skipped")
            )
            if any(r.status == "cancelled" for r in results.values()):
                status = "cancelled"
            finished = RunFinished(
                run_id=run_id,
                status=status,
                duration=time.perf_counter() - started,
                succeeded=succeeded,
                failed=failed,
                skipped=skipped,
                error=error,
            )
            try:
                recorder.record(finished)
            except StateStoreError as exc:
                status, error = "failed", error or exc.message
                finished = replace(finished, status="failed", error=error)
            events.publish(finished)
    finally:
        if unsubscribe_user is not None:
            unsubscribe_user()
        if catalog is not None:
            _cleanup(catalog)
        if owned:
            session.close()
    return RunResult(
        run_id=run_id,
        status=status,
        env=project.env,
        duration=time.perf_counter() - started,
        models=results,
        error=error,
    )


def _default_retry(project: Project) -> RetryPolicy | None:
    cfg = project.config.retry
    if cfg.max_attempts <= 1:
        return None
    return RetryPolicy(
        max_attempts=cfg.max_attempts,
        initial_delay=cfg.initial_delay,
        max_delay=cfg.max_delay,
        exponential_base=cfg.exponential_base,
        jitter=cfg.jitter,
    )


def run_sync(
    project: str | Path | Project = ".",
    select: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    **kwargs: object,
) -> RunResult:
    """Blocking :func:`run` for scripts and notebooks without an event loop."""
    return asyncio.run(run(project, select, exclude, **kwargs))  # type: ignore[arg-type]


def _prepare(catalog: RunCatalog, store: StateStore, names: list[str]) -> None:
    """Read the catalog and state once; remove what a killed run left behind."""
    project = catalog.project
    catalog.lock_generation = PROCESS_LOCKS.generation
    # first the databases (a DuckDB file another process writes is waited for here), then the
    # state: read after the wait, it holds what that other run recorded
    catalog.snapshot()
    store.abandon_dead_runs(time.time())  # runs a kill -9 left "running"
    for name in store.interrupted_models(project.env):
        # its table may hold a write whose state was never recorded: count it as changed
        store.recover_model(project.env, name)
    catalog.fingerprints = fingerprints(project)
    catalog.states = store.model_states(project.env)
    catalog.data_versions = {name: s.data_version for name, s in catalog.states.items()}
    catalog.read_source_versions(store, names)
    for name in names:
        if project.models[name].options.cursor and not catalog.full_refresh:
            watermark = store.get_watermark(project.env, name)
            if watermark is not None:
                catalog.watermarks[name] = watermark
    for conn, schema, name in catalog.leftovers():
        session = catalog.engines[conn].session()
        try:
            session.execute(st.drop(st.table(schema, name)))
        finally:
            session.close()
        catalog.relations.pop((conn, schema, name), None)
    for conn, schema in list(catalog.schemas):
        if schema.startswith(RUN_SCHEMA_PREFIX) and catalog.drop_if_abandoned(conn, schema):
            catalog.schemas.discard((conn, schema))
    plan_fallbacks(catalog, names)


def _record_versions(
    catalog: RunCatalog, store: StateStore, results: dict[str, ModelResult]
) -> None:
    """What each built model was (for plan and state selection), and the column lineage of
    Python models traced from the SQL ibis compiled; a failure here never fails the run."""
    from interlace.project_lineage import record_run

    try:
        record_run(catalog, store, results)
    except Exception:  # lineage is a by-product: a run that built its tables succeeded
        pass


def _cleanup(catalog: RunCatalog) -> None:
    catalog.fallbacks.release()
    try:
        for conn, schema in list(catalog.schemas):
            if schema == catalog.run_schema:
                session = catalog.engines[conn].session()
                try:
                    session.execute(st.drop_schema(schema))
                except Exception:
                    pass
                finally:
                    session.close()
    finally:
        catalog.release_claims()


# ---------------------------------------------------------------------------- quality checks only


async def check(
    project: str | Path | Project = ".",
    select: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    *,
    env: str | None = None,
    max_workers: int | None = None,
    bus: EventBus | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> list[CheckResult]:
    """Run the declared quality checks of the selected models on their published tables and
    views, without rebuilding anything (``interlace run --quality-only``).

    Checks of both severities run; nothing is written. The results are published as
    ``CheckFinished`` events of one run (recorded in the state store) and returned in model
    order. Models that are not tables or views (ephemeral, ``none``) have no relation to check.

    Example::

        results = interlace.api.check_sync("path/to/project", select=["orders"])
        assert not any(r.blocks for r in results), [r.message for r in results if r.blocks]
    """
    from interlace.events import CheckFinished
    from interlace.plugins import check_runner

    if not isinstance(project, Project):
        project = load_project(project, env=env)
    selection = tuple(select or ())
    names = checked_models(project, selection, exclude)
    if not names:
        return []
    runner = check_runner()
    assert runner is not None  # the project loader refuses declared checks without one
    session = RunSession(project, bus=bus)
    unsubscribe_user = session.bus.subscribe(on_event) if on_event is not None else None
    run_id = session.run_id
    session.open({project.models[n].connection for n in names})
    engines = session.engines
    catalog = RunCatalog(project=project, run_id=run_id, engines=engines, store=session.store)

    def publish(event: Event) -> None:
        """Record (state store), then number and publish; a failed record fails the check run."""
        session.recorder.record(event)
        session.events.publish(event)

    limit = asyncio.Semaphore(max_workers or project.config.executor.max_workers)
    started = time.perf_counter()

    def check_model(name: str) -> list[CheckResult]:
        spec = project.models[name]
        session = engines[spec.connection].session()
        try:
            results: list[CheckResult] = runner.run(
                session,
                spec,
                catalog.target_of(spec),
                project.checks[name],
                resolve=lambda ref: relation_of(catalog, ref, spec.connection),
            )
            return results
        finally:
            session.close()

    async def one(name: str) -> list[CheckResult]:
        async with limit:
            return await asyncio.to_thread(check_model, name)

    per_model: list[list[CheckResult]] = []
    error: str | None = None
    try:
        publish(
            RunStarted(
                run_id=run_id,
                project=project.name,
                env=project.env,
                models=tuple(names),
                selection=selection,
            )
        )
        try:
            per_model = list(await asyncio.gather(*(one(name) for name in names)))
        except InterlaceError as exc:
            error = str(exc)
            raise
        finally:
            for result in (r for results in per_model for r in results):
                publish(CheckFinished.of(run_id, result))
            failed = sum(1 for results in per_model if any(r.blocks for r in results))
            publish(
                RunFinished(
                    run_id=run_id,
                    status="failed"
                    if failed or error or len(per_model) < len(names)
                    else "success",
                    duration=time.perf_counter() - started,
                    succeeded=len(per_model) - failed,
                    failed=failed,
                    skipped=0,
                    error=error,
                )
            )
    finally:
        if unsubscribe_user is not None:
            unsubscribe_user()
        session.close()
    return [result for results in per_model for result in results]


def checked_models(
    project: Project, select: Iterable[str] | None = None, exclude: Iterable[str] | None = None
) -> list[str]:
    """The selected models :func:`check` checks: tables and views that declare checks."""
    return [
        name
        for name in project.select(list(select or ()), list(exclude or ()))
        if project.checks.get(name) and writes_relation(project.models[name])
    ]


def check_sync(
    project: str | Path | Project = ".",
    select: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    **kwargs: object,
) -> list[CheckResult]:
    """Blocking :func:`check` for scripts and notebooks without an event loop."""
    return asyncio.run(check(project, select, exclude, **kwargs))  # type: ignore[arg-type]
