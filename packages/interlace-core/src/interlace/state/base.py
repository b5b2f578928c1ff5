"""The state store protocol and the records it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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


class StateStore(Protocol):
    schema_version: int

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

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def list_runs(self, limit: int = 20, offset: int = 0) -> list[RunRecord]: ...

    def model_runs(
        self, run_id: str | None = None, model: str | None = None, limit: int = 100
    ) -> list[ModelRunRecord]: ...

    def close(self) -> None: ...
