"""The parallel DAG executor.

An asyncio loop keeps a ready queue of models whose upstreams are done and dispatches up to
``max_workers`` of them to threads, each with its own engine session. Before dispatch, change
detection decides whether the model must run at all. A failure (after the model's retries) fails
its descendants only; independent branches finish. Cancellation (Ctrl-C, an API call) interrupts
the running statements, and every model that did not finish is reported as cancelled.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from interlace.change_detection import Decision, decide
from interlace.errors import InterlaceError, ModelExecutionError
from interlace.events import (
    CheckFinished,
    EventBus,
    ModelFailed,
    ModelFinished,
    ModelQueued,
    ModelRetrying,
    ModelSkipped,
    ModelStarted,
)
from interlace.materialize import ModelRunner, Outcome, RunCatalog, user_error
from interlace.quality import CheckResult, QualityCheckError
from interlace.results import ModelResult
from interlace.retry import CircuitBreaker, CircuitOpenError, RetryPolicy

if TYPE_CHECKING:
    from interlace.engines.base import Session
    from interlace.spec import ModelSpec

ENGINE_MODULES = ("duckdb", "_duckdb", "psycopg", "sqlglot", "ibis")


@dataclass
class Attempted:
    outcome: Outcome | None
    error: BaseException | None
    duration: float
    attempts: int


class Executor:
    def __init__(
        self,
        catalog: RunCatalog,
        bus: EventBus,
        max_workers: int,
        *,
        force: bool = False,
        default_retry: RetryPolicy | None = None,
        breakers: dict[str, CircuitBreaker] | None = None,
    ) -> None:
        self.catalog = catalog
        self.bus = bus
        self.max_workers = max_workers
        self.force = force
        self.default_retry = default_retry
        self.breakers = breakers or {}
        self.run_id = catalog.run_id
        self._sessions: dict[str, Session] = {}
        self._sessions_lock = threading.Lock()
        self._cancelled = catalog.cancelled  # shared with the models' row loops

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

    def _policy(self, spec: ModelSpec) -> RetryPolicy | None:
        policy = spec.options.retry_policy
        return policy if isinstance(policy, RetryPolicy) else self.default_retry

    def _execute(self, name: str) -> Attempted:
        spec = self.catalog.project.models[name]
        policy = self._policy(spec)
        started = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            outcome, error = self._attempt(spec)
            if error is None or self.cancelled:
                return Attempted(outcome, error, time.perf_counter() - started, attempt)
            if policy is None or not policy.should_retry(error, attempt):
                return Attempted(None, error, time.perf_counter() - started, attempt)
            delay = policy.delay(attempt)
            self.bus.publish(ModelRetrying(self.run_id, name, attempt, _short(error), delay))
            if self._cancelled.wait(delay):
                return Attempted(None, error, time.perf_counter() - started, attempt)

    def _attempt(self, spec: ModelSpec) -> tuple[Outcome | None, BaseException | None]:
        engine = self.catalog.engines[spec.connection]
        breaker = self.breakers.get(spec.connection)
        session = None
        try:
            if self._cancelled.is_set():
                raise asyncio.CancelledError()
            if breaker is not None:
                breaker.before_call()
            session = engine.session()
            with self._sessions_lock:
                self._sessions[spec.name] = session
            outcome = ModelRunner(spec, self.catalog, session).run()
            if breaker is not None:
                breaker.record_success()
            return outcome, None
        except BaseException as exc:
            if (
                breaker is not None
                and _is_engine_error(exc)
                and not isinstance(exc, CircuitOpenError)
            ):
                breaker.record_failure()
            return None, exc
        finally:
            with self._sessions_lock:
                self._sessions.pop(spec.name, None)
            if session is not None:
                try:
                    session.close()
                except Exception:
                    pass

    # ------------------------------------------------------------------ change detection

    def decide(self, name: str) -> Decision:
        catalog = self.catalog
        spec = catalog.project.models[name]
        if catalog.is_in_run(spec):
            return Decision(True, "kept for this run only")
        force = self.force or (catalog.window.active and spec.options.cursor is not None)
        return decide(
            spec,
            state=catalog.states.get(name),
            fingerprint=catalog.fingerprints[name],
            upstream_versions=catalog.upstream_versions(name),
            relation_exists=catalog.relation_exists(spec),
            force=force,
            now=time.time(),
        )

    # ------------------------------------------------------------------ the DAG loop

    async def run(self, names: list[str]) -> dict[str, ModelResult]:
        project = self.catalog.project
        selected = set(names)
        order = {name: i for i, name in enumerate(names)}
        waiting = {n: {p for p in project.graph.parents[n] if p in selected} for n in names}
        results: dict[str, ModelResult] = {}
        ready = [n for n in names if not waiting[n]]
        for name in names:
            self.bus.publish(ModelQueued(self.run_id, name))
        loop = asyncio.get_running_loop()
        running: dict[asyncio.Future[Attempted], str] = {}
        pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="interlace")

        def release(name: str) -> None:
            for child in project.graph.children[name]:
                if child in waiting:
                    waiting[child].discard(name)
                    if not waiting[child] and child not in results:
                        ready.append(child)
            ready.sort(key=order.__getitem__)

        try:
            while ready or running:
                while ready and len(running) < self.max_workers and not self.cancelled:
                    name = ready.pop(0)
                    decision = self.decide(name)
                    if not decision.run:
                        results[name] = ModelResult(
                            name, "skipped", skip_reason=decision.reason, skip_kind="unchanged"
                        )
                        self.bus.publish(ModelSkipped(self.run_id, name, decision.reason))
                        release(name)
                        continue
                    self.bus.publish(ModelStarted(self.run_id, name))
                    running[loop.run_in_executor(pool, self._execute, name)] = name
                if not running:
                    if ready and not self.cancelled:
                        continue
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: order[running[f]]):
                    name = running.pop(future)
                    attempted = future.result()
                    if attempted.error is None and attempted.outcome is not None:
                        results[name] = self._succeeded(name, attempted)
                        release(name)
                    else:
                        results[name] = self._failed(name, attempted)
                        self._skip_descendants(name, names, results)
        except asyncio.CancelledError:
            self.cancel()
            for future in list(running):
                name = running.pop(future)
                try:
                    duration = (await asyncio.shield(future)).duration
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
                    self.bus.publish(ModelSkipped(self.run_id, name, "run cancelled", "cancelled"))
        return {name: results[name] for name in names}

    def _publish_checks(self, results: list[CheckResult]) -> None:
        for r in results:
            self.bus.publish(
                CheckFinished(
                    self.run_id,
                    r.model,
                    r.name,
                    r.check_type,
                    r.severity,
                    r.status,
                    r.failing_rows,
                    tuple(r.sample),
                    r.sql,
                    r.message,
                )
            )

    def _succeeded(self, name: str, attempted: Attempted) -> ModelResult:
        catalog = self.catalog
        spec = catalog.project.models[name]
        outcome = attempted.outcome
        assert outcome is not None
        self._publish_checks(outcome.checks)
        previous = catalog.states.get(name)
        version = previous.data_version if previous else 0
        if outcome.data_changed:
            version += 1
        if not catalog.is_transparent(spec):
            catalog.data_versions[name] = version
        upstream = catalog.upstream_versions(name) or {}
        if catalog.window.active and spec.options.cursor:
            # a window saw only part of the upstream rows: the next run must not skip the rest
            upstream = {}
        self.bus.publish(
            ModelFinished(
                self.run_id,
                name,
                outcome.rows,
                attempted.duration,
                spec.materialize,
                spec.strategy,
                outcome.message,
                stats=dict(outcome.stats),
                attempts=attempted.attempts,
                fingerprint=catalog.fingerprints.get(name),
                data_version=version,
                data_changed=outcome.data_changed,
                content_hash=outcome.content_hash
                or (previous.content_hash if previous and not outcome.data_changed else None),
                upstream_versions=upstream,
                columns=outcome.columns,
                schema_change="; ".join(outcome.schema_notes) or None,
                watermark=None if catalog.window.is_backfill else outcome.watermark,
            )
        )
        return ModelResult(
            name,
            "success",
            outcome.rows,
            attempted.duration,
            spec.materialize,
            spec.strategy,
            outcome.message,
            stats=dict(outcome.stats),
            attempts=attempted.attempts,
            checks=tuple(outcome.checks),
        )

    def _failed(self, name: str, attempted: Attempted) -> ModelResult:
        spec = self.catalog.project.models[name]
        error = attempted.error
        assert error is not None
        duration = attempted.duration
        if self.cancelled and not isinstance(error, InterlaceError):
            self.bus.publish(ModelSkipped(self.run_id, name, "run cancelled", "cancelled"))
            return ModelResult(name, "cancelled", duration=duration, error="cancelled")
        if isinstance(error, QualityCheckError):
            self._publish_checks(error.results)
        if not isinstance(error, InterlaceError):
            error = _engine_error(error, spec.name, self.catalog.project.root)
        tb = getattr(error, "user_traceback", None)
        original = attempted.error
        full_tb = "".join(traceback.format_exception(original)) if original is not None else None
        message = error.message if isinstance(error, InterlaceError) else str(error)
        if isinstance(error, InterlaceError) and error.hint:
            message += f" (hint: {error.hint})"
        location = error.location if isinstance(error, InterlaceError) else None
        if location is None:
            location = spec.location
        self.bus.publish(
            ModelFailed(
                self.run_id,
                name,
                message,
                type(error).__name__,
                duration,
                location,
                tb,
                attempted.attempts,
            )
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
            full_traceback=full_tb,
            attempts=attempted.attempts,
            checks=tuple(getattr(error, "results", ())),
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
            results[child] = ModelResult(
                child, "skipped", skip_reason=reason, skip_kind="upstream_failed"
            )
            self.bus.publish(ModelSkipped(self.run_id, child, reason, "upstream_failed"))


def _short(error: BaseException) -> str:
    text = (
        error.message if isinstance(error, InterlaceError) else f"{type(error).__name__}: {error}"
    )
    return text.splitlines()[0] if text else type(error).__name__


def _is_engine_error(error: BaseException) -> bool:
    original = error.__cause__ or error
    return type(original).__module__.split(".", 1)[0] in ENGINE_MODULES or isinstance(
        original, (ConnectionError, TimeoutError)
    )


def _internal_names(text: str) -> str:
    """Say the model's name where an engine message names our staging relations."""
    text = re.sub(r"__il_stage_(\w+?)_[0-9a-f]{8}", r"\1 (staged result)", text)
    text = re.sub(r"__il_py_(\w+?)_[0-9a-f]{8}", r"\1 (Python result)", text)
    return re.sub(r"__il_diff_(\w+)", r"\1 (change set)", text)


def _engine_error(error: BaseException, model: str, root: Path) -> InterlaceError:
    """An engine or unexpected error, worded for people."""
    module = type(error).__module__.split(".", 1)[0]
    if module in ENGINE_MODULES:
        text = _internal_names(str(error).strip())
        return ModelExecutionError(
            f"{type(error).__name__}: {text}",
            model=model,
            hint="the database refused a statement of this model",
        )
    return user_error(error, model, root)
