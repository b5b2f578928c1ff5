"""One run's lifecycle: its id, state store, engines, events, locks, breakers, cancellation.

Every run goes through a :class:`RunSession`, whoever asks for it (``interlace run``,
``run --quality-only``, ``promote``, ``dlq retry``, the service, the scheduler): it opens the
state store and the engines the run needs, numbers and stores every event before listeners hear
it, makes the run cancellable by id from any thread, and closes everything at the end.
``interlace.testing.test_model`` uses only its engines (:meth:`RunSession.open_engines`
without :meth:`RunSession.open`): a model test has a private database and no state store.

Example::

    from interlace.run_session import RunSession, cancel_run

    with RunSession(project, run_id="nightly-2024-06-01") as session:
        subscription = session.subscribe()      # a queue another thread reads
        ...                                     # interlace.api.run(project, session=session)
    cancel_run("nightly-2024-06-01")            # from any thread, while it runs
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from interlace.errors import first_line
from interlace.events import Event, EventBus, LockWaiting
from interlace.locks import DEFAULT_LOCK_TIMEOUT, LIVE_RUNS, LockWait, describe_holder
from interlace.opening import open_engines, open_state
from interlace.retry import CircuitBreaker
from interlace.state.recorder import StateRecorder

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from types import TracebackType

    from interlace.engines.base import Engine
    from interlace.project import Project
    from interlace.state.base import StateStore

log = logging.getLogger("interlace.run")

_RUNNING: dict[str, RunSession] = {}  # run id -> session, for cancel_run
_RUNNING_LOCK = threading.Lock()


class EventLog:
    """Publishes a run's events: numbered and stored by the state store first, then handed to
    the bus's listeners (who see the id). An event the store cannot take is still published,
    without an id, and the failure is logged."""

    def __init__(self, bus: EventBus, store: StateStore, env: str) -> None:
        self.bus = bus
        self.store = store
        self.env = env

    def publish(self, event: Event) -> None:
        payload = json.dumps(event.to_dict(), default=str)
        try:
            event_id = self.store.add_event(self.env, event.run_id, event.type, event.at, payload)
        except Exception as exc:
            log.warning("the state store did not keep event %s: %s", event.type, first_line(exc))
        else:
            event = replace(event, id=event_id)
        self.bus.publish(event)

    def publish_many(self, events: Sequence[Event]) -> None:
        """Publish a burst of events (a run's queued models, the unchanged models a no-op run
        skips) stored in one commit; if the store cannot take them, all go without ids."""
        ids: list[int] = []
        try:
            with self.store.transaction():
                for event in events:
                    payload = json.dumps(event.to_dict(), default=str)
                    ids.append(
                        self.store.add_event(self.env, event.run_id, event.type, event.at, payload)
                    )
        except Exception as exc:
            log.warning("the state store did not keep %d events: %s", len(events), first_line(exc))
            ids = []
        for n, event in enumerate(events):
            self.bus.publish(replace(event, id=ids[n]) if ids else event)


class Subscription:
    """Events of one run as a thread-safe queue: ``get(timeout)`` or iterate; ends after the
    run's ``run.completed`` (or :meth:`close`)."""

    _END = object()

    def __init__(self, bus: EventBus, types: tuple[type[Event], ...]) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()
        self._unsubscribe = bus.subscribe(self._queue.put, *types)

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when the subscription ended or ``timeout`` passed."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is self._END:
            self._queue.put(self._END)  # later calls end too
            return None
        event: Event = item
        return event

    def __iter__(self) -> Iterator[Event]:
        while (event := self.get()) is not None:
            yield event
            if event.type == "run.completed":
                return

    def close(self) -> None:
        self._unsubscribe()
        self._queue.put(self._END)


