"""The state store protocol and the records it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from contextlib import AbstractContextManager

    from interlace.quality import CheckResult
    from interlace.state.run_history import Pruned
    from interlace.state.run_queue import RunRequest
    from interlace.state.schedule_state import (
        ScheduleRecord,
        SchedulerLease,
        SlotOutcome,
        SlotRecord,
    )
    from interlace.status import (
        DeadLetterStatus,
        ModelRunStatus,
        RunOutcome,
        RunRequestStatus,
        RunStatus,
    )

# Records are built by keyword (``kw_only``): the stores map table columns to fields by name.


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    run_id: str
    project: str
    env: str
    status: RunStatus
    started_at: float
    finished_at: float | None
    selection: str
    models: int
    succeeded: int
    failed: int
    skipped: int
    error: str | None


@dataclass(frozen=True, kw_only=True)
class ModelRunRecord:
    run_id: str
    model: str
    status: ModelRunStatus
    started_at: float | None = None
    finished_at: float | None = None
    duration: float | None = None
    rows: int | None = None
    materialize: str | None = None
    strategy: str | None = None
    error: str | None = None
    error_type: str | None = None
    location: str | None = None
    skip_reason: str | None = None
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    attempts: int = 1
    fingerprint: str | None = None


@dataclass(frozen=True, kw_only=True)
class ModelState:
    """What change detection remembers of a model's last successful run."""

    model: str
    fingerprint: str
    data_version: int
    content_hash: str | None
    upstream_versions: dict[str, int]
    last_run_id: str | None
    last_success_at: float | None


@dataclass(frozen=True, kw_only=True)
class Watermark:
    model: str
    cursor_column: str
    value: str
    value_type: str
    run_id: str | None
    updated_at: float


@dataclass(frozen=True, kw_only=True)
class SchemaVersion:
    model: str
    version: int
    columns: list[tuple[str, str]]
    change: str | None
    run_id: str | None
    created_at: float


@dataclass(frozen=True, kw_only=True)
class DeadLetter:
    """A model run that failed after all its retries, kept to inspect, retry or resolve."""

    id: int = 0  # assigned by the store (add_dead_letter ignores it)
    env: str
    model: str
    run_id: str
    error: str
    error_type: str | None = None
    location: str | None = None
    traceback: str | None = None
    attempts: int
    status: DeadLetterStatus = "open"
    created_at: float
    resolved_at: float | None = None
    resolution: str | None = None


@dataclass(frozen=True, kw_only=True)
class StoredCheckResult:
    run_id: str
    result: CheckResult
    created_at: float


@dataclass(frozen=True)
class StoredEvent:
    """An event as the state store keeps it: numbered, with its fields as JSON data."""

    id: int
    env: str
    run_id: str
    type: str
    at: float
    data: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class AppliedMigration:
    """A project migration (``migrations/NNN_name.up.sql``) applied in one environment."""

    version: int
    name: str
    checksum: str  # of the up file when it was applied
    connection: str
    applied_at: float
    duration: float = 0.0


