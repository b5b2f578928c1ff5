"""Typed results of a run, returned by :func:`interlace.run` / :func:`interlace.run_sync`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from interlace.quality import CheckResult
    from interlace.status import ModelStatus, RunOutcome, SkipKind


@dataclass(frozen=True, kw_only=True)
class ModelResult:
    """The outcome of one model in one run (built by keyword)."""

    name: str
    status: ModelStatus
    rows: int | None = None
    duration: float = 0.0
    materialize: str | None = None
    strategy: str | None = None
    message: str | None = None
    error: str | None = None
    error_type: str | None = None
    location: str | None = None
    traceback: str | None = None  # trimmed to the project's own code
    full_traceback: str | None = None  # everything, for `interlace run -v`
    skip_reason: str | None = None
    skip_kind: SkipKind | None = None
    stats: dict[str, int] = field(default_factory=dict)  # inserted / updated / deleted
    attempts: int = 1
    checks: tuple[CheckResult, ...] = ()

    @property
    def ok(self) -> bool:
        """Succeeded, or skipped because nothing changed (not because of a failure), and no
        error check that ran after the model failed (an audit, see
        :mod:`interlace.execution.audits`)."""
        if any(check.blocks for check in self.checks):
            return False
        return self.status == "success" or self.skip_kind == "unchanged"


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """The outcome of a run: per-model results in execution order (built by keyword)."""

    run_id: str
    status: RunOutcome
    env: str
    duration: float
    models: dict[str, ModelResult] = field(default_factory=dict)
    error: str | None = None
    windows: tuple[RunResult, ...] = ()  # per-window results of a `--window` backfill

    @property
    def success(self) -> bool:
        return self.status == "success"

    def by_status(self, status: ModelStatus) -> list[ModelResult]:
        return [r for r in self.models.values() if r.status == status]

    @property
    def failed(self) -> list[ModelResult]:
        return self.by_status("failed")

    @property
    def skipped(self) -> list[ModelResult]:
        return self.by_status("skipped")

    @property
    def succeeded(self) -> list[ModelResult]:
        return self.by_status("success")

    def __getitem__(self, name: str) -> ModelResult:
        return self.models[name]
