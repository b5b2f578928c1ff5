"""Typed run events and the in-process bus every consumer listens on.

The executor publishes; the state store, the CLI progress display, and (later) metrics, traces
and the server-sent event stream subscribe. Handlers run synchronously in the publisher's thread,
so they must be quick; an exception in one handler never breaks a run or another handler.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from interlace.quality import CheckResult
    from interlace.status import CheckStatus, RunOutcome, Severity, SkipKind

log = logging.getLogger("interlace.events")


# Events are built by keyword (``kw_only``), e.g. ``ModelQueued(run_id=run_id, model="orders")``.
@dataclass(frozen=True, kw_only=True)
class Event:
    type: ClassVar[str] = "event"
    run_id: str
    at: float = field(default_factory=time.time, kw_only=True)
    # numbered by the state store when the run records it (one sequence per store, shared by
    # every process): SSE clients resume after it with Last-Event-ID
    id: int | None = field(default=None, kw_only=True, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    type: ClassVar[str] = "run.started"
    project: str
    env: str
    models: tuple[str, ...]
    selection: tuple[str, ...] = ()
    force: bool = False


@dataclass(frozen=True, kw_only=True)
class ModelQueued(Event):
    type: ClassVar[str] = "task.queued"
    model: str


@dataclass(frozen=True, kw_only=True)
class ModelStarted(Event):
    type: ClassVar[str] = "task.running"
    model: str
    attempt: int = 1


@dataclass(frozen=True, kw_only=True)
class ModelFinished(Event):
    type: ClassVar[str] = "task.completed"
    model: str
    rows: int | None
    duration: float
    materialize: str
    strategy: str
    message: str | None = None
    stats: dict[str, int] = field(default_factory=dict)  # inserted / updated / deleted
    attempts: int = 1
    fingerprint: str | None = None
    data_version: int = 0
    data_changed: bool = False
    content_hash: str | None = None
    upstream_versions: dict[str, int] = field(default_factory=dict)
    columns: tuple[tuple[str, str], ...] | None = None
    schema_change: str | None = None
    watermark: tuple[str, str, str] | None = None  # (column, value, type)
    # when the successful attempt started writing (compute, stage, audit, publish): the
    # materialize span of a trace runs from here to ``at``
    write_started: float | None = None


@dataclass(frozen=True, kw_only=True)
class LockWaiting(Event):
    """The run waits for a lock another run holds: a target table, or a whole database file."""

    type: ClassVar[str] = "lock.waiting"
    target: str
    holder: str
    model: str | None = None


@dataclass(frozen=True, kw_only=True)
class ModelRetrying(Event):
    type: ClassVar[str] = "task.retrying"
    model: str
    attempt: int
    error: str
    delay: float


@dataclass(frozen=True, kw_only=True)
class ModelFailed(Event):
    type: ClassVar[str] = "task.failed"
    model: str
    error: str
    error_type: str
    duration: float
    location: str | None = None
    traceback: str | None = None
    attempts: int = 1


@dataclass(frozen=True, kw_only=True)
class CheckFinished(Event):
    type: ClassVar[str] = "check.completed"
    model: str
    name: str
    check_type: str
    severity: Severity
    status: CheckStatus
    failing_rows: int = 0
    sample: tuple[dict[str, Any], ...] = ()
    sql: str | None = None
    message: str | None = None

    @classmethod
    def of(cls, run_id: str, result: CheckResult) -> CheckFinished:
        """The event of one check's result."""
        return cls(
            run_id=run_id,
            model=result.model,
            name=result.name,
            check_type=result.check_type,
            severity=result.severity,
            status=result.status,
            failing_rows=result.failing_rows,
            sample=tuple(result.sample),
            sql=result.sql,
            message=result.message,
        )

    def result(self) -> CheckResult:
        """The check result this event carries (as the state store keeps it)."""
        from interlace.quality import CheckResult

        return CheckResult(
            model=self.model,
            name=self.name,
            check_type=self.check_type,
            severity=self.severity,
            status=self.status,
            failing_rows=self.failing_rows,
            sample=list(self.sample),
            sql=self.sql,
            message=self.message,
        )


@dataclass(frozen=True, kw_only=True)
class ModelSkipped(Event):
    type: ClassVar[str] = "task.skipped"
    model: str
    reason: str
    kind: SkipKind = "unchanged"


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    type: ClassVar[str] = "run.completed"
    status: RunOutcome
    duration: float
    succeeded: int
    failed: int
    skipped: int
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class StreamBatchCommitted(Event):
    """A stream's committer moved log records ``first_offset..last_offset`` into its table
    (``rows`` stored, ``quarantined`` set aside); ``run_id`` is the stream's name."""

    type: ClassVar[str] = "stream.committed"
    stream: str
    first_offset: int
    last_offset: int
    rows: int
    quarantined: int = 0


Handler = Callable[[Event], None]


class Publisher(Protocol):
    """What publishes a run's events: an :class:`EventBus`, or a run session's event log
    (which numbers and stores each event first)."""

    def publish(self, event: Event) -> None: ...


def publish_all(publisher: Publisher, events: Sequence[Event]) -> None:
    """Publish ``events`` in order, in one go where the publisher can (a run's event log
    stores them in one commit)."""
    many = getattr(publisher, "publish_many", None)
    if many is not None:
        many(events)
        return
    for event in events:
        publisher.publish(event)


class EventBus:
    """Publish/subscribe for :class:`Event` objects."""

    def __init__(self) -> None:
        self._handlers: list[tuple[Handler, tuple[type[Event], ...] | None]] = []
        self._lock = threading.Lock()

    def subscribe(self, handler: Handler, *types: type[Event]) -> Callable[[], None]:
        """Call ``handler`` for every event (or only ``types``); returns an unsubscribe function."""
        entry = (handler, types or None)
        with self._lock:
            self._handlers.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._handlers:
                    self._handlers.remove(entry)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            handlers = list(self._handlers)
        for handler, types in handlers:
            if types is not None and not isinstance(event, types):
                continue
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed on %s", handler, event.type)
