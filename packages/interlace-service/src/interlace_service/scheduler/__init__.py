"""The scheduler of ``interlace serve``: schedules of models and config turned into run
requests exactly once per slot (see :mod:`interlace_service.scheduler.firing`).

Example (without a server)::

    from interlace_service.scheduler import Scheduler

    scheduler = Scheduler(store, project)
    scheduler.start()
    scheduler.tick()          # fires what is due now; a server's run worker runs it
"""

from __future__ import annotations

from interlace_service.scheduler.definitions import (
    NamedSchedule,
    ScheduleDef,
    SchedulesSection,
    project_schedules,
)
from interlace_service.scheduler.firing import (
    Scheduler,
    SchedulerBusy,
    SchedulerStats,
    TickReport,
    find_schedule,
    trigger_schedule,
)

__all__ = [
    "NamedSchedule",
    "ScheduleDef",
    "Scheduler",
    "SchedulerBusy",
    "SchedulerStats",
    "SchedulesSection",
    "TickReport",
    "find_schedule",
    "project_schedules",
    "trigger_schedule",
]
