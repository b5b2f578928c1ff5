"""What a project schedules: each model's own ``schedule=`` and the named ``schedules:`` of its
config, turned into :class:`ScheduleDef` values the scheduler fires.

A model's own schedule runs that model alone (its upstreams are read as they are), named
``schedules:`` run a selection with run flags::

    schedules:
      nightly_finance:
        select: ["tag:finance"]        # selectors as for `interlace run`
        exclude: [finance_archive]
        cron: "0 2 * * *"
        timezone: Europe/Berlin
        full_refresh: true
      hourly_events:
        select: events
        every: 1h
        backfill: 3h                   # re-read the last 3 hours of incremental models
        window: 1h                     # ... in runs of one hour

Timing keys are those of :class:`interlace.schedules.ScheduleSpec` (``catch_up``, ``jitter``,
``overlap``, ``force``, ``enabled``, ...). A bad cron expression, time zone or interval is an
error when the project loads, naming ``schedules.NAME.FIELD`` and the line; a selection that
names no model is an error when the scheduler (or ``interlace schedule``) reads the schedules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interlace.errors import ConfigError, InterlaceError
from interlace.schedules import ScheduleSpec
from pydantic import ConfigDict, Field, RootModel, field_validator

if TYPE_CHECKING:
    from interlace.project import Project


class NamedSchedule(ScheduleSpec):
    """One entry of ``schedules:``: the timing of :class:`ScheduleSpec` plus what to run.

    ``select``/``exclude``: selectors as for ``interlace run``; ``full_refresh``: rebuild the
    selected tables from scratch; ``backfill``: each run reprocesses incremental models from
    this long before the slot up to the slot (``since``/``until``); ``window``: splits that
    backfill into runs of this size.
    """

    model_config = ConfigDict(use_attribute_docstrings=True)

    select: tuple[str, ...] = Field(min_length=1)
    """What to run: selectors as for `interlace run` (`orders`, `+revenue`, `tag:daily`)."""
    exclude: tuple[str, ...] = ()
    """Selectors of models to leave out."""
    full_refresh: bool = False
    """Rebuild the selected tables from scratch at each run."""
    backfill: str | None = None
    """Each run reprocesses incremental models from this long before the slot up to the slot
    (`3d`)."""
    window: str | None = None
    """Split that backfill into runs of this size (`1d`)."""
    description: str | None = None
    """What the schedule is for (shown in the UI and the API)."""

    @field_validator("select", "exclude", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("select")
    @classmethod
    def _names_something(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not [s for s in value if s.strip()]:
            raise ValueError("names no model: give a model name, +name, name+ or tag:x")
        return value

    @field_validator("backfill", "window")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from interlace.durations import parse_duration

        try:
            length = parse_duration(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        if length <= dt.timedelta(0):
            raise ValueError(f"{value!r} must be longer than zero, e.g. '1d'")
        return value


class SchedulesSection(RootModel[dict[str, NamedSchedule]]):
    """The ``schedules:`` section of config.yaml: named schedules by name."""


@dataclass(frozen=True, kw_only=True)
class ScheduleDef:
    """One schedule of the project, ready to fire.

    ``name`` is the model's name for a model's own schedule, the key under ``schedules:``
    otherwise; ``targets`` are the models its selection resolves to (what overlapping runs are
    checked against); ``source`` says where it is declared, for messages.
    """

    name: str
    spec: ScheduleSpec
    select: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    targets: tuple[str, ...]
    full_refresh: bool = False
    backfill: str | None = None
    window: str | None = None
    source: str = ""
    model: str | None = None  # the model, for a model's own schedule

    @property
    def fingerprint(self) -> str:
        """A hash of the rules and of what it runs: a change makes it a new schedule."""
        data = {
            "spec": self.spec.model_dump(mode="json", include=set(ScheduleSpec.model_fields)),
            "select": self.select,
            "exclude": self.exclude,
            "full_refresh": self.full_refresh,
            "backfill": self.backfill,
            "window": self.window,
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def run_options(self, slot: dt.datetime | None) -> dict[str, Any]:
        """The run request's options for a fire of ``slot`` (``None``: a manual trigger)."""
        options: dict[str, Any] = {"schedule": self.name}
        if slot is not None:
            options["slot"] = slot.isoformat()
        if self.spec.force:
            options["force"] = True
        if self.full_refresh:
            options["full_refresh"] = True
        if self.backfill is not None:
            from interlace.durations import parse_duration

            end = slot or dt.datetime.now(dt.UTC)
            options["since"] = (end - parse_duration(self.backfill)).isoformat()
            options["until"] = end.isoformat()
            if self.window is not None:
                options["window"] = self.window
        return options

    def describe(self) -> str:
        """``cron 0 2 * * * (Europe/Berlin)`` or ``every 15m``."""
        if self.spec.cron is not None:
            return f"cron {self.spec.cron} ({self.spec.timezone})"
        return f"every {self.spec.every}"


def project_schedules(project: Project) -> list[ScheduleDef]:
    """Every schedule of ``project``: models' own first (by model name), then ``schedules:``.

    Raises a :class:`~interlace.errors.ConfigError` naming the schedule, the field and the
    line for a selection that matches no model, and for a named schedule that takes the name
    of a model's own schedule.
    """
    found: dict[str, ScheduleDef] = {}
    for name in sorted(project.models):
        spec = project.models[name]
        schedule = spec.options.schedule
        if schedule is None:
            continue
        found[name] = ScheduleDef(
            name=name,
            spec=schedule,
            select=(name,),
            targets=(name,),
            source=f"model {name}" + (f" ({spec.location})" if spec.location else ""),
            model=name,
        )
    section = project.loaded.sections.get("schedules")
    named = section.root if isinstance(section, SchedulesSection) else {}
    locations = project.loaded.locations
    base = str(project.loaded.files[0]) if project.loaded.files else None
    for name, entry in named.items():
        file, line = locations.where(("schedules", name))
        where = f"{file.name}:{line}" if file is not None and line else "config"
        if name in found:
            raise ConfigError(
                f"schedules.{name}: model {name} has its own schedule under this name",
                file=str(file or base),
                line=line,
                hint="rename the named schedule, or remove one of the two",
            )
        try:
            targets = project.select(list(entry.select), list(entry.exclude))
        except InterlaceError as exc:
            file, line = locations.where(("schedules", name, "select"))
            raise ConfigError(
                f"schedules.{name}.select: {exc.message}",
                file=str(file or base),
                line=line,
                hint=exc.hint or "name a model of the project (interlace info lists them)",
            ) from None
        if not targets:
            file, line = locations.where(("schedules", name, "select"))
            raise ConfigError(
                f"schedules.{name}.select: {list(entry.select)} names no model",
                file=str(file or base),
                line=line,
                hint="name a model of the project (interlace info lists them)",
            )
        found[name] = ScheduleDef(
            name=name,
            spec=ScheduleSpec.model_validate(
                entry.model_dump(include=set(ScheduleSpec.model_fields))
            ),
            select=entry.select,
            exclude=entry.exclude,
            targets=tuple(targets),
            full_refresh=entry.full_refresh,
            backfill=entry.backfill,
            window=entry.window,
            source=f"schedules.{name} ({where})",
        )
    return list(found.values())
