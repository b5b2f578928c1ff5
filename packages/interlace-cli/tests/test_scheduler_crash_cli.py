"""`interlace serve` killed with SIGKILL around a scheduled fire, then started again: every slot
is fired exactly once (one slot row, one run request, never two), the slot cut before its
commit fires after the restart, and a run cut short is taken over and finished.

The kill comes from inside the process at a named point (``INTERLACE_SCHEDULER_CRASH_AT``, see
``interlace_service.scheduler.crash_points``) or, for a running model, from the test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from interlace.state import SQLiteStateStore

if TYPE_CHECKING:
    from conftest import Folder

EVERY = 2  # seconds between slots

HELD = """
import time
from pathlib import Path

from interlace import model

ROOT = Path(__file__).parent.parent

@model(schedule={"every": "2s", "catch_up": "all", "overlap": "queue"})
def held():
    marker = ROOT / "held.started"
    first = not marker.exists()
    marker.write_text("")
    deadline = time.monotonic() + 60
    while first and not (ROOT / "held.gate").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return [{"id": 1}]
"""

TICKING = '-- @schedule: {every: "2s", catch_up: all, overlap: queue}\nSELECT 1 AS id\n'


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def state(folder: Folder) -> SQLiteStateStore:
    return SQLiteStateStore(folder.root / ".interlace" / "state.db")


def fires_and_requests(folder: Folder) -> tuple[list[Any], list[Any]]:
    store = state(folder)
    try:
        fires = store.schedule_fires("dev", limit=10_000)
        requests = [
            r
            for r in store.run_requests("dev", limit=10_000)
            if r.requested_by.startswith("schedule:")
        ]
        return fires, requests
    finally:
        store.close()


def assert_each_slot_fired_once(folder: Folder) -> list[float]:
    """One fired slot row per request and one request per slot: the fire and its request
    were written together or not at all. Returns the fired slots, oldest first."""
    fires, requests = fires_and_requests(folder)
    per_slot = Counter(r.options["slot"] for r in requests)
    assert all(count == 1 for count in per_slot.values()), per_slot
    fired = {f.request_id: f for f in fires if f.outcome == "fired"}
    assert set(fired) == {r.id for r in requests}
    for request in requests:
        assert fired[request.id].slot == _epoch(request.options["slot"])
    return sorted(f.slot for f in fired.values())


def _epoch(iso: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(iso).timestamp()


def serve(folder: Folder, *args: str, crash: str | None = None) -> subprocess.Popen[str]:
    env = {"INTERLACE_SCHEDULER_CRASH_AT": crash} if crash else None
    return folder.start("serve", "--port", "0", "--lease", "2s", "--grace", "5s", *args, env=env)


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, out + err
    return out + err


@pytest.mark.parametrize("point", ["before_transaction", "before_commit", "after_commit"])
def test_killed_at_a_point_around_a_fire_each_slot_fires_exactly_once(
    project: Folder, point: str
) -> None:
    project.write({"models/ticking.sql": TICKING})
    crashed = serve(project, crash=point)
    crashed.wait(timeout=60)  # it kills itself at its first fire
    assert crashed.returncode == -signal.SIGKILL, crashed.communicate()
    crashed.communicate()
    fires, requests = fires_and_requests(project)
    if point == "after_commit":
        assert len(fires) == len(requests) == 1
    else:
        assert fires == [] and requests == []
    store = state(project)
    record = store.schedule_record("dev", "ticking")
    store.close()
    assert record is not None
    first_slot = (int(record.since) // EVERY + 1) * EVERY  # the slot it died on

    restarted = serve(project)
    wait_for(lambda: sum(1 for f in fires_and_requests(project)[0]) >= 3, 60, "three fired slots")
    stop(restarted)
    slots = assert_each_slot_fired_once(project)
    assert slots[0] == first_slot  # the cut slot fired (once), before or after the restart
    assert slots == [float(s) for s in range(int(slots[0]), int(slots[-1]) + 1, EVERY)]
    done = [r for r in fires_and_requests(project)[1] if r.status == "done"]
    assert done, "the restarted server ran the scheduled runs"


def test_killed_while_the_scheduled_run_runs_the_run_is_taken_over_not_refired(
    project: Folder,
) -> None:
    project.write({"models/held.py": HELD})
    first = serve(project)
    wait_for(lambda: (project.root / "held.started").exists(), 60, "the scheduled run to start")
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=30)
    (project.root / "held.gate").write_text("")
    requests = fires_and_requests(project)[1]
    cut = next(r for r in requests if r.status == "running")

    restarted = serve(project)

    def finished() -> Any:
        store = state(project)
        try:
            request = store.get_run_request(cut.id)
            return request if request is not None and request.finished else None
        finally:
            store.close()

    taken = wait_for(finished, 60, "the cut run to be taken over and finished")
    output = stop(restarted)
    assert taken.status == "done", (taken, output)
    assert taken.options["takeovers"] == 1
    assert f"{cut.id}-t1" in taken.run_ids
    assert_each_slot_fired_once(project)
    assert project.count("held") == 1
    store = state(project)
    try:
        killed = store.get_run(cut.id)
        assert killed is not None and killed.status == "killed"
        events = [e for e in store.events(limit=10_000) if e.type == "schedule.fired"]
        assert len({json.dumps(e.data["slot"]) for e in events}) == len(events)
    finally:
        store.close()


def test_a_second_server_with_the_scheduler_on_sqlite_is_refused(project: Folder) -> None:
    project.write({"models/ticking.sql": TICKING})
    first = serve(project)
    wait_for(lambda: fires_and_requests(project)[0], 60, "the first server to fire")
    second = project.interlace("serve", "--port", "0", timeout=60)
    assert second.code == 1 and not second.has_traceback, second
    assert f"process {first.pid}" in second.output
    assert "PostgreSQL" in second.output and "--no-scheduler" in second.output
    stop(first)
