"""The time rules of schedules (pure): slots, daylight saving, catch-up, jitter, bad input."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from interlace.schedules import ScheduleSpec, due_slots, jitter_for, next_slot, slots_after
from pydantic import ValidationError

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")


def spec(**data: object) -> ScheduleSpec:
    return ScheduleSpec.model_validate(data)


def local(*args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN, fold=fold)  # type: ignore[misc]


def take(schedule: ScheduleSpec, after: dt.datetime, n: int) -> list[dt.datetime]:
    return list(itertools.islice(slots_after(schedule, after), n))


def test_cron_slots_are_wall_clock_times_in_the_zone() -> None:
    daily = spec(cron="0 2 * * *", timezone="Europe/Berlin")
    slots = take(daily, local(2026, 6, 1, 12, 0), 2)
    assert [s.astimezone(BERLIN).hour for s in slots] == [2, 2]
    assert slots[0] == local(2026, 6, 2, 2, 0).astimezone(UTC)
    assert all(s.tzinfo == UTC for s in slots)


def test_a_slot_in_the_spring_forward_gap_fires_once_right_after_the_gap() -> None:
    daily = spec(cron="30 2 * * *", timezone="Europe/Berlin")  # 2026-03-29 02:00 -> 03:00
    slots = take(daily, local(2026, 3, 28, 3, 0), 3)
    assert slots[0] == local(2026, 3, 29, 3, 0).astimezone(UTC)  # the first instant after
    assert slots[1] == local(2026, 3, 30, 2, 30).astimezone(UTC)


def test_a_slot_in_the_fall_back_hour_fires_once_at_its_first_occurrence() -> None:
    daily = spec(cron="30 2 * * *", timezone="Europe/Berlin")  # 2026-10-25 03:00 -> 02:00
    slots = take(daily, local(2026, 10, 24, 3, 0), 2)
    assert slots[0] == local(2026, 10, 25, 2, 30, fold=0).astimezone(UTC)  # summer time
    assert slots[1] == local(2026, 10, 26, 2, 30).astimezone(UTC)  # not 02:30 again


def test_sub_hourly_slots_skip_the_repeated_wall_clock_hour() -> None:
    half_hourly = spec(cron="*/30 * * * *", timezone="Europe/Berlin")
    slots = take(half_hourly, local(2026, 10, 25, 1, 45), 4)
    shown = [
        (s.astimezone(BERLIN).strftime("%H:%M"), s.astimezone(BERLIN).utcoffset()) for s in slots
    ]
    assert shown == [
        ("02:00", dt.timedelta(hours=2)),
        ("02:30", dt.timedelta(hours=2)),
        ("03:00", dt.timedelta(hours=1)),  # the second 02:00 and 02:30 do not fire again
        ("03:30", dt.timedelta(hours=1)),
    ]
    assert slots == sorted(set(slots))


def test_interval_slots_align_to_the_epoch_so_every_process_agrees() -> None:
    every = spec(every="15m")
    after = dt.datetime(2026, 1, 1, 10, 7, 13, tzinfo=UTC)
    assert take(every, after, 3) == [
        dt.datetime(2026, 1, 1, 10, 15, tzinfo=UTC),
        dt.datetime(2026, 1, 1, 10, 30, tzinfo=UTC),
        dt.datetime(2026, 1, 1, 10, 45, tzinfo=UTC),
    ]
    on_a_slot = dt.datetime(2026, 1, 1, 10, 15, tzinfo=UTC)
    assert next_slot(every, on_a_slot) == dt.datetime(2026, 1, 1, 10, 30, tzinfo=UTC)


HOURLY = {"cron": "0 * * * *"}
NOON = dt.datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def at(hours: float) -> dt.datetime:
    return NOON + dt.timedelta(hours=hours)


def test_an_on_time_tick_fires_the_slot_that_just_came() -> None:
    due = due_slots(
        spec(**HOURLY), last_fired=at(0), now=at(1) + dt.timedelta(seconds=0.4), since=at(-5)
    )
    assert due.fire == [at(1)] and due.missed == [] and due.next == at(2)


def test_nothing_is_due_between_slots() -> None:
    due = due_slots(spec(**HOURLY), last_fired=at(1), now=at(1.5), since=at(-5))
    assert due.fire == [] and due.missed == [] and due.next == at(2)


@pytest.mark.parametrize(
    ("policy", "fire", "missed"),
    [
        ("latest", [5], [1, 2, 3, 4]),
        ("none", [], [1, 2, 3, 4, 5]),
        ("all", [1, 2, 3, 4, 5], []),
    ],
)
def test_catch_up_after_downtime(policy: str, fire: list[int], missed: list[int]) -> None:
    # down from 12:30 to 17:20: the 13:00..17:00 slots passed, none on time
    due = due_slots(spec(**HOURLY, catch_up=policy), last_fired=at(0), now=at(5.33), since=at(-5))
    assert due.fire == [at(h) for h in fire]
    assert due.missed == [at(h) for h in missed]
    assert due.next == at(6)


def test_catch_up_all_is_capped_oldest_missed_first() -> None:
    due = due_slots(
        spec(**HOURLY, catch_up="all", max_catch_up=2), last_fired=at(0), now=at(5.5), since=at(-5)
    )
    assert due.fire == [at(4), at(5)]
    assert due.missed == [at(1), at(2), at(3)]


def test_latest_prefers_an_on_time_slot() -> None:
    # the 17:00 slot is 2 minutes late (within the 5m grace): it fires; older ones were missed
    due = due_slots(
        spec(**HOURLY), last_fired=at(0), now=at(5) + dt.timedelta(minutes=2), since=at(-5)
    )
    assert due.fire == [at(5)] and due.missed == [at(1), at(2), at(3), at(4)]


def test_a_clock_that_jumps_back_does_not_refire_slots() -> None:
    due = due_slots(spec(**HOURLY), last_fired=at(3), now=at(1.2), since=at(-5))
    assert due.fire == [] and due.missed == [] and due.next == at(4)


def test_a_new_schedule_does_not_owe_its_past() -> None:
    due = due_slots(spec(**HOURLY, catch_up="all"), last_fired=None, now=at(0.5), since=at(0.25))
    assert due.fire == [] and due.next == at(1)


def test_a_disabled_schedule_fires_nothing() -> None:
    due = due_slots(spec(**HOURLY, enabled=False), last_fired=at(0), now=at(3.5), since=at(-5))
    assert due.fire == [] and due.missed == [] and due.next is None


def test_jitter_is_bounded_and_the_same_in_every_process() -> None:
    jittered = spec(**HOURLY, jitter="30s")
    delays = [jitter_for(jittered, f"model_{i}", at(1)) for i in range(200)]
    assert all(dt.timedelta(0) <= d < dt.timedelta(seconds=30) for d in delays)
    assert len(set(delays)) > 150  # spread, not one delay for all
    assert jitter_for(jittered, "model_7", at(1)) == delays[7]
    assert jitter_for(spec(**HOURLY), "model_7", at(1)) == dt.timedelta(0)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        next_slot(spec(**HOURLY), dt.datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({"cron": "0 25 * * *"}, "cron", "not a cron expression"),
        ({"cron": "every day"}, "cron", "not a cron expression"),
        ({"cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"every": "0s"}, "every", "longer than zero"),
        ({"every": "-5m"}, "every", ""),
        ({"every": "soon"}, "every", ""),
        ({}, "", "exactly one of cron or every"),
        ({"cron": "0 2 * * *", "every": "1h"}, "", "exactly one of cron or every"),
        ({"every": "1h", "timezone": "Europe/Berlin"}, "", "timezone applies to cron"),
        ({"cron": "0 2 * * *", "catch_up": "sometimes"}, "catch_up", ""),
        ({"cron": "0 2 * * *", "unknown": 1}, "unknown", ""),
    ],
)
def test_bad_schedules_name_the_field(data: dict[str, object], field: str, says: str) -> None:
    with pytest.raises(ValidationError) as error:
        ScheduleSpec.model_validate(data)
    problem = error.value.errors()[0]
    assert ".".join(str(p) for p in problem["loc"]) == field
    assert says in problem["msg"]


def test_a_bad_schedule_is_a_load_error_naming_the_model_and_the_field(tmp_path: object) -> None:
    from pathlib import Path

    from interlace.errors import InterlaceError
    from interlace.testing import ProjectFolder

    folder = ProjectFolder.create(Path(str(tmp_path)) / "proj")
    folder.write({"models/nightly.sql": '-- @schedule: {cron: "0 25 * * *"}\nSELECT 1 AS x\n'})
    with pytest.raises(InterlaceError) as sql_error:
        folder.load()
    text = str(sql_error.value)
    assert "models/nightly.sql:1" in text and "schedule.cron" in text and "0 25 * * *" in text
    folder.write(
        {
            "models/nightly.sql": "SELECT 1 AS x\n",
            "models/hourly.py": (
                "from interlace import model\n\n\n"
                "@model(schedule={'every': '0s'})\n"
                "def hourly():\n    return [{'x': 1}]\n"
            ),
        }
    )
    with pytest.raises(InterlaceError) as py_error:
        folder.load()
    text = str(py_error.value)
    assert "models/hourly.py" in text and "schedule.every" in text and "longer than zero" in text
    folder.write(
        {
            "models/hourly.py": "from interlace import model\n\n\n@model(schedule={'every': '90m'})  # another length: no stale bytecode\ndef hourly():\n    return [{'x': 1}]\n"
        }
    )
    assert folder.load().models["hourly"].options.schedule == ScheduleSpec(every="90m")
