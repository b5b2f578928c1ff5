"""Writes run events into a state store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace.events import (
    Event,
    ModelFailed,
    ModelFinished,
    ModelSkipped,
    ModelStarted,
    RunFinished,
    RunStarted,
)
from interlace.state.base import ModelRunRecord

if TYPE_CHECKING:
    from interlace.state.base import StateStore


class StateRecorder:
    """Subscribe with ``bus.subscribe(StateRecorder(store))``."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
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
            started = self._started.pop((event.run_id, event.model), None)
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
                )
            )
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
