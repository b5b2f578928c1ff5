"""The parallel DAG executor.

An asyncio loop keeps a ready queue of models whose upstreams are done and dispatches up to
``max_workers`` of them to threads, each with its own engine session. A failure fails its
descendants only; independent branches finish. Cancellation (Ctrl-C, an API call) interrupts the
running statements, and every model that did not finish is reported as cancelled.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from interlace.errors import InterlaceError, ModelExecutionError
from interlace.events import (
    EventBus,
    ModelFailed,
    ModelFinished,
    ModelQueued,
    ModelSkipped,
    ModelStarted,
)
from interlace.materialize import ModelRunner, Outcome, RunCatalog, user_error
from interlace.results import ModelResult

if TYPE_CHECKING:
    from pathlib import Path

    from interlace.engines.base import Session


class Executor:
    def __init__(self, catalog: RunCatalog, bus: EventBus, max_workers: int) -> None:
        self.catalog = catalog
        self.bus = bus
        self.max_workers = max_workers
        self.run_id = catalog.run_id
        self._sessions: dict[str, Session] = {}
        self._sessions_lock = threading.Lock()
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop dispatching and interrupt running statements (thread-safe)."""
        self._cancelled.set()
        with self._sessions_lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            try:
                session.interrupt()
            except Exception:
                pass

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    # ------------------------------------------------------------------ one model (worker thread)

    def _execute(self, name: str) -> tuple[Outcome | None, BaseException | None, float]:
        spec = self.catalog.project.models[name]
        engine = self.catalog.engines[spec.connection]
        started = time.perf_counter()
        session = None
        try:
            if self._cancelled.is_set():
                raise asyncio.CancelledError()
            session = engine.session()
            with self._sessions_lock:
                self._sessions[name] = session
            outcome = ModelRunner(spec, self.catalog, session).run()
            return outcome, None, time.perf_counter() - started
        except BaseException as exc:
            return None, exc, time.perf_counter() - started
        finally:
            with self._sessions_lock:
                self._sessions.pop(name, None)
            if session is not None:
                try:
                    session.close()
                except Exception:
                    pass

    # ------------------------------------------------------------------ the DAG loop

    async def run(self, names: list[str]) -> dict[str, ModelResult]:
        project = self.catalog.project
        selected = set(names)
        order = {name: i for i, name in enumerate(names)}
        waiting = {n: {p for p in project.graph.parents[n] if p in selected} for n in names}
        results: dict[str, ModelResult] = {}
        ready = sorted((n for n in names if not waiting[n]), key=order.__getitem__)
        for name in names:
            self.bus.publish(ModelQueued(self.run_id, name))
        loop = asyncio.get_running_loop()
        running: dict[asyncio.Future[tuple[Outcome | None, BaseException | None, float]], str] = {}
        pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="interlace")
        try:
            while ready or running:
                while ready and len(running) < self.max_workers and not self.cancelled:
                    name = ready.pop(0)
                    self.bus.publish(ModelStarted(self.run_id, name))
                    future = loop.run_in_executor(pool, self._execute, name)
                    running[future] = name
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: order[running[f]]):
                    name = running.pop(future)
                    outcome, error, duration = future.result()
                    if error is None and outcome is not None:
                        results[name] = self._succeeded(name, outcome, duration)
                        for child in project.graph.children[name]:
                            if child in waiting:
                                waiting[child].discard(name)
                                if not waiting[child] and child not in results:
                                    ready.append(child)
                        ready.sort(key=order.__getitem__)
                    else:
                        assert error is not None
                        results[name] = self._failed(name, error, duration)
                        self._skip_descendants(name, names, results)
        except asyncio.CancelledError:
            self.cancel()
            for future in list(running):
                name = running.pop(future)
                try:
                    _outcome, _error, duration = await asyncio.shield(future)
                except BaseException:
                    duration = 0.0
                results[name] = ModelResult(
                    name, "cancelled", duration=duration, error="cancelled while running"
                )
            raise
        finally:
            pool.shutdown(wait=True)
            for name in names:
                if name not in results:
                    results[name] = ModelResult(name, "cancelled", skip_reason="run cancelled")
                    self.bus.publish(ModelSkipped(self.run_id, name, "run cancelled"))
        return {name: results[name] for name in names}

    def _succeeded(self, name: str, outcome: Outcome, duration: float) -> ModelResult:
        spec = self.catalog.project.models[name]
        self.bus.publish(
            ModelFinished(
                self.run_id,
                name,
                outcome.rows,
                duration,
                spec.materialize,
                spec.strategy,
                outcome.message,
            )
        )
        return ModelResult(
            name,
            "success",
            outcome.rows,
            duration,
            spec.materialize,
            spec.strategy,
            outcome.message,
        )

    def _failed(self, name: str, error: BaseException, duration: float) -> ModelResult:
        spec = self.catalog.project.models[name]
        if self.cancelled and not isinstance(error, InterlaceError):
            result = ModelResult(name, "cancelled", duration=duration, error="cancelled")
            self.bus.publish(ModelSkipped(self.run_id, name, "run cancelled"))
            return result
        if not isinstance(error, InterlaceError):
            error = _engine_error(error, spec.name, self.catalog.project.root)
        tb = getattr(error, "user_traceback", None)
        message = error.message if isinstance(error, InterlaceError) else str(error)
        if isinstance(error, InterlaceError) and error.hint:
            message += f" (hint: {error.hint})"
        location = error.location if isinstance(error, InterlaceError) else None
        if location is None:
            location = spec.location
        self.bus.publish(
            ModelFailed(self.run_id, name, message, type(error).__name__, duration, location, tb)
        )
        return ModelResult(
            name,
            "failed",
            None,
            duration,
            spec.materialize,
            spec.strategy,
            error=message,
            error_type=type(error).__name__,
            location=location,
            traceback=tb,
        )

    def _skip_descendants(
        self, name: str, names: list[str], results: dict[str, ModelResult]
    ) -> None:
        graph = self.catalog.project.graph
        selected = set(names)
        for child in graph.sort(graph.descendants(name) & selected):
            if child in results:
                continue
            reason = f"upstream '{name}' failed"
            results[child] = ModelResult(child, "skipped", skip_reason=reason)
            self.bus.publish(ModelSkipped(self.run_id, child, reason))


def _engine_error(error: BaseException, model: str, root: Path) -> InterlaceError:
    """An engine or unexpected error, worded for people."""
    module = type(error).__module__.split(".", 1)[0]
    if module in ("duckdb", "psycopg", "sqlglot", "_duckdb"):
        text = str(error).strip()
        return ModelExecutionError(
            f"{type(error).__name__}: {text}",
            model=model,
            hint="the database refused a statement of this model",
        )
    return user_error(error, model, root)