class StateStore(Protocol):
    """Everything Interlace remembers between runs. Implementations: SQLite, PostgreSQL."""

    schema_version: int

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes into one commit: ``with store.transaction(): ...`` (nestable)."""
        ...

    def start_run(
        self, run_id: str, project: str, env: str, selection: str, models: int, started_at: float
    ) -> None: ...
    def finish_run(
        self,
        run_id: str,
        status: RunOutcome,
        finished_at: float,
        succeeded: int,
        failed: int,
        skipped: int,
        error: str | None,
    ) -> None: ...
    def record_model_run(self, record: ModelRunRecord) -> None: ...
    def abandon_dead_runs(self, at: float) -> int: ...
    def get_run(self, run_id: str) -> RunRecord | None: ...
    def list_runs(self, limit: int = 20, offset: int = 0) -> list[RunRecord]: ...
    def environments(self) -> list[str]: ...  # those something ran in, sorted
    def model_runs(
        self,
        run_id: str | None = None,
        model: str | None = None,
        limit: int = 100,
        env: str | None = None,
    ) -> list[ModelRunRecord]: ...
    def model_states(
        self, env: str, models: Iterable[str] | None = None
    ) -> dict[str, ModelState]: ...
    def add_event(self, env: str, run_id: str, kind: str, at: float, payload: str) -> int: ...
    def events(
        self, after: int = 0, run_id: str | None = None, limit: int = 1000
    ) -> list[StoredEvent]: ...
    def prune_events(self, before: float) -> int: ...
    def begin_model(self, env: str, model: str, run_id: str, at: float) -> None: ...
    def end_model(self, env: str, model: str, run_id: str) -> None: ...
    def interrupted_models(self, env: str) -> list[str]: ...
    def recover_model(self, env: str, model: str) -> None: ...
    def is_transient(self, exc: BaseException) -> bool: ...
    def reconnect(self) -> None: ...
    def save_model_state(self, env: str, state: ModelState) -> None: ...
    def get_watermark(self, env: str, model: str) -> Watermark | None: ...
    def save_watermark(self, env: str, watermark: Watermark) -> None: ...
    def schema_versions(self, env: str, model: str) -> list[SchemaVersion]: ...
    def add_schema_version(
        self,
        env: str,
        model: str,
        columns: list[tuple[str, str]],
        change: str | None,
        run_id: str | None,
        at: float,
    ) -> int: ...
    def add_dead_letter(self, letter: DeadLetter) -> int: ...
    def dead_letters(
        self, env: str | None = None, status: DeadLetterStatus | None = None, limit: int = 100
    ) -> list[DeadLetter]: ...
    def get_dead_letter(self, letter_id: int) -> DeadLetter | None: ...
    def set_dead_letter_status(
        self, letter_id: int, status: DeadLetterStatus, resolution: str | None, at: float
    ) -> None: ...
    def add_quality_result(self, env: str, run_id: str, result: CheckResult, at: float) -> None: ...
    def quality_results(
        self, env: str, model: str | None = None, run_id: str | None = None, limit: int = 100
    ) -> list[StoredCheckResult]: ...
    def applied_migrations(self, env: str) -> list[AppliedMigration]: ...
    def record_migration(self, env: str, migration: AppliedMigration) -> None: ...
    def remove_migration(self, env: str, version: int) -> None: ...
    # run history and retention (interlace.state.run_history)
    def search_runs(
        self,
        *,
        env: str | None = None,
        status: RunStatus | None = None,
        since: float | None = None,
        until: float | None = None,
        model: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[RunRecord], int]: ...
    def prune_runs(self, before: float) -> Pruned: ...
    def latest_event_id(self) -> int: ...
    # the run queue (interlace.state.run_queue)
    def enqueue_run(self, request: RunRequest) -> None: ...
    def get_run_request(self, request_id: str) -> RunRequest | None: ...
    def run_requests(
        self,
        env: str | None = None,
        statuses: Iterable[RunRequestStatus] | None = None,
        limit: int = 100,
    ) -> list[RunRequest]: ...
    def claim_run(self, owner: str, *, env: str, lease: float, now: float) -> RunRequest | None: ...
    def renew_leases(self, owner: str, until: float) -> int: ...
    def add_request_run(self, request_id: str, run_id: str) -> None: ...
    def finish_run_request(
        self, request_id: str, status: RunRequestStatus, *, at: float, error: str | None = None
    ) -> None: ...
    def expire_run_requests(self, now: float) -> list[RunRequest]: ...
    def take_over_run_requests(self, now: float, max_takeovers: int = 3) -> list[RunRequest]: ...
    def release_run_requests(self, owner: str, at: float, reason: str) -> list[str]: ...
    def request_cancel(self, request_id: str, at: float) -> RunRequest | None: ...
    def cancel_requested(self, owner: str) -> list[str]: ...

    # the scheduler (interlace.state.schedule_state)
    several_schedulers: bool

    def schedule_records(self, env: str) -> dict[str, ScheduleRecord]: ...
    def schedule_record(self, env: str, name: str) -> ScheduleRecord | None: ...
    def sync_schedule(
        self, env: str, name: str, selection: Sequence[str], fingerprint: str, now: float
    ) -> ScheduleRecord: ...
    def set_schedule_paused(
        self, env: str, name: str, paused: bool, now: float, *, fingerprint: str = ""
    ) -> ScheduleRecord: ...
    def set_next_slot(self, env: str, name: str, next_slot: float | None) -> None: ...
    def claim_slot(
        self,
        env: str,
        name: str,
        slot: float,
        *,
        at: float,
        outcome: SlotOutcome,
        request_id: str | None = None,
        next_slot: float | None = None,
    ) -> bool: ...
    def pass_slots(self, env: str, name: str, up_to: float, next_slot: float | None) -> bool: ...
    def schedule_fires(
        self, env: str, name: str | None = None, limit: int = 100
    ) -> list[SlotRecord]: ...
    def acquire_scheduler(
        self, env: str, owner: str, *, now: float, ttl: float
    ) -> SchedulerLease | None: ...
    def release_scheduler(self, env: str, owner: str) -> None: ...
    def schedulers(self, env: str, now: float) -> list[SchedulerLease]: ...
    def close(self) -> None: ...


def where_clause(conditions: Iterable[tuple[str, Any]]) -> tuple[str, tuple[Any, ...]]:
    """`` WHERE a = ? AND ...`` and its parameters, for the ``(sql, value)`` conditions whose
    value is not None (optional filters of the stores' list queries); ``""`` without any. A
    tuple value fills as many parameters as it has items (``("status IN (?, ?)", ("a", "b"))``;
    an empty one none)."""
    kept = [(sql, value) for sql, value in conditions if value is not None]
    if not kept:
        return "", ()
    params = tuple(p for _, v in kept for p in (v if isinstance(v, tuple) else (v,)))
    return " WHERE " + " AND ".join(sql for sql, _ in kept), params


def in_list(column: str, values: tuple[Any, ...]) -> str:
    """``column IN (?, ?)`` for ``values`` (a :func:`where_clause` condition), or a condition no
    row meets when there are none (``IN ()`` is not SQL)."""
    return f"{column} IN ({', '.join('?' * len(values))})" if values else "0 = 1"
