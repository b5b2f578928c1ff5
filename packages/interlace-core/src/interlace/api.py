"""The programmatic API: run a project from Python and get typed results back.

Example::

    import interlace

    result = interlace.run_sync("path/to/project", select=["+revenue"], env="dev")
    assert result.success, [m.error for m in result.failed]
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from interlace import statements as st
from interlace.errors import InterlaceError
from interlace.events import Event, EventBus, RunFinished, RunStarted
from interlace.execution import Executor
from interlace.materialize import RunCatalog
from interlace.project import Project, load_project
from interlace.results import RunResult
from interlace.state import SQLiteStateStore, StateRecorder

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from interlace.engines.base import Engine


def open_engines(project: Project, names: Iterable[str] | None = None) -> dict[str, Engine]:
    """Engines for the project's connections (all, or those ``names``)."""
    from interlace.engines.duckdb import DuckDBEngine

    wanted = set(names) if names is not None else set(project.config.connections)
    return {
        name: DuckDBEngine(name, cfg, project.root)
        for name, cfg in project.config.connections.items()
        if name in wanted
    }


def open_state(project: Project) -> SQLiteStateStore:
    path = Path(project.config.state.path)
    if not path.is_absolute():
        path = project.root / path
    return SQLiteStateStore(path)


def _with_in_run_ancestors(project: Project, names: list[str]) -> list[str]:
    """Python ephemeral/none upstreams exist only during a run: they run with their consumers."""
    needed = set(names)
    stack = list(names)
    while stack:
        for parent in project.graph.parents[stack.pop()]:
            spec = project.models[parent]
            if (
                parent not in needed
                and spec.kind == "python"
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
    max_workers: int | None = None,
    bus: EventBus | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> RunResult:
    """Run the selected models of a project; never exits the process.

    Load errors (bad config, bad model, cycle, empty selection) raise an
    :class:`~interlace.errors.InterlaceError`; model failures are reported in the result.
    """
    if not isinstance(project, Project):
        project = load_project(project, env=env)
    selection = tuple(select or ())
    names = _with_in_run_ancestors(project, project.select(list(selection), list(exclude or ())))
    bus = bus or EventBus()
    if on_event is not None:
        bus.subscribe(on_event)
    run_id = uuid.uuid4().hex
    store = open_state(project)
    unsubscribe = bus.subscribe(StateRecorder(store))
    connections = {project.models[n].connection for n in names}
    engines = open_engines(project, connections)
    catalog = RunCatalog(project=project, run_id=run_id, engines=engines)
    started = time.perf_counter()
    executor: Executor | None = None
    status = "failed"
    error: str | None = None
    results = {}
    try:
        bus.publish(RunStarted(run_id, project.name, project.env, tuple(names), selection, force))
        try:
            await asyncio.to_thread(_prepare, catalog)
            executor = Executor(catalog, bus, max_workers or project.config.executor.max_workers)
            results = await executor.run(names)
            status = "success" if all(r.ok for r in results.values()) else "failed"
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
            if status != "cancelled" and any(r.status == "cancelled" for r in results.values()):
                status = "cancelled"
            bus.publish(
                RunFinished(
                    run_id,
                    status,
                    time.perf_counter() - started,
                    succeeded,
                    failed,
                    skipped,
                    error=error,
                )
            )
    finally:
        unsubscribe()
        _cleanup(catalog)
        for engine in engines.values():
            engine.close()
        store.close()
    return RunResult(
        run_id=run_id,
        status=status,  # type: ignore[arg-type]
        env=project.env,
        duration=time.perf_counter() - started,
        models=results,
        error=error,
    )


def run_sync(
    project: str | Path | Project = ".",
    select: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    **kwargs: object,
) -> RunResult:
    """Blocking :func:`run` for scripts and notebooks without an event loop."""
    return asyncio.run(run(project, select, exclude, **kwargs))  # type: ignore[arg-type]


def _prepare(catalog: RunCatalog) -> None:
    """Read the catalog once and remove what a killed run left behind."""
    catalog.snapshot()
    for conn, schema, name in catalog.leftovers():
        session = catalog.engines[conn].session()
        try:
            session.execute(st.drop(st.table(schema, name)))
        finally:
            session.close()
        catalog.relations.pop((conn, schema, name), None)
    for conn, schema in list(catalog.schemas):
        if schema.startswith("__il_run_"):
            session = catalog.engines[conn].session()
            try:
                session.execute(st.drop_schema(schema))
            finally:
                session.close()
            catalog.schemas.discard((conn, schema))


def _cleanup(catalog: RunCatalog) -> None:
    for conn, schema in list(catalog.schemas):
        if schema == catalog.run_schema:
            session = catalog.engines[conn].session()
            try:
                session.execute(st.drop_schema(schema))
            except Exception:
                pass
            finally:
                session.close()
