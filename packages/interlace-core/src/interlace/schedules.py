"""Time rules of schedules: when a schedule's slots are, and which are due after downtime.

A schedule is ``{cron: "0 2 * * *", timezone: "Europe/Berlin"}`` (wall-clock slots in a time
zone; the cron expression is read by croniter) or ``{every: "15m"}`` (slots every interval,
aligned to the Unix epoch so every process agrees on them). Everything here is pure: given a
schedule, the last slot that fired and the time now, it says which slots fire and which were
missed. Persistence, exactly-once firing and leases belong to the scheduler that uses it.

Wall-clock rules for time zones with daylight saving:

- a slot inside a spring-forward gap (02:30 on the night clocks jump from 02:00 to 03:00) fires
  once, at the first instant after the gap (03:00);
- a slot inside a fall-back repeated hour fires once, at its first occurrence;
- a clock that jumps backwards never re-fires slots that already fired.

Example::

    spec = ScheduleSpec.model_validate({"cron": "0 2 * * *", "timezone": "Europe/Berlin"})
    due = due_slots(spec, last_fired=yesterday_2am, now=datetime.now(UTC))
    for slot in due.fire: ...          # queue one run request per slot
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from collections.abc import Iterator

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

CatchUp = Literal["none", "latest", "all"]
Overlap = Literal["skip", "queue"]


class ScheduleSpec(BaseModel):
    """One schedule: ``cron`` (with ``timezone``) or ``every``, and what to do around it.

    - ``catch_up``: after downtime, ``latest`` (default) runs the most recent missed slot
      once, ``all`` runs every missed slot (oldest first, at most ``max_catch_up``), ``none``
      runs none of them;
    - ``misfire_grace``: how late a slot may fire and still count as on time (a slot later
      than that is a missed slot, handled by ``catch_up``);
    - ``jitter``: fire up to this long after the slot (the same delay for a given schedule and
      slot in every process), to spread many schedules due at one instant;
    - ``force``: run even when nothing changed (else change detection decides, as for a run);
    - ``overlap``: when the previous run of the same target still runs at the next slot,
      ``skip`` that slot or ``queue`` it behind the running one;
    - ``enabled``: ``false`` keeps the schedule declared but never fires it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    cron: str | None = None
    """When to fire: a cron expression (`0 6 * * *`), read in `timezone` (give `cron` or
    `every`)."""
    every: str | None = None
    """When to fire: an interval (`15m`, `1h`) instead of `cron`."""
    timezone: str = "UTC"
    """The IANA time zone `cron` is read in (`Europe/Berlin`)."""
    catch_up: CatchUp = "latest"
    """After downtime: `latest` runs the most recent missed slot once, `all` every missed slot
    (oldest first), `none` none."""
    max_catch_up: int = Field(default=24, ge=1)
    """With `catch_up: all`, the most missed slots run."""
    misfire_grace: str = "5m"
    """How late a slot may fire and still count as on time (later: a missed slot)."""
    jitter: str | None = None
    """Fire up to this long after the slot (the same delay for a schedule and slot everywhere), to
    spread schedules due at one instant."""
    force: bool = False
    """Run even when nothing changed (else change detection decides, as for a run)."""
    overlap: Overlap = "skip"
    """When the previous run still runs at the next slot: `skip` the slot or `queue` it behind the
    running one."""
    enabled: bool = True
    """`false` keeps the schedule declared but never fires it."""

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from croniter import croniter

        text = " ".join(value.split())
        if len(text.split(" ")) != 5 or not croniter.is_valid(text):
            raise ValueError(
                f"{value!r} is not a cron expression of 5 fields (minute hour day month "
                "weekday), e.g. '0 2 * * *' for 02:00 every day"
            )
        return text

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'"
            ) from None
        return value

    @field_validator("every", "misfire_grace", "jitter")
    @classmethod
    def _positive_duration(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from interlace.durations import parse_duration

        try:
            length = parse_duration(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        if length <= dt.timedelta(0):
            raise ValueError(f"{value!r} must be longer than zero, e.g. '15m'")
        return value

    @model_validator(mode="after")
    def _one_rule(self) -> ScheduleSpec:
        if (self.cron is None) == (self.every is None):
            raise ValueError("a schedule needs exactly one of cron or every")
        if self.every is not None and self.timezone != "UTC":
            raise ValueError("timezone applies to cron schedules; every counts elapsed time")
        return self

    @property
    def interval(self) -> dt.timedelta | None:
        return _duration(self.every) if self.every is not None else None

    @property
    def grace(self) -> dt.timedelta:
        return _duration(self.misfire_grace)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _duration(text: str) -> dt.timedelta:
    from interlace.durations import parse_duration

    return parse_duration(text)


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("times given to the schedule rules must carry a time zone (use UTC)")
    return moment.astimezone(UTC)


def slots_after(spec: ScheduleSpec, after: dt.datetime) -> Iterator[dt.datetime]:
    """The schedule's slots strictly after ``after``, in order, as UTC times (endless)."""
    start = _aware(after)
    interval = spec.interval
    if interval is not None:
        steps = (start - EPOCH) // interval + 1
        slot = EPOCH + steps * interval
        while True:
            yield slot
            slot += interval
    yield from _cron_slots(spec, start)


def _cron_slots(spec: ScheduleSpec, start: dt.datetime) -> Iterator[dt.datetime]:
    from croniter import croniter

    zone = spec.zone
    cursor = croniter(spec.cron, start.astimezone(zone))
    last = start
    while True:
        local: dt.datetime = cursor.get_next(dt.datetime)
        if _second_occurrence(local):
            continue  # the repeated hour of a fall-back night: its slots fired the first time
        slot = local.astimezone(UTC)
        if slot <= last:
            continue
        last = slot
        yield slot


def _second_occurrence(local: dt.datetime) -> bool:
    """Whether ``local`` is the second pass through a wall-clock time that happens twice."""
    first = local.replace(fold=0).utcoffset()
    second = local.replace(fold=1).utcoffset()
    return first != second and local.utcoffset() == second


def next_slot(spec: ScheduleSpec, after: dt.datetime) -> dt.datetime:
    """The first slot strictly after ``after`` (UTC)."""
    return next(slots_after(spec, after))


@dataclass(frozen=True)
class Due:
    """What a scheduler tick does for one schedule: slots to fire now (oldest first), slots
    it missed (reported, never run) and the next slot after ``now``."""

    fire: list[dt.datetime] = field(default_factory=list)
    missed: list[dt.datetime] = field(default_factory=list)
    next: dt.datetime | None = None


def due_slots(
    spec: ScheduleSpec, last_fired: dt.datetime | None, now: dt.datetime, *, since: dt.datetime
) -> Due:
    """The slots in ``(last_fired, now]`` sorted into those to fire and those missed.

    ``since`` is when the schedule was first seen (its slots before that are not owed: a new
    schedule does not run its whole past). A ``now`` before ``last_fired`` (a clock that
    jumped back) fires nothing. Disabled schedules fire nothing and miss nothing.
    """
    now = _aware(now)
    start = max(_aware(since), _aware(last_fired)) if last_fired is not None else _aware(since)
    if not spec.enabled:
        return Due(next=None)
    if now <= start:
        return Due(next=next_slot(spec, start))
    owed: list[dt.datetime] = []
    upcoming: dt.datetime | None = None
    for slot in slots_after(spec, start):
        if slot > now:
            upcoming = slot
            break
        owed.append(slot)
        if len(owed) > 100_000:  # a schedule every second after a year away: keep the tail
            owed = owed[-(spec.max_catch_up + 1) :]
    on_time = [s for s in owed if now - s <= spec.grace]
    late = [s for s in owed if now - s > spec.grace]
    if spec.catch_up == "none":
        return Due(fire=on_time, missed=late, next=upcoming)
    if spec.catch_up == "latest":
        if on_time:
            return Due(fire=on_time[-1:], missed=late + on_time[:-1], next=upcoming)
        return Due(fire=late[-1:], missed=late[:-1], next=upcoming)
    chosen = owed[-spec.max_catch_up :]
    return Due(fire=chosen, missed=owed[: len(owed) - len(chosen)], next=upcoming)


def jitter_for(spec: ScheduleSpec, name: str, slot: dt.datetime) -> dt.timedelta:
    """How long after ``slot`` the schedule ``name`` fires: up to ``jitter``, the same in
    every process (derived from the name and the slot, not from a random generator)."""
    if spec.jitter is None:
        return dt.timedelta(0)
    limit = _duration(spec.jitter)
    digest = hashlib.sha256(f"{name}@{_aware(slot).isoformat()}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return dt.timedelta(seconds=limit.total_seconds() * fraction)


__all__ = [
    "Due",
    "ScheduleSpec",
    "due_slots",
    "jitter_for",
    "next_slot",
    "slots_after",
]
