"""`interlace schedule list|show|pause|resume|trigger` without a server: they read and write
the state store directly; bad schedules are load errors naming the schedule and the field."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from interlace.state import SQLiteStateStore

if TYPE_CHECKING:
    from conftest import Folder

SCHEDULES = """
schedules:
  nightly:
    select: [+revenue]
    cron: "0 2 * * *"
    timezone: Europe/Berlin
    full_refresh: true
"""


def test_schedule_commands_work_without_a_server(project: Folder) -> None:
    project.write(
        {
            "config.yaml": (project.root / "config.yaml").read_text() + SCHEDULES,
            "models/orders.sql": "-- @schedule: {every: 15m}\nSELECT 1 AS id\n",
            "models/revenue.sql": "SELECT count(*) AS n FROM orders\n",
        }
    )
    listed = project.interlace("schedule", "list")
    assert listed.code == 0, listed
    assert "orders" in listed.stdout and "every 15m" in listed.stdout
    assert "cron 0 2 * * * (Europe/Berlin)" in listed.stdout

    paused = project.interlace("schedule", "pause", "nightly")
    assert paused.code == 0 and "nightly: paused" in paused.stdout, paused
    shown = json.loads(project.interlace("schedule", "show", "nightly", "--json").stdout)
    assert shown["state"] == "paused" and shown["models"] == ["orders", "revenue"]
    resumed = project.interlace("schedule", "resume", "nightly")
    assert "nightly: active; next slot" in resumed.stdout, resumed

    triggered = project.interlace("schedule", "trigger", "nightly")
    assert triggered.code == 0 and "queued run" in triggered.stdout, triggered
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    [request] = store.run_requests("dev")
    store.close()
    assert request.selection == ("+revenue",) and request.options["full_refresh"] is True

    unknown = project.interlace("schedule", "show", "nigthly")
    assert unknown.code == 1 and not unknown.has_traceback
    assert "no schedule 'nigthly'" in unknown.output and "did you mean nightly" in unknown.output


def test_bad_schedules_are_errors_naming_the_schedule_and_the_field(project: Folder) -> None:
    base = (project.root / "config.yaml").read_text()
    project.write({"models/orders.sql": "SELECT 1 AS id\n"})
    cases = {
        "  nightly: {select: orders, cron: '0 25 * * *'}\n": "schedules.nightly.cron",
        "  nightly: {select: orders, cron: '0 2 * * *', timezone: Nowhere/City}\n": (
            "schedules.nightly.timezone"
        ),
        "  nightly: {select: orders, every: 0m}\n": "schedules.nightly.every",
        "  nightly: {select: nothing_here, every: 1h}\n": "schedules.nightly.select",
    }
    for entry, field in cases.items():
        project.write({"config.yaml": base + "schedules:\n" + entry})
        result = project.interlace("schedule", "list")
        assert result.code == 1 and not result.has_traceback, result
        assert field in result.output and "config.yaml" in result.output, result
    project.write(
        {
            "config.yaml": base,
            "models/orders.sql": "-- @schedule: {every: -5m}\nSELECT 1 AS id\n",
        }
    )
    result = project.interlace("schedule", "list")
    assert result.code == 1 and "models/orders.sql" in result.output, result
    assert "schedule.every" in result.output, result
