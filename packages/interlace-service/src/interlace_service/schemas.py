"""Response models shared by several routes (runs and tasks), and their conversions from the
state store's records. Times are ISO 8601 in UTC."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

if TYPE_CHECKING:
    from interlace.state.base import ModelRunRecord, RunRecord
    from interlace.state.run_queue import RunRequest

RunState = Literal["queued", "running", "success", "failed", "cancelled", "killed"]
TaskState = Literal["running", "success", "failed", "skipped", "interrupted"]


def when(at: float | None) -> dt.datetime | None:
    """An epoch time as an aware UTC datetime."""
    return None if at is None else dt.datetime.fromtimestamp(at, tz=dt.UTC)


class Body(BaseModel):
    """Request bodies: an unknown field is an error naming it, and so is a value of another
    JSON type than declared (``false`` is no number, ``"1"`` no boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query strings: an unknown parameter is an error naming it (values arrive as text and
    are converted to the declared types)."""

    model_config = ConfigDict(extra="forbid")


def _iso(value: object) -> object:
    """Query times are ISO 8601 text (``2024-06-01``, ``2024-06-01T12:00:00Z``), not numbers."""
    if isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError("expected an ISO 8601 date or date-time, e.g. 2024-06-01T12:00:00Z")
    return value


IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso)]


class RunFlags(BaseModel):
    """How a run was asked to run."""

    force: bool = False
    full_refresh: bool = False
    since: str | None = None
    until: str | None = None
    window: str | None = None


class Run(BaseModel):
    """A run: queued (a request no server took yet), running, or ended."""

    id: str
    status: RunState
    env: str
    project: str
    selection: list[str] = Field(description="Selectors as given (empty: every model)")
    exclude: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list, description="The models it targets")
    flags: RunFlags = Field(default_factory=RunFlags)
    requested_by: str | None = Field(default=None, description="Who asked (None: a CLI run)")
    queued_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    error: str | None = None
    cancel_requested: bool = False
    windows: list[str] = Field(
        default_factory=list, description="Run ids of a window backfill, one per window"
    )

    @classmethod
    def of(cls, record: RunRecord | None, request: RunRequest | None) -> Run:
        """The run from its state record and/or its queue request (one of them at least)."""
        if request is None:
            assert record is not None
            return cls(
                id=record.run_id,
                status=record.status,
                env=record.env,
                project=record.project,
                selection=record.selection.split() if record.selection else [],
                started_at=when(record.started_at),
                finished_at=when(record.finished_at),
                succeeded=record.succeeded,
                failed=record.failed,
                skipped=record.skipped,
                error=record.error,
            )
        status: RunState = "success" if request.status == "done" else request.status
        options = request.options
        return cls(
            id=request.id,
            status=status,
            env=request.env,
            project=request.project,
            selection=list(request.selection),
            exclude=list(request.exclusions),
            models=list(request.targets),
            flags=RunFlags(
                force=bool(options.get("force")),
                full_refresh=bool(options.get("full_refresh")),
                since=options.get("since"),
                until=options.get("until"),
                window=options.get("window"),
            ),
            requested_by=request.requested_by,
            queued_at=when(request.created_at),
            started_at=when(record.started_at if record else request.started_at),
            finished_at=when(request.finished_at if request.finished else None),
            succeeded=record.succeeded if record else 0,
            failed=record.failed if record else 0,
            skipped=record.skipped if record else 0,
            error=request.error or (record.error if record else None),
            cancel_requested=request.cancel_requested,
            windows=list(request.run_ids) if len(request.run_ids) > 1 else [],
        )


class RunPage(BaseModel):
    """One page of run history, newest first."""

    items: list[Run]
    total: int = Field(description="Runs matching the filters, on every page")
    limit: int
    offset: int


class Task(BaseModel):
    """One model's part in a run."""

    model: str
    status: TaskState
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    duration: float | None = Field(default=None, description="Seconds")
    rows: int | None = None
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    materialize: str | None = None
    strategy: str | None = None
    attempts: int = 1
    error: str | None = None
    error_type: str | None = None
    location: str | None = None
    skip_reason: str | None = None
    run_id: str

    @classmethod
    def of(cls, record: ModelRunRecord) -> Task:
        return cls(
            model=record.model,
            status=record.status,
            started_at=when(record.started_at),
            finished_at=when(record.finished_at),
            duration=record.duration,
            rows=record.rows,
            rows_inserted=record.rows_inserted,
            rows_updated=record.rows_updated,
            rows_deleted=record.rows_deleted,
            materialize=record.materialize,
            strategy=record.strategy,
            attempts=record.attempts,
            error=record.error,
            error_type=record.error_type,
            location=record.location,
            skip_reason=record.skip_reason,
            run_id=record.run_id,
        )


class TaskList(BaseModel):
    items: list[Task]
