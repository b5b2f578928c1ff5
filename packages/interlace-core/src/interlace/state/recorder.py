"""Writes run events into a state store (the only writer of run state during a run).

The executor calls it directly, before it publishes an event: a state write never depends on
a listener of the bus. Writes are retried when the store says the failure is transient (a lost
PostgreSQL connection, a busy SQLite file); a write that still fails raises
:class:`~interlace.errors.StateStoreError`, which the run reports (never swallowed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from interlace.errors import StateStoreError, first_line
from interlace.events import (
    CheckFinished,
    Event,
    ModelFailed,
    ModelFinished,
    ModelSkipped,
    ModelStarted,
    RunFinished,
    RunStarted,
)
from interlace.state.base import DeadLetter, ModelRunRecord, ModelState, Watermark

if TYPE_CHECKING:
    from collections.abc import Sequence

    from interlace.state.base import StateStore

log = logging.getLogger("interlace.state")
T = TypeVar("T")

# seconds between attempts of a state write that failed transiently (about 8 s in all)
RETRY_DELAYS: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)


def with_retry(store: StateStore, write: Callable[[], T], what: str) -> T:
    """Run ``write`` (one store transaction); try again after a transient failure; raise
    :class:`StateStoreError` naming ``what`` when it keeps failing."""
    transient = getattr(store, "is_transient", None)
    for delay in (*RETRY_DELAYS, None):
        try:
            return write()
        except StateStoreError:
            raise
        except Exception as exc:
            if delay is None or transient is None or not transient(exc):
                where = getattr(store, "path", "the state store")
                raise StateStoreError(
                    f"could not record {what} in the state store ({where}): {first_line(exc)}",
                    hint="check that the state store is reachable (state: in config)",
                ) from exc
            log.warning("state store: %s; trying again in %gs", first_line(exc), delay)
            reconnect = getattr(store, "reconnect", None)
            if reconnect is not None:
                try:
                    reconnect()
                except Exception:
                    pass  # the next attempt says what is wrong
            time.sleep(delay)
    raise AssertionError("unreachable")


def describe_schema_change(old: list[tuple[str, str]], new: list[tuple[str, str]]) -> str:
    """A one-line summary of what changed between two column lists."""
    before, after = dict(old), dict(new)
    parts = [f"+{c} {t}" for c, t in new if c not in before]
    parts += [f"-{c}" for c, _ in old if c not in after]
    parts += [f"~{c} {before[c]} -> {t}" for c, t in new if c in before and before[c] != t]
    return ", ".join(parts) or "column order"


# the events whose facts the store keeps (others only notify)
_RECORDED = (RunStarted, ModelFinished, ModelFailed, ModelSkipped, CheckFinished, RunFinished)


class StateRecorder:
    """Records events in a state store: ``recorder.record(event)`` (retried; raises
    :class:`StateStoreError`), or subscribed to a bus (``bus.subscribe(recorder)``) where a run
    records nothing else."""

    def __init__(self, store: StateStore, env: str) -> None:
        self.store = store
        self.env = env
        self._started: dict[tuple[str, str], float] = {}

    def __call__(self, event: Event) -> None:
        self.record(event)

    def record(self, event: Event) -> None:
        """Write what ``event`` says into the store (one commit), retrying transient failures."""
        if isinstance(event, ModelStarted):
            self._started[(event.run_id, event.model)] = event.at
            return
        if not isinstance(event, _RECORDED):
            return
        model = getattr(event, "model", None)
        what = f"{event.type} of model '{model}'" if model else event.type

        def write() -> None:
            with self.store.transaction():
                self._write(event)

        with_retry(self.store, write, what)

    def record_many(self, events: Sequence[Event]) -> None:
        """:meth:`record` for a burst of events (the unchanged models of a no-op run): one
        commit, retried as a whole."""
        kept = [e for e in events if isinstance(e, _RECORDED)]
        if not kept:
            return

        def write() -> None:
            with self.store.transaction():
                for event in kept:
                    self._write(event)

        with_retry(self.store, write, f"{len(kept)} {kept[0].type} events")

    def begin_model(self, run_id: str, model: str, at: float) -> None:
        """Before a model writes its table: see :meth:`StateStore.begin_model`."""
        self._started[(run_id, model)] = at
        with_retry(
            self.store,
            lambda: self.store.begin_model(self.env, model, run_id, at),
            f"the start of model '{model}'",
        )

    def model_finished(
        self, event: ModelFinished, checks: list[CheckFinished] | tuple[CheckFinished, ...] = ()
    ) -> None:
        """A model's run, state, schema version, watermark and check results: one commit,
        which also clears its pending mark."""

        def write() -> None:
            with self.store.transaction():
                self._finished(event)
                for check in checks:
                    self._write(check)
                self.store.end_model(self.env, event.model, event.run_id)

        with_retry(self.store, write, f"the state of model '{event.model}'")

    def model_failed(
        self,
        event: ModelFailed,
        checks: list[CheckFinished] | tuple[CheckFinished, ...] = (),
        *,
        table_untouched: bool,
    ) -> None:
        """A failed model's run and dead letter; its pending mark goes when its table was not
        touched (then nothing needs recovering)."""

        def write() -> None:
            with self.store.transaction():
                self._write(event)
                for check in checks:
                    self._write(check)
                if table_untouched:
                    self.store.end_model(self.env, event.model, event.run_id)

        with_retry(self.store, write, f"the failure of model '{event.model}'")

    def _write(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.store.start_run(
                run_id=event.run_id,
                project=event.project,
                env=event.env,
                selection=" ".join(event.selection),
                models=len(event.models),
                started_at=event.at,
            )
        elif isinstance(event, ModelFinished):
            with (
                self.store.transaction()
            ):  # the model's run, state, schema and watermark: one commit
                self._finished(event)
        elif isinstance(event, ModelFailed):
            started = self._started.get((event.run_id, event.model))
            self.store.record_model_run(
                ModelRunRecord(
                    run_id=event.run_id,
                    model=event.model,
                    status="failed",
                    started_at=started,
                    finished_at=event.at,
                    duration=event.duration,
                    error=event.error,
                    error_type=event.error_type,
                    location=event.location,
                    attempts=event.attempts,
                )
            )
            self.store.add_dead_letter(
                DeadLetter(
                    env=self.env,
                    model=event.model,
                    run_id=event.run_id,
                    error=event.error,
                    error_type=event.error_type,
                    location=event.location,
                    traceback=event.traceback,
                    attempts=event.attempts,
                    status="open",
                    created_at=event.at,
                )
            )
        elif isinstance(event, ModelSkipped):
            self.store.record_model_run(
                ModelRunRecord(
                    run_id=event.run_id,
                    model=event.model,
                    status="skipped",
                    finished_at=event.at,
                    skip_reason=event.reason,
                )
            )
        elif isinstance(event, CheckFinished):
            self.store.add_quality_result(self.env, event.run_id, event.result(), event.at)
        elif isinstance(event, RunFinished):
            self.store.finish_run(
                run_id=event.run_id,
                status=event.status,
                finished_at=event.at,
                succeeded=event.succeeded,
                failed=event.failed,
                skipped=event.skipped,
                error=event.error,
            )

    def _finished(self, event: ModelFinished) -> None:
        started = self._started.get((event.run_id, event.model))
        stats = event.stats
        self.store.record_model_run(
            ModelRunRecord(
                run_id=event.run_id,
                model=event.model,
                status="success",
                started_at=started,
                finished_at=event.at,
                duration=event.duration,
                rows=event.rows,
                materialize=event.materialize,
                strategy=event.strategy,
                rows_inserted=stats.get("inserted"),
                rows_updated=stats.get("updated"),
                rows_deleted=stats.get("deleted"),
                attempts=event.attempts,
                fingerprint=event.fingerprint,
            )
        )
        if event.fingerprint is not None:
            self.store.save_model_state(
                self.env,
                ModelState(
                    model=event.model,
                    fingerprint=event.fingerprint,
                    data_version=event.data_version,
                    content_hash=event.content_hash,
                    upstream_versions=dict(event.upstream_versions),
                    last_run_id=event.run_id,
                    last_success_at=event.at,
                ),
            )
        if event.columns is not None:
            columns = [(str(c[0]), str(c[1])) for c in event.columns]
            versions = self.store.schema_versions(self.env, event.model)
            last = [(str(c[0]), str(c[1])) for c in versions[-1].columns] if versions else None
            if last != columns:
                change = "created" if last is None else describe_schema_change(last, columns)
                self.store.add_schema_version(
                    env=self.env,
                    model=event.model,
                    columns=columns,
                    change=change,
                    run_id=event.run_id,
                    at=event.at,
                )
        if event.watermark is not None:
            column, value, value_type = event.watermark
            self.store.save_watermark(
                self.env,
                Watermark(
                    model=event.model,
                    cursor_column=column,
                    value=value,
                    value_type=value_type,
                    run_id=event.run_id,
                    updated_at=event.at,
                ),
            )