class BreakerRegistry:
    """Circuit breakers per project and connection, shared by the runs that use one registry
    (a service keeps one for all its runs; a CLI run has its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}

    def for_run(self, project: Project, connections: Iterable[str]) -> dict[str, CircuitBreaker]:
        out: dict[str, CircuitBreaker] = {}
        with self._lock:
            for name in connections:
                cfg = project.config.connections[name].circuit_breaker
                if cfg is None:
                    continue
                key = (str(project.root), name)
                breaker = self._breakers.get(key)
                if breaker is None:
                    breaker = self._breakers[key] = CircuitBreaker(
                        name, cfg.failure_threshold, cfg.timeout, cfg.success_threshold
                    )
                out[name] = breaker
        return out

    def breakers(self) -> list[CircuitBreaker]:
        """Every breaker made so far (metrics report their states)."""
        with self._lock:
            return list(self._breakers.values())


class RunSession:
    """Owns what one run uses and cleans it up; see the module docstring."""

    def __init__(
        self,
        project: Project,
        *,
        run_id: str | None = None,
        bus: EventBus | None = None,
        lock_timeout: float | None = None,
        breakers: BreakerRegistry | None = None,
    ) -> None:
        self.project = project
        self.run_id = run_id or uuid.uuid4().hex
        self.bus = bus or EventBus()
        self.breakers = breakers or BreakerRegistry()
        self.cancelled = threading.Event()
        self.engines: dict[str, Engine] = {}
        self._store: StateStore | None = None
        self._recorder: StateRecorder | None = None
        self._events: EventLog | None = None
        self._cancel_hooks: list[Any] = []
        self._detach: list[Callable[[], None]] = []
        self.lock_wait = LockWait(
            timeout=DEFAULT_LOCK_TIMEOUT if lock_timeout is None else max(lock_timeout, 0.0),
            cancelled=self.cancelled,
            on_wait=self._waiting,
            holder=describe_holder(self.run_id),
        )

    # -------------------------------------------------------------- opening and closing

    def open(self, connections: Iterable[str] = ()) -> RunSession:
        """Open the state store (forgetting events past their retention) and the engines of
        ``connections``; register the run so :func:`cancel_run` finds it."""
        with _RUNNING_LOCK:
            if self.run_id in _RUNNING:
                raise ValueError(f"run id {self.run_id!r} is already running in this process")
            _RUNNING[self.run_id] = self
        LIVE_RUNS.add(self.run_id)
        try:
            self._store = open_state(self.project)
            self._recorder = StateRecorder(self._store, self.project.env)
            self._events = EventLog(self.bus, self._store, self.project.env)
            self._detach = _attach_listeners(self)
            retention = self.project.config.state.event_retention_seconds
            try:
                self._store.prune_events(time.time() - retention)
            except Exception as exc:  # old events stay; nothing else depends on it
                log.warning("could not forget old events: %s", first_line(exc))
            self.open_engines(connections)
        except BaseException:
            self.close()
            raise
        return self

    def open_engines(self, connections: Iterable[str]) -> dict[str, Engine]:
        """Open the engines of ``connections`` not open yet (they wait for locked databases as
        the run's lock timeout says)."""
        missing = set(connections) - set(self.engines)
        if missing:
            for name, engine in open_engines(self.project, missing).items():
                engine.wait_for_locks(self.lock_wait)
                self.engines[name] = engine
        return self.engines

    def close(self) -> None:
        with _RUNNING_LOCK:
            if _RUNNING.get(self.run_id) is self:
                del _RUNNING[self.run_id]
        LIVE_RUNS.discard(self.run_id)
        detach, self._detach = self._detach, []
        for undo in detach:
            try:
                undo()
            except Exception as exc:
                log.warning("a run listener failed to stop: %s", first_line(exc))
        engines, self.engines = self.engines, {}
        for engine in engines.values():
            try:
                engine.close()
            except Exception as exc:
                log.warning("closing connection '%s' failed: %s", engine.name, first_line(exc))
        store, self._store = self._store, None
        if store is not None:
            store.close()

    def __enter__(self) -> RunSession:
        return self.open()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -------------------------------------------------------------- what the run uses

    @property
    def store(self) -> StateStore:
        if self._store is None:
            raise RuntimeError("the run session is not open")
        return self._store

    @property
    def recorder(self) -> StateRecorder:
        if self._recorder is None:
            raise RuntimeError("the run session is not open")
        return self._recorder

    @property
    def events(self) -> EventLog:
        """Where the run publishes (numbered, stored, then to the bus)."""
        if self._events is None:
            raise RuntimeError("the run session is not open")
        return self._events

    def subscribe(self, *types: type[Event]) -> Subscription:
        """A thread-safe queue of this run's events (all, or only ``types``)."""
        return Subscription(self.bus, types)

    # -------------------------------------------------------------- cancellation

    def on_cancel(self, hook: Any) -> None:
        """Call ``hook()`` when the run is cancelled (the executor interrupts statements)."""
        self._cancel_hooks.append(hook)
        if self.cancelled.is_set():
            hook()

    def cancel(self) -> None:
        """Stop the run (thread-safe): nothing new starts, running statements are
        interrupted, the models that did not finish are reported cancelled."""
        self.cancelled.set()
        for hook in list(self._cancel_hooks):
            try:
                hook()
            except Exception as exc:
                log.warning("cancelling run %s: %s", self.run_id, first_line(exc))

    def _waiting(self, target: str, holder: str) -> None:
        if self._events is not None:
            self._events.publish(LockWaiting(run_id=self.run_id, target=target, holder=holder))


def _attach_listeners(session: RunSession) -> list[Callable[[], None]]:
    """Hand the session to the ``run_listeners`` of installed distributions (tracing); a
    listener that fails is logged and left out: it never stops a run."""
    from interlace.hooks import run_listeners

    detach: list[Callable[[], None]] = []
    try:
        listeners = run_listeners()
    except Exception as exc:
        log.warning("run listeners of installed extensions are left out: %s", first_line(exc))
        return detach
    for attach in listeners:
        try:
            undo = attach(session)
        except Exception as exc:
            log.warning("run listener %r failed to start: %s", attach, first_line(exc))
            continue
        if callable(undo):
            detach.append(undo)
    return detach


def cancel_run(run_id: str) -> bool:
    """Cancel the run ``run_id`` of this process from any thread; False when it is not
    running here."""
    with _RUNNING_LOCK:
        session = _RUNNING.get(run_id)
    if session is None:
        return False
    session.cancel()
    return True


def running() -> list[str]:
    """Ids of the runs going on in this process."""
    with _RUNNING_LOCK:
        return list(_RUNNING)
