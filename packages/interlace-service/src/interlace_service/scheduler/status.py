"""What the CLI and the API show of schedules: each schedule's rules, state and slots, read
from the project and the state store (no server needed).

Example::

    views = schedule_views(store, project)           # one ScheduleView per schedule
    store_pause(store, project, "nightly", paused=True)
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interlace.schedules import due_slots, next_slot

from interlace_service.scheduler.definitions import ScheduleDef, project_schedules
from interlace_service.scheduler.firing import find_schedule

if TYPE_CHECKING:
    from interlace.project import Project
    from interlace.state.base import StateStore
    from interlace.state.schedule_state import ScheduleRecord

UTC = dt.UTC


def _iso(moment: float | dt.datetime | None) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, dt.datetime):
        return moment.astimezone(UTC).isoformat()
    return dt.datetime.fromtimestamp(moment, UTC).isoformat()


@dataclass(frozen=True)
class ScheduleView:
    """One schedule as people see it: ``state`` is ``active``, ``paused`` (by ``interlace
    schedule pause`` or the API) or ``disabled`` (``enabled: false`` in its declaration)."""

    definition: ScheduleDef
    record: ScheduleRecord | None
    next_slot: str | None

    @property
    def state(self) -> str:
        if not self.definition.spec.enabled:
            return "disabled"
        if self.record is not None and self.record.paused:
            return "paused"
        return "active"

    def as_dict(self) -> dict[str, Any]:
        d, r = self.definition, self.record
        return {
            "name": d.name,
            "rule": d.describe(),
            "cron": d.spec.cron,
            "every": d.spec.every,
            "timezone": d.spec.timezone,
            "select": list(d.select),
            "exclude": list(d.exclude),
            "models": list(d.targets),
            "model": d.model,
            "source": d.source,
            "state": self.state,
            "catch_up": d.spec.catch_up,
            "overlap": d.spec.overlap,
            "force": d.spec.force,
            "full_refresh": d.full_refresh,
            "last_slot": _iso(r.last_slot) if r else None,
            "last_fired_at": _iso(r.last_fired_at) if r else None,
            "last_run_id": r.last_request if r else None,
            "next_slot": self.next_slot,
        }


def _view(definition: ScheduleDef, record: ScheduleRecord | None, now: float) -> ScheduleView:
    spec = definition.spec
    upcoming: dt.datetime | None = None
    if spec.enabled and not (record and record.paused):
        moment = dt.datetime.fromtimestamp(now, UTC)
        if record is None:
            upcoming = next_slot(spec, moment)
        else:
            last = (
                None
                if record.last_slot is None
                else dt.datetime.fromtimestamp(record.last_slot, UTC)
            )
            due = due_slots(spec, last, moment, since=dt.datetime.fromtimestamp(record.since, UTC))
            upcoming = due.fire[0] if due.fire else due.next
    return ScheduleView(definition, record, _iso(upcoming))


def schedule_views(store: StateStore, project: Project) -> list[ScheduleView]:
    """Every schedule of the project with its stored state."""
    records = store.schedule_records(project.env)
    now = time.time()
    return [_view(d, records.get(d.name), now) for d in project_schedules(project)]


def schedule_view(store: StateStore, project: Project, name: str) -> ScheduleView:
    """One schedule (an error naming the schedules for an unknown name)."""
    definition = find_schedule(project, name)
    return _view(definition, store.schedule_record(project.env, name), time.time())


def set_paused(
    store: StateStore, project: Project, name: str, *, paused: bool, now: float | None = None
) -> ScheduleView:
    """Pause or resume schedule ``name`` (at ``now``, default the clock): a running scheduler
    sees it before its next fire. Resuming does not run the slots that passed while it was
    paused."""
    definition = find_schedule(project, name)
    moment = time.time() if now is None else now
    record = store.set_schedule_paused(
        project.env, name, paused, moment, fingerprint=definition.fingerprint
    )
    return _view(definition, record, moment)
