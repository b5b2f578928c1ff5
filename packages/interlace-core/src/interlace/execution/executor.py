"""The parallel DAG executor.

An asyncio loop keeps a ready queue of models whose upstreams are done and dispatches up to
``max_workers`` of them to threads, each with its own engine session. Before dispatch, change
detection decides whether the model must run at all. A failure (after the model's retries) fails
its descendants only; independent branches finish. Cancellation (Ctrl-C, an API call) interrupts
the running statements, and every model that did not finish is reported as cancelled.

Why one module over 500 lines: the loop, a worker thread's attempt (under its target's lock)
and the results they report share the run's state (sessions, cancellation, decisions); how
failures are worded for people lives in :mod:`interlace.execution.failures`.
"""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from interlace.change_detection import Decision, decide
from interlace.errors import (
    InterlaceError,
    RunCancelledError,
    StateStoreError,
)
from interlace.events import (
    CheckFinished,
    Event,
    LockWaiting,
    ModelFailed,
    ModelFinished,
    ModelQueued,
    ModelRetrying,
    ModelSkipped,
    ModelStarted,
    Publisher,
    publish_all,
)
from interlace.execution.failures import engine_error, short_message
from interlace.locks import PROCESS_LOCKS, LockWait, hold_target
from interlace.materialize.runner import ModelRunner
from interlace.results import ModelResult
from interlace.retry import CircuitBreaker, CircuitOpenError, RetryPolicy
from interlace.state.base import ModelState
from interlace.strategies import get_strategy

if TYPE_CHECKING:
    from interlace.engines.base import Engine, Session
    from interlace.materialize.catalog import Outcome, RunCatalog
    from interlace.quality import CheckResult
    from interlace.spec import ModelSpec
    from interlace.state.recorder import StateRecorder


@dataclass
class Attempted:
    outcome: Outcome | None
    error: BaseException | None
    duration: float
    attempts: int
    finished: ModelFinished | None = None  # what was recorded for a success
    skipped: str | None = None  # why: another run built it while this one waited
    published: bool = False  # a failure after the table was committed


class StateNotRecordedError(StateStoreError):
    """A model's table was written but its state could not be recorded."""


