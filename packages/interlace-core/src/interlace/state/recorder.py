"""Writes run events into a state store (the only writer of run state during a run)."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from interlace.quality import CheckResult
from interlace.state.base import DeadLetter, ModelRunRecord, ModelState, Watermark

if TYPE_CHECKING:
    from interlace.state.base import StateStore


def describe_schema_change(old: list[tuple[str, str]], new: list[tuple[str, str]]) -> str:
    """A one-line summary of what changed between two column lists."""
    before, after = dict(old), dict(new)
    parts = [f"+{c} {t}" for c, t in new if c not in before]
    parts += [f"-{c}" for c, _ in old if c not in after]
    parts += [f"~{c} {before[c]} -> {t}" for c, t in new if c in before and before[c] != t]
    return ", ".join(parts) or "column order"


class StateRecorder:
    """Subscribe with ``bus.subscribe(StateRecorder(store, env))``."""

    def __init__(self, store: StateStore, env: str) -> None:
        self.store = store
        self.env = env
        self._started: dict[tuple[str, str], float] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.store.start_run(
                event.run_id,
                event.project,
                event.env,
                " ".join(event.selection),
                len(event.models),
                event.at,
            )
        elif isinstance(event, ModelStarted):
            self._started[(event.run_id, event.model)] = event.at
        elif isinstance(event, ModelFinished):
            with (
                self.store.transaction()
            ):  # the model's run, state, schema and watermark: one commit
                self._finished(event)
        elif isinstance(event, ModelFailed):
            started = self._started.pop((event.run_id, event.model), None)
            self.store.record_model_run(
                ModelRunRecord(
                    event.run_id,
                    event.model,
                    "failed",
                    started,
                    event.at,
                    event.duration,
                    None,
                    None,
                    None,
                    event.error,
                    event.error_type,
                    event.location,
                    None,
                    attempts=event.attempts,
                )
            )
            self.store.add_dead_letter(
                DeadLetter(
                    0,
                    self.env,
                    event.model,
                    event.run_id,
                    event.error,
                    event.error_type,
                    event.location,
                    event.traceback,
                    event.attempts,
                    "open",
                    event.at,
                    None,
                    None,
                )
            )
        elif isinstance(event, ModelSkipped):
            self.store.record_model_run(
                ModelRunRecord(
                    event.run_id,
                    event.model,
                    "skipped",
                    None,
                    event.at,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    event.reason,
                )
            )
        elif isinstance(event, CheckFinished):
            self.store.add_quality_result(
                self.env,
                event.run_id,
                CheckResult(
                    event.model,
                    event.name,
                    event.check_type,
                    event.severity,
                    event.status,
                    event.failing_rows,
                    list(event.sample),
                    event.sql,
                    event.message,
                ),
                event.at,
            )
        elif isinstance(event, RunFinished):
            self.store.finish_run(
                event.run_id,
                event.status,
                event.at,
                event.succeeded,
                event.failed,
                event.skipped,
                event.error,
            )

    def _finished(self, event: ModelFinished) -> None:
        started = self._started.pop((event.run_id, event.model), None)
        stats = event.stats
        self.store.record_model_run(
            ModelRunRecord(
                event.run_id,
                event.model,
                "success",
                started,
                event.at,
                event.duration,
                event.rows,
                event.materialize,
                event.strategy,
                None,
                None,
                None,
                None,
                stats.get("inserted"),
                stats.get("updated"),
                stats.get("deleted"),
                event.attempts,
                event.fingerprint,
            )
        )
        if event.fingerprint is not None:
            self.store.save_model_state(
                self.env,
                ModelState(
                    event.model,
                    event.fingerprint,
                    event.data_version,
                    event.content_hash,
                    dict(event.upstream_versions),
                    event.run_id,
                    event.at,
                ),
            )
        if event.columns is not None:
            columns = [(str(c[0]), str(c[1])) for c in event.columns]
            versions = self.store.schema_versions(self.env, event.model)
            last = [(str(c[0]), str(c[1])) for c in versions[-1].columns] if versions else None
            if last != columns:
                change = "created" if last is None else describe_schema_change(last, columns)
                self.store.add_schema_version(
                    self.env,
                    event.model,
                    columns,
                    change,
                    event.run_id,
                    event.at,
                )
        if event.watermark is not None:
            column, value, value_type = event.watermark
            self.store.save_watermark(
                self.env,
                Watermark(
                    event.model,
                    column,
                    value,
                    value_type,
                    event.run_id,
                    event.at,
                ),
            )
