"""The scheduler in the served app: schedules fire real runs, ``/api/v1/scheduler`` shows them,
pause / resume / trigger work over HTTP, ``schedule.*`` events reach SSE clients and the fires
are counted in ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from interlace.testing import ProjectFolder
from interlace_service.testing import Served, wait_for

MODELS = {
    "models/ticking.sql": '-- @schedule: {every: "1s", overlap: queue}\nSELECT 1 AS id\n',
    "models/orders.sql": "SELECT 1 AS id\n",
}
CONFIG_SCHEDULES = """
schedules:
  nightly:
    select: [orders]
    cron: "0 2 * * *"
    timezone: Europe/Berlin
    full_refresh: true
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    folder = ProjectFolder.create(tmp_path / "shop").write(MODELS)
    config = (folder.root / "config.yaml").read_text() + CONFIG_SCHEDULES
    folder.write({"config.yaml": config})
    served = Served.start(folder, scheduler=True)
    yield served
    served.close()


def test_a_schedule_fires_runs_shown_by_the_scheduler_api(served: Served) -> None:
    def fired() -> dict[str, object] | None:
        status = served.call("GET", "/api/v1/scheduler").json
        ticking = next(s for s in status["items"] if s["name"] == "ticking")
        return status if ticking["last_run_id"] else None

    status = wait_for(fired, 30, "the 1s schedule to fire")
    assert status["running_here"] is True
    assert len(status["workers"]) == 1 and status["counts"]["fires"] >= 1
    items = {s["name"]: s for s in status["items"]}
    assert items["nightly"]["rule"] == "cron 0 2 * * * (Europe/Berlin)"
    assert items["nightly"]["full_refresh"] is True and items["nightly"]["state"] == "active"
    run = served.wait_run(items["ticking"]["last_run_id"])
    assert run["status"] == "success"

    detail = served.call("GET", "/api/v1/scheduler/ticking").json
    assert detail["slots"] and detail["slots"][0]["outcome"] == "fired"
    missing = served.call("GET", "/api/v1/scheduler/tiking")
    assert missing.status == 404 and "did you mean ticking" in missing.text


def test_pause_resume_and_trigger_over_http(served: Served) -> None:
    paused = served.call("POST", "/api/v1/scheduler/nightly/pause")
    assert paused.status == 200 and paused.json["state"] == "paused"
    assert served.call("GET", "/api/v1/scheduler/nightly").json["state"] == "paused"
    resumed = served.call("POST", "/api/v1/scheduler/nightly/resume").json
    assert resumed["state"] == "active" and resumed["next_slot"]

    queued = served.call("POST", "/api/v1/scheduler/nightly/trigger")
    assert queued.status == 202
    run = served.wait_run(queued.json["id"])
    assert run["status"] == "success"
    store = served.store()
    request = store.get_run_request(queued.json["id"])
    store.close()
    assert request is not None and request.options["full_refresh"] is True
    assert request.options["manual"] is True and request.targets == ("orders",)


def test_schedule_events_reach_sse_and_metrics_count_fires(served: Served) -> None:
    events = served.http.events("/api/v1/events?types=schedule.*", until="schedule.fired")
    fired = [e for e in events if e.event == "schedule.fired"]
    assert fired and fired[0].json["schedule"] in ("ticking", "nightly")
    assert "lateness" in fired[0].json or fired[0].json.get("manual")

    def counted() -> str | None:
        text = served.call("GET", "/metrics").text
        return text if 'interlace_scheduler_fires_total{schedule="ticking"}' in text else None

    text = wait_for(counted, 30, "the fires in /metrics")
    assert "interlace_scheduler_lateness_seconds_bucket" in text
