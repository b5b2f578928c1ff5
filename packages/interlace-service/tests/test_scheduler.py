"""The scheduler without HTTP: ``Scheduler.tick(now)`` on a real project and state store fires
each slot once, catches up after downtime, skips or queues behind a running run, honours
pause, jitter and a clock that jumps back, and refuses a second scheduler on SQLite."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from interlace.errors import InterlaceError
from interlace.state import SQLiteStateStore
from interlace.testing import ProjectFolder
from interlace_service.scheduler import Scheduler, SchedulerBusy, project_schedules
from interlace_service.scheduler.status import schedule_views, set_paused

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday, between two hourly slots

MODELS = {
    "models/orders.sql": "-- @schedule: {every: 1h}\nSELECT 1 AS id\n",
    "models/revenue.sql": "SELECT count(*) AS n FROM orders\n",
    "models/events.py": (
        "from interlace import model\n\n"
        "@model(cursor='at', strategy='append', schedule={'cron': '*/15 * * * *', 'overlap': 'queue'})\n"
        "def events(cursor=None):\n    return [{'at': 1}]\n"
    ),
}


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


@pytest.fixture
def folder(tmp_path: Path) -> ProjectFolder:
    return ProjectFolder.create(tmp_path / "shop").write(MODELS)


def make(folder: ProjectFolder, now: dt.datetime = T0, **kwargs: object) -> Scheduler:
    store = SQLiteStateStore(folder.root / ".interlace" / "state.db")
    scheduler = Scheduler(store, folder.load(), **kwargs)  # type: ignore[arg-type]
    scheduler.start(now)
    return scheduler


def finish_all(scheduler: Scheduler) -> None:
    """What a run worker does: run the queued requests (here: mark them done)."""
    for request in scheduler.store.run_requests(statuses=["queued", "running"], limit=1000):
        scheduler.store.finish_run_request(request.id, "done", at=0)


def requests(scheduler: Scheduler) -> list[tuple[str, tuple[str, ...]]]:
    return [(r.requested_by, r.selection) for r in scheduler.store.run_requests(limit=1000)]


def test_a_model_schedule_fires_that_model_alone_once_per_slot(folder: ProjectFolder) -> None:
    scheduler = make(folder)
    assert scheduler.tick(at(0.2)).fired == []  # 09:42: no slot since the start
    report = scheduler.tick(at(0.5))  # 10:00
    assert sorted((n, s) for n, s, _ in report.fired) == [("events", at(0.5)), ("orders", at(0.5))]
    assert scheduler.tick(at(0.5)).fired == []  # the same instant again: nothing
    assert scheduler.tick(at(0.51)).fired == []
    request = scheduler.store.get_run_request({n: r for n, _, r in report.fired}["orders"])
    assert request is not None
    assert (request.selection, request.targets) == (("orders",), ("orders",))
    assert request.options == {"schedule": "orders", "slot": at(0.5).isoformat()}
    assert "force" not in request.options  # change detection decides, as for any run


def test_a_second_scheduler_on_the_same_store_sees_the_slot_taken(folder: ProjectFolder) -> None:
    first = make(folder)
    first.tick(at(0.5))
    first.store.release_scheduler(first.env, first.owner)  # as if it had stopped
    second = make(folder)
    assert second.tick(at(0.5)).fired == []
    assert len(requests(second)) == 2


def test_after_downtime_the_latest_missed_slot_runs_once(folder: ProjectFolder) -> None:
    scheduler = make(folder)
    scheduler.tick(at(0.5))
    finish_all(scheduler)
    report = scheduler.tick(at(5.7))  # down from 10:00 to 15:12
    fired = [(n, s) for n, s, _ in report.fired]
    assert ("orders", at(5.5)) in fired and ("events", at(5.7) - dt.timedelta(minutes=12)) in fired
    missed = dict(report.missed)
    assert missed["orders"] == [at(h + 0.5) for h in range(1, 5)]
    stored = scheduler.store.events()
    assert {e.type for e in stored} >= {"schedule.fired", "schedule.missed", "run.queued"}
    assert [n for n, _, _ in scheduler.tick(at(5.8)).fired] == ["events"]  # 15:15


def test_catch_up_all_runs_every_missed_slot_up_to_the_cap(folder: ProjectFolder) -> None:
    folder.write(
        {
            "models/orders.sql": "-- @schedule: {every: 1h, catch_up: all, max_catch_up: 3}\n"
            "SELECT 1 AS id\n"
        }
    )
    scheduler = make(folder)
    scheduler.tick(at(0.5))
    finish_all(scheduler)
    report = scheduler.tick(at(6.6))
    orders = [s for n, s, _ in report.fired if n == "orders"]
    assert orders == [at(4.5), at(5.5), at(6.5)]
    assert dict(report.missed)["orders"] == [at(1.5), at(2.5), at(3.5)]


def test_a_clock_that_jumps_back_refires_nothing(folder: ProjectFolder) -> None:
    scheduler = make(folder)
    scheduler.tick(at(0.5))
    finish_all(scheduler)
    scheduler.tick(at(1.5))
    assert scheduler.tick(at(0.5)).fired == []
    assert scheduler.tick(at(1.0)).fired == []
    assert scheduler.tick(at(1.5)).fired == []
    assert len([r for r in requests(scheduler) if r[0] == "schedule:orders"]) == 2


def test_overlap_skip_and_queue(folder: ProjectFolder) -> None:
    scheduler = make(folder)
    scheduler.tick(at(0.5))  # orders and events queued, nothing runs them
    report = scheduler.tick(at(1.5))
    assert [n for n, _ in report.skipped] == ["orders"]  # overlap: skip (the default)
    assert [n for n, _, _ in report.fired] == ["events"]  # overlap: queue
    fires = {f.outcome for f in scheduler.store.schedule_fires(scheduler.env, "orders")}
    assert fires == {"fired", "skipped"}
    skipped = [e for e in scheduler.store.events() if e.type == "schedule.skipped"]
    assert skipped and skipped[0].data["schedule"] == "orders"


def test_pause_and_resume_do_not_run_the_slots_of_the_pause(folder: ProjectFolder) -> None:
    scheduler = make(folder)
    set_paused(scheduler.store, scheduler.project, "orders", paused=True, now=at(0.1).timestamp())
    scheduler.wake()
    assert [n for n, _, _ in scheduler.tick(at(0.5)).fired] == ["events"]
    assert [v.state for v in schedule_views(scheduler.store, scheduler.project)][1] == "paused"
    finish_all(scheduler)
    set_paused(scheduler.store, scheduler.project, "orders", paused=False, now=at(1.1).timestamp())
    scheduler.wake()
    assert "orders" not in [n for n, _, _ in scheduler.tick(at(1.2)).fired]
    assert [n for n, _, _ in scheduler.tick(at(1.5)).fired if n == "orders"] == ["orders"]


def test_a_disabled_schedule_never_fires(folder: ProjectFolder) -> None:
    folder.write(
        {"models/orders.sql": "-- @schedule: {every: 1h, enabled: false}\nSELECT 1 AS id\n"}
    )
    scheduler = make(folder)
    assert [n for n, _, _ in scheduler.tick(at(0.5)).fired] == ["events"]
    assert scheduler.next_wake() == at(0.75).timestamp()


def test_jitter_delays_the_fire_within_its_bound(folder: ProjectFolder) -> None:
    folder.write({"models/orders.sql": "-- @schedule: {every: 1h, jitter: 10m}\nSELECT 1 AS id\n"})
    scheduler = make(folder)
    scheduler.tick(at(0.5))
    wake = [w for w, n in scheduler._heap if n == "orders"]
    assert (
        wake
        and at(0.5).timestamp() <= min(wake) <= (at(0.5) + dt.timedelta(minutes=10)).timestamp()
    )
    fired_at = dt.datetime.fromtimestamp(min(wake), UTC)
    assert scheduler.tick(fired_at - dt.timedelta(seconds=1)).fired == []
    assert [n for n, _, _ in scheduler.tick(fired_at).fired] == ["orders"]


def test_named_config_schedules_carry_selection_flags_and_backfill(folder: ProjectFolder) -> None:
    folder.write(
        {
            "config.yaml": (folder.root / "config.yaml").read_text() + "schedules:\n"
            "  nightly:\n"
            "    select: [+revenue]\n"
            "    cron: '0 2 * * *'\n"
            "    timezone: Europe/Berlin\n"
            "    full_refresh: true\n"
            "    force: true\n"
            "    overlap: queue\n"
            "  events_backfill:\n"
            "    select: events\n"
            "    every: 1d\n"
            "    backfill: 2d\n"
            "    window: 1d\n"
            "    overlap: queue\n"
        }
    )
    scheduler = make(folder)
    names = sorted(scheduler.schedules)
    assert names == ["events", "events_backfill", "nightly", "orders"]
    report = scheduler.tick(dt.datetime(2026, 3, 3, 1, 0, tzinfo=UTC))  # 02:00 in Berlin
    fired = {n: rid for n, _, rid in report.fired}
    nightly = scheduler.store.get_run_request(fired["nightly"])
    assert nightly is not None
    assert nightly.targets == ("orders", "revenue") and nightly.selection == ("+revenue",)
    assert nightly.options["full_refresh"] is True and nightly.options["force"] is True
    backfill = scheduler.store.get_run_request(fired["events_backfill"])
    assert backfill is not None
    assert backfill.options["since"] == "2026-03-01T00:00:00+00:00"
    assert backfill.options["until"] == "2026-03-03T00:00:00+00:00"
    assert backfill.options["window"] == "1d"


@pytest.mark.parametrize(
    ("entry", "field", "says"),
    [
        ("{select: orders, cron: '0 25 * * *'}", "schedules.bad.cron", "not a cron expression"),
        (
            "{select: orders, cron: '0 2 * * *', timezone: Mars/Olympus}",
            "schedules.bad.timezone",
            "unknown time zone",
        ),
        ("{select: orders, every: 0s}", "schedules.bad.every", "longer than zero"),
        ("{select: orders, every: -1h}", "schedules.bad.every", ""),
        ("{select: [], every: 1h}", "schedules.bad.select", ""),
        ("{every: 1h}", "schedules.bad.select", "missing"),
    ],
)
def test_bad_named_schedules_are_load_errors_naming_schedule_and_field(
    folder: ProjectFolder, entry: str, field: str, says: str
) -> None:
    config = (folder.root / "config.yaml").read_text() + f"schedules:\n  bad: {entry}\n"
    folder.write({"config.yaml": config})
    with pytest.raises(InterlaceError) as error:
        folder.load()
    text = str(error.value)
    assert field in text and says in text and "config.yaml" in text


def test_a_named_schedule_naming_no_model_is_an_error_naming_it(folder: ProjectFolder) -> None:
    config = (folder.root / "config.yaml").read_text()
    folder.write({"config.yaml": config + "schedules:\n  nightly: {select: ordrs, every: 1h}\n"})
    with pytest.raises(InterlaceError) as error:
        project_schedules(folder.load())
    text = str(error.value)
    assert "schedules.nightly.select" in text and "ordrs" in text and "config.yaml" in text


def test_sqlite_refuses_a_second_live_scheduler_naming_the_holder(folder: ProjectFolder) -> None:
    first = make(folder)
    with pytest.raises(SchedulerBusy) as error:
        make(folder)
    text = str(error.value)
    assert f"process {first.store.schedulers(first.env, T0.timestamp())[0].pid}" in text
    assert "PostgreSQL" in text
    first.stop()
    make(folder).stop()  # released: the next one starts


def test_events_carry_schedule_and_slot(folder: ProjectFolder) -> None:
    scheduler = make(folder)
    report = scheduler.tick(at(0.5))
    fired = [e for e in scheduler.store.events() if e.type == "schedule.fired"]
    assert {e.data["schedule"] for e in fired} == {"orders", "events"}
    orders = next(e for e in fired if e.data["schedule"] == "orders")
    assert orders.run_id == {n: r for n, _, r in report.fired}["orders"]
    assert json.loads(json.dumps(orders.data))["slot"] == at(0.5).isoformat()
    assert scheduler.stats.fires == 2


def test_daylight_saving_slots_fire_once(folder: ProjectFolder) -> None:
    folder.write(
        {
            "models/orders.sql": (
                "-- @schedule: {cron: '30 2 * * *', timezone: Europe/Berlin, catch_up: all}\n"
                "SELECT 1 AS id\n"
            )
        }
    )
    folder.remove("models/events.py")
    spring = dt.datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    scheduler = make(folder, now=spring)
    fired: list[dt.datetime] = []
    moment = spring
    while moment < dt.datetime(2026, 3, 29, 12, 0, tzinfo=UTC):  # 02:30 does not exist
        moment += dt.timedelta(minutes=10)
        fired += [s for n, s, _ in scheduler.tick(moment).fired if n == "orders"]
        finish_all(scheduler)
    assert fired == [dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)]  # 03:00 CEST, after the gap
    fired.clear()
    moment = dt.datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    scheduler.tick(moment)
    finish_all(scheduler)
    while moment < dt.datetime(2026, 10, 25, 12, 0, tzinfo=UTC):  # 02:30 happens twice
        moment += dt.timedelta(minutes=10)
        fired += [s for n, s, _ in scheduler.tick(moment).fired if n == "orders"]
        finish_all(scheduler)
    assert fired == [dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]  # 02:30 CEST, the first


def test_a_reloaded_project_brings_its_new_and_changed_schedules(folder: ProjectFolder) -> None:
    from interlace.project import load_project

    current = [folder.load()]
    store = SQLiteStateStore(folder.root / ".interlace" / "state.db")
    scheduler = Scheduler(store, lambda: current[0])
    scheduler.start(T0)
    scheduler.tick(at(0.5))
    finish_all(scheduler)
    folder.write(
        {
            "models/orders.sql": "-- @schedule: {every: 2h}\nSELECT 1 AS id\n",
            "models/revenue.sql": "-- @schedule: {every: 1h}\nSELECT count(*) AS n FROM orders\n",
        }
    )
    current[0] = load_project(folder.root)
    report = scheduler.tick(at(1.5))
    # revenue is new and orders' rules changed: both owe slots after the reload only
    assert [n for n, _, _ in report.fired] == ["events"]
    assert sorted(scheduler.schedules) == ["events", "orders", "revenue"]
    finish_all(scheduler)
    fired = sorted(n for n, _, _ in scheduler.tick(at(2.5)).fired)
    assert fired == ["events", "orders", "revenue"]