class Executor:
    def __init__(
        self,
        catalog: RunCatalog,
        bus: Publisher,
        max_workers: int,
        *,
        force: bool = False,
        default_retry: RetryPolicy | None = None,
        breakers: dict[str, CircuitBreaker] | None = None,
        recorder: StateRecorder | None = None,
        lock_wait: LockWait | None = None,
    ) -> None:
        self.catalog = catalog
        self.bus = bus
        self.max_workers = max_workers
        self.force = force
        self.default_retry = default_retry
        self.breakers = breakers or {}
        self.run_id = catalog.run_id
        # state writes go through the store itself (events only notify); writes that failed
        # for good make the run fail (never lost silently)
        self.recorder = recorder
        self.record_errors: list[StateStoreError] = []
        self.lock_wait = lock_wait or LockWait(cancelled=catalog.cancelled)
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
            tried = self._attempt(spec, attempt, started)
            done = replace(tried, duration=time.perf_counter() - started, attempts=attempt)
            error = tried.error
            if error is None or self.cancelled or isinstance(error, StateStoreError):
                return done  # a state write that failed after the table committed: no rerun
            if policy is None or not policy.should_retry(error, attempt):
                return done
            delay = policy.delay(attempt)
            self.bus.publish(
                ModelRetrying(
                    run_id=self.run_id,
                    model=name,
                    attempt=attempt,
                    error=short_message(error),
                    delay=delay,
                )
            )
            if self._cancelled.wait(delay):
                return done

    def _attempt(self, spec: ModelSpec, attempt: int, started: float) -> Attempted:
        """One try of a model: under its target's lock, re-decide, write, record its state."""
        engine = self.catalog.engines[spec.connection]
        breaker = self.breakers.get(spec.connection)
        session = None
        runner: ModelRunner | None = None
        try:
            if self._cancelled.is_set():
                raise asyncio.CancelledError()
            if breaker is not None:
                breaker.before_call()
            session = engine.session()
            with self._sessions_lock:
                self._sessions[spec.name] = session
            with self._locked(spec, engine, session) as key:
                if key is not None:
                    skipped = self._redecide(spec, engine, session, key)
                    if skipped is not None:
                        return Attempted(None, None, 0.0, attempt, skipped=skipped)
                    if self.recorder is not None:
                        self.recorder.begin_model(self.run_id, spec.name, time.time())
                runner = ModelRunner(spec, self.catalog, session)
                write_started = time.time()
                outcome = runner.run()
                finished = self._finished_event(
                    spec, outcome, time.perf_counter() - started, attempt, write_started
                )
                if self.recorder is not None:
                    try:
                        self.recorder.model_finished(
                            finished, _check_events(self.run_id, outcome.checks)
                        )
                    except StateStoreError as exc:
                        raise StateNotRecordedError(
                            f"the model's table was written, but its state could not be "
                            f"recorded: {exc.message}",
                            model=spec.name,
                            hint="the next run finds this model interrupted and counts its "
                            "table as changed, so its readers run again",
                        ) from exc
                self._remember(spec, finished)
            if breaker is not None:
                breaker.record_success()
            return Attempted(outcome, None, 0.0, attempt, finished=finished)
        except BaseException as exc:
            if (
                breaker is not None
                and engine.is_driver_error(exc)
                and not isinstance(exc, (CircuitOpenError, StateStoreError))
            ):
                breaker.record_failure()
            published = runner is not None and runner.published
            return Attempted(None, exc, 0.0, attempt, published=published)
        finally:
            with self._sessions_lock:
                self._sessions.pop(spec.name, None)
            if session is not None:
                try:
                    session.close()
                except Exception:
                    pass

    # ------------------------------------------------------------------ write locks

    def _tracked(self, spec: ModelSpec) -> bool:
        """Models that write a table or view of their own: they lock it and are recorded as in
        flight before they publish."""
        if self.catalog.is_in_run(spec):
            return False
        return spec.materialize == "view" or (
            spec.materialize == "table" and get_strategy(spec.strategy).writes
        )

    @contextmanager
    def _locked(
        self, spec: ModelSpec, engine: Engine, session: Session
    ) -> Iterator[tuple[str, ...] | None]:
        """Hold the model's target lock (this process, then its engine); yields its key, or
        None for a model that writes no target of its own."""
        if not self._tracked(spec):
            yield None
            return
        schema = spec.schema if spec.database is None else f"{spec.database}.{spec.schema}"
        run_id, bus = self.run_id, self.bus

        def on_wait(target: str, holder: str) -> None:
            bus.publish(LockWaiting(run_id=run_id, target=target, holder=holder, model=spec.name))

        wait = replace(self.lock_wait, on_wait=on_wait)
        with hold_target(engine, session, schema, spec.name, wait) as key:
            yield key

    def _redecide(
        self, spec: ModelSpec, engine: Engine, session: Session, key: tuple[str, ...]
    ) -> str | None:
        """With the lock held: when another run may have written the target since this run
        read its state, read the model's state, watermark and table again and decide again.
        Returns why the model is skipped now, or None to run it."""
        catalog = self.catalog
        store = catalog.store
        if store is None:
            return None
        if engine.capabilities.exclusive_writer and not PROCESS_LOCKS.released_since(
            key, catalog.lock_generation
        ):
            return None  # nobody else wrote it: this process holds the database
        env = catalog.project.env
        names = {spec.name} | (catalog.sources(spec.name) or set())
        fresh = store.model_states(env, sorted(names))
        for name, state in fresh.items():
            catalog.states[name] = state
            if not catalog.is_transparent(catalog.project.models[name]):
                catalog.data_versions[name] = state.data_version
        if spec.options.cursor and not catalog.full_refresh:
            watermark = store.get_watermark(env, spec.name)
            if watermark is not None:
                catalog.watermarks[spec.name] = watermark
            else:
                catalog.watermarks.pop(spec.name, None)
        schema = spec.schema if spec.database is None else f"{spec.database}.{spec.schema}"
        kind = session.relation_kind(schema, spec.name)
        relation = (spec.connection, schema, spec.name)
        if kind is None:
            catalog.relations.pop(relation, None)
        else:
            catalog.relations[relation] = kind
        decision = self.decide(spec.name)
        if decision.run:
            return None
        return f"{decision.reason} (built meanwhile by another run)"

    def _finished_event(
        self,
        spec: ModelSpec,
        outcome: Outcome,
        duration: float,
        attempts: int,
        write_started: float | None = None,
    ) -> ModelFinished:
        catalog = self.catalog
        name = spec.name
        previous = catalog.states.get(name)
        version = previous.data_version if previous else 0
        if outcome.data_changed:
            version += 1
        upstream = catalog.upstream_versions(name) or {}
        if catalog.window.active and spec.options.cursor:
            # a window saw only part of the upstream rows: the next run must not skip the rest
            upstream = {}
        return ModelFinished(
            run_id=self.run_id,
            model=name,
            rows=outcome.rows,
            duration=duration,
            materialize=spec.materialize,
            strategy=spec.strategy,
            message=outcome.message,
            stats=dict(outcome.stats),
            attempts=attempts,
            fingerprint=catalog.fingerprints.get(name),
            data_version=version,
            data_changed=outcome.data_changed,
            content_hash=outcome.content_hash
            or (previous.content_hash if previous and not outcome.data_changed else None),
            upstream_versions=upstream,
            columns=outcome.columns,
            schema_change="; ".join(outcome.schema_notes) or None,
            watermark=None if catalog.window.is_backfill else outcome.watermark,
            write_started=write_started,
        )

    def _remember(self, spec: ModelSpec, finished: ModelFinished) -> None:
        """What this run now knows of a model it built (its readers decide on it)."""
        catalog = self.catalog
        if not catalog.is_transparent(spec):
            catalog.data_versions[spec.name] = finished.data_version
        if finished.fingerprint is not None:
            catalog.states[spec.name] = ModelState(
                model=spec.name,
                fingerprint=finished.fingerprint,
                data_version=finished.data_version,
                content_hash=finished.content_hash,
                upstream_versions=dict(finished.upstream_versions),
                last_run_id=self.run_id,
                last_success_at=finished.at,
            )

    def _emit(self, event: Event) -> None:
        """Record ``event`` in the state store, then tell the listeners."""
        if self.recorder is not None:
            try:
                self.recorder.record(event)
            except StateStoreError as exc:
                self.record_errors.append(exc)
        self.bus.publish(event)

    def _emit_many(self, events: Sequence[Event]) -> None:
        """:meth:`_emit` for a burst of events: one commit of their records, one of the events."""
        if self.recorder is not None:
            try:
                self.recorder.record_many(events)
            except StateStoreError as exc:
                self.record_errors.append(exc)
        publish_all(self.bus, events)

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
        publish_all(self.bus, [ModelQueued(run_id=self.run_id, model=name) for name in names])
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
                unchanged: list[ModelSkipped] = []  # told in one go (a no-op run has a thousand)
                while ready and len(running) < self.max_workers and not self.cancelled:
                    name = ready.pop(0)
                    decision = self.decide(name)
                    if not decision.run:
                        unchanged.append(self._skip_event(name, decision.reason))
                        results[name] = self._unchanged_result(name, decision.reason)
                        release(name)
                        continue
                    self._emit(ModelStarted(run_id=self.run_id, model=name))
                    running[loop.run_in_executor(pool, self._execute, name)] = name
                if unchanged:
                    self._emit_many(unchanged)
                if not running:
                    if ready and not self.cancelled:
                        continue
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: order[running[f]]):
                    name = running.pop(future)
                    attempted = future.result()
                    if attempted.skipped is not None:
                        results[name] = self._unchanged(name, attempted.skipped)
                        release(name)
                    elif attempted.error is None and attempted.outcome is not None:
                        results[name] = self._succeeded(name, attempted)
                        release(name)
                    else:
                        results[name] = self._failed(name, attempted)
                        if results[name].status != "cancelled":  # else: all are cancelled
                            self._skip_descendants(name, names, results)
            if project.audits and not self.cancelled:
                await self._audits(results, loop, pool)
        except asyncio.CancelledError:
            self.cancel()
            for future in list(running):
                name = running.pop(future)
                try:
                    duration = (await asyncio.shield(future)).duration
                except BaseException:
                    duration = 0.0
                results[name] = ModelResult(
                    name=name,
                    status="cancelled",
                    duration=duration,
                    error="cancelled while running",
                )
            raise
        finally:
            pool.shutdown(wait=True)
            for name in names:
                if name not in results:
                    results[name] = ModelResult(
                        name=name, status="cancelled", skip_reason="run cancelled"
                    )
                    self._emit(
                        ModelSkipped(
                            run_id=self.run_id, model=name, reason="run cancelled", kind="cancelled"
                        )
                    )
        return {name: results[name] for name in names}

    async def _audits(
        self,
        results: dict[str, ModelResult],
        loop: asyncio.AbstractEventLoop,
        pool: ThreadPoolExecutor,
    ) -> None:
        """Run the checks that wait for models built after their own (:mod:`.audits`); their
        results join the checked model's (or, when it was not selected, the built one's)."""
        from interlace.execution.audits import due, run_audit

        for audit in due(self.catalog.project.audits, results):
            found = await loop.run_in_executor(pool, run_audit, self.catalog, audit)
            for event in _check_events(self.run_id, found):
                self._emit(event)
            owner = next(n for n in (audit.model, *audit.after) if n in results)
            results[owner] = replace(results[owner], checks=(*results[owner].checks, *found))

    def _unchanged(self, name: str, reason: str) -> ModelResult:
        """A model change detection skips (before dispatch, or after waiting for its lock)."""
        self._emit(self._skip_event(name, reason))
        return self._unchanged_result(name, reason)

    def _skip_event(self, name: str, reason: str) -> ModelSkipped:
        return ModelSkipped(run_id=self.run_id, model=name, reason=reason)

    @staticmethod
    def _unchanged_result(name: str, reason: str) -> ModelResult:
        return ModelResult(name=name, status="skipped", skip_reason=reason, skip_kind="unchanged")

    def _succeeded(self, name: str, attempted: Attempted) -> ModelResult:
        """Tell the listeners (the worker recorded the model's state already)."""
        spec = self.catalog.project.models[name]
        outcome = attempted.outcome
        finished = attempted.finished
        assert outcome is not None and finished is not None
        for event in _check_events(self.run_id, outcome.checks):
            self.bus.publish(event)
        self.bus.publish(replace(finished, duration=attempted.duration))
        return ModelResult(
            name=name,
            status="success",
            rows=outcome.rows,
            duration=attempted.duration,
            materialize=spec.materialize,
            strategy=spec.strategy,
            message=outcome.message,
            stats=dict(outcome.stats),
            attempts=attempted.attempts,
            checks=tuple(outcome.checks),
        )

    def _failed(self, name: str, attempted: Attempted) -> ModelResult:
        spec = self.catalog.project.models[name]
        error = attempted.error
        assert error is not None
        duration = attempted.duration
        if self.cancelled and (
            not isinstance(error, InterlaceError) or isinstance(error, RunCancelledError)
        ):
            self._emit(
                ModelSkipped(
                    run_id=self.run_id, model=name, reason="run cancelled", kind="cancelled"
                )
            )
            if self.recorder is not None and not attempted.published:
                try:
                    self.recorder.store.end_model(self.catalog.project.env, name, self.run_id)
                except Exception:
                    pass  # the next run treats it as interrupted: its readers run again
            return ModelResult(name=name, status="cancelled", duration=duration, error="cancelled")
        checks = _check_events(self.run_id, list(getattr(error, "results", ())))
        if not isinstance(error, InterlaceError):
            engine = self.catalog.engines[spec.connection]
            error = engine_error(engine, error, spec.name, self.catalog.project.root)
        tb = error.user_traceback
        original = attempted.error
        full_tb = "".join(traceback.format_exception(original)) if original is not None else None
        message = error.message if isinstance(error, InterlaceError) else str(error)
        if isinstance(error, InterlaceError) and error.hint:
            message += f" (hint: {error.hint})"
        location = error.location if isinstance(error, InterlaceError) else None
        if location is None:
            location = spec.location
        failed = ModelFailed(
            run_id=self.run_id,
            model=name,
            error=message,
            error_type=type(error).__name__,
            duration=duration,
            location=location,
            traceback=tb,
            attempts=attempted.attempts,
        )
        if self.recorder is not None:
            try:
                self.recorder.model_failed(failed, checks, table_untouched=not attempted.published)
            except StateStoreError as exc:
                self.record_errors.append(exc)
        for event in checks:
            self.bus.publish(event)
        self.bus.publish(failed)
        return ModelResult(
            name=name,
            status="failed",
            duration=duration,
            materialize=spec.materialize,
            strategy=spec.strategy,
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
                name=child, status="skipped", skip_reason=reason, skip_kind="upstream_failed"
            )
            self._emit(
                ModelSkipped(run_id=self.run_id, model=child, reason=reason, kind="upstream_failed")
            )


def _check_events(run_id: str, results: list[CheckResult]) -> list[CheckFinished]:
    return [CheckFinished.of(run_id, r) for r in results]
