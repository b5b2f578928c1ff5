"""The state store protocol and the records it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable
    from contextlib import AbstractContextManager

    from interlace.quality import CheckResult


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    project: str
    env: str
    status: str
    started_at: float
    finished_at: float | None
    selection: str
    models: int
    succeeded: int
    failed: int
    skipped: int
    error: str | None


@dataclass(frozen=True)
class ModelRunRecord:
    run_id: str
    model: str
    status: str
    started_at: float | None
    finished_at: float | None
    duration: float | None
    rows: int | None
    materialize: str | None
    strategy: str | None
    error: str | None
    error_type: str | None
    location: str | None
    skip_reason: str | None
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    attempts: int = 1
    fingerprint: str | None = None


@dataclass(frozen=True)
class ModelState:
    """What change detection remembers of a model's last successful run."""

    model: str
    fingerprint: str
    data_version: int
    content_hash: str | None
    upstream_versions: dict[str, int]
    last_run_id: str | None
    last_success_at: float | None


@dataclass(frozen=True)
class Watermark:
    model: str
    cursor_column: str
    value: str
    value_type: str
    run_id: str | None
    updated_at: float


@dataclass(frozen=True)
class SchemaVersion:
    model: str
    version: int
    columns: list[tuple[str, str]]
    change: str | None
    run_id: str | None
    created_at: float


@dataclass(frozen=True)
class DeadLetter:
    id: int
    env: str
    model: str
    run_id: str
    error: str
    error_type: str | None
    location: str | None
    traceback: str | None
    attempts: int
    status: str  # open | resolved | retried
    created_at: float
    resolved_at: float | None
    resolution: str | None


@dataclass(frozen=True)
class StoredCheckResult:
    run_id: str
    result: CheckResult
    created_at: float


@dataclass(frozen=True)
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
        status: str,
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
        self, env: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[DeadLetter]: ...
    def get_dead_letter(self, letter_id: int) -> DeadLetter | None: ...
    def set_dead_letter_status(
        self, letter_id: int, status: str, resolution: str | None, at: float
    ) -> None: ...
    def add_quality_result(self, env: str, run_id: str, result: CheckResult, at: float) -> None: ...
    def quality_results(
        self, env: str, model: str | None = None, run_id: str | None = None, limit: int = 100
    ) -> list[StoredCheckResult]: ...
    def applied_migrations(self, env: str) -> list[AppliedMigration]: ...
    def record_migration(self, env: str, migration: AppliedMigration) -> None: ...
    def remove_migration(self, env: str, version: int) -> None: ...
    def close(self) -> None: ...
