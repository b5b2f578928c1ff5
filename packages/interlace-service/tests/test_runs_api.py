"""Runs over HTTP: triggered through the run queue, the same run as from the CLI, cancellable,
queued behind runs of the same models, paged through."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from interlace.api import run_sync
from interlace_service.testing import Served, wait_for

if TYPE_CHECKING:
    from conftest import ServeProject


@pytest.fixture(scope="module")
def shop(serve_project: ServeProject) -> Served:
    return serve_project()


def test_a_triggered_run_builds_the_tables_and_is_recorded_like_a_cli_run(shop: Served) -> None:
    queued = shop.trigger(select=["+revenue", "customers"], force=True)

    assert queued["status"] == "queued"
    assert queued["models"] == ["customers", "orders", "revenue"]
    assert queued["requested_by"] == "anonymous"
    assert queued["flags"]["force"] is True
    run = shop.wait_run(queued["id"])
    assert run["status"] == "success", run
    assert (run["succeeded"], run["failed"]) == (3, 0)
    assert shop.folder.rows("revenue") == [{"total": 30.0}]
    store = shop.store()
    try:
        record = store.get_run(queued["id"])
        assert record is not None and record.status == "success"
        assert {r.model for r in store.model_runs(queued["id"])} == {
            "customers",
            "orders",
            "revenue",
        }
        kinds = [e.type for e in store.events(0, queued["id"])]
    finally:
        store.close()
    assert kinds[0] == "run.queued" and kinds[1] == "run.started"
    assert kinds[-2:] == ["run.completed", "request.ended"]
    assert kinds.count("task.completed") == 3
    tasks = shop.call("GET", f"/api/v1/runs/{queued['id']}/tasks").json["items"]
    assert [(t["model"], t["status"]) for t in tasks] == [
        ("customers", "success"),
        ("orders", "success"),
        ("revenue", "success"),
    ] or sorted((t["model"], t["status"]) for t in tasks) == [
        ("customers", "success"),
        ("orders", "success"),
        ("revenue", "success"),
    ]
    assert {t["rows"] for t in tasks if t["model"] == "orders"} == {2}


def test_run_history_shows_cli_and_http_runs_with_filters_and_paging(shop: Served) -> None:
    shop.run_ok(select=["orders"], force=True)
    shop.run_ok(select=["customers"], force=True)
    cli = run_sync(shop.root, ["customers"], force=True)  # a run of `interlace run`
    assert cli.success

    page = shop.call("GET", "/api/v1/runs?limit=2").json
    second = shop.call("GET", "/api/v1/runs?limit=2&offset=2").json
    only_customers = shop.call("GET", "/api/v1/runs?model=customers&limit=500").json

    assert page["total"] >= 3 and page["limit"] == 2 and len(page["items"]) == 2
    assert page["items"][0]["id"] == cli.run_id  # newest first
    assert page["items"][0]["requested_by"] is None  # not through the queue
    assert not {r["id"] for r in page["items"]} & {r["id"] for r in second["items"]}
    assert cli.run_id in {r["id"] for r in only_customers["items"]}
    failed = shop.call("GET", "/api/v1/runs?status=failed").json
    assert all(r["status"] == "failed" for r in failed["items"])
    assert shop.call("GET", f"/api/v1/runs/{cli.run_id}").json["status"] == "success"


def test_bad_run_requests_name_what_is_wrong(shop: Served) -> None:
    typo = shop.call("POST", "/api/v1/runs", json={"select": ["revenu"]})
    window = shop.call("POST", "/api/v1/runs", json={"window": "1d"})
    dates = shop.call("POST", "/api/v1/runs", json={"since": "2024-02-01", "until": "2024-01-01"})
    wrong_type = shop.call("POST", "/api/v1/runs", json={"select": "orders"})
    unknown = shop.call("POST", "/api/v1/runs", json={"selct": ["orders"]})

    assert typo.status == 422 and typo.json["error"]["code"] == "selection_error"
    assert "'revenu' matches no model" in typo.json["error"]["message"]
    assert "did you mean revenue" in typo.json["error"]["message"]
    assert window.status == 422 and "window needs since" in window.json["error"]["message"]
    assert dates.status == 422 and "not earlier than" in dates.json["error"]["message"]
    assert wrong_type.status == 422 and "body.select" in wrong_type.json["error"]["message"]
    assert unknown.status == 422 and "body.selct: unknown field" in unknown.json["error"]["message"]
    missing = shop.call("GET", "/api/v1/runs/nope")
    assert missing.status == 404 and missing.json["error"]["message"].startswith("no run 'nope'")
    assert shop.call("POST", "/api/v1/runs/nope/cancel").status == 404


def test_cancel_really_stops_a_running_run(shop: Served) -> None:
    shop.hold_slow()
    run = shop.trigger(select=["slow+"])
    shop.slow_started()

    cancelled = shop.call("POST", f"/api/v1/runs/{run['id']}/cancel")

    assert cancelled.status == 202, cancelled
    assert cancelled.json["cancel_requested"] is True
    ended = shop.wait_run(run["id"])
    assert ended["status"] == "cancelled", ended
    assert not (shop.root / "slow.gate").exists()  # it stopped by itself: nothing released it
    again = shop.call("POST", f"/api/v1/runs/{run['id']}/cancel")
    assert again.status == 409 and "already ended (cancelled)" in again.json["error"]["message"]


def test_a_cancel_flag_set_by_another_process_stops_the_run(shop: Served) -> None:
    shop.hold_slow()
    run = shop.trigger(select=["slow"])
    shop.slow_started()

    other = shop.store()  # another server (or process) sharing the state store
    try:
        flagged = other.request_cancel(run["id"], time.time())
    finally:
        other.close()

    assert flagged is not None and flagged.status == "running"
    assert shop.wait_run(run["id"])["status"] == "cancelled"


def test_a_run_of_models_that_are_running_waits_or_is_refused(shop: Served) -> None:
    shop.hold_slow()
    first = shop.trigger(select=["slow"])
    shop.slow_started()

    refused = shop.call("POST", "/api/v1/runs", json={"select": ["slow+"], "on_conflict": "reject"})
    waiting = shop.trigger(select=["slow+"])
    other_models = shop.run_ok(select=["orders"])  # disjoint models run meanwhile

    assert refused.status == 409 and refused.json["error"]["code"] == "run_conflict"
    assert first["id"] in refused.json["error"]["message"]
    assert refused.json["error"]["details"]["models"] == ["slow"]
    queue = shop.call("GET", "/api/v1/runs/queue").json["items"]
    assert [(r["id"], r["status"]) for r in queue] == [
        (first["id"], "running"),
        (waiting["id"], "queued"),
    ]
    assert other_models["status"] == "success"
    shop.release_slow()
    assert shop.wait_run(first["id"])["status"] == "success"
    assert shop.wait_run(waiting["id"])["status"] == "success"


def test_a_queued_run_is_cancelled_before_it_starts(shop: Served) -> None:
    shop.hold_slow()
    first = shop.trigger(select=["slow"])
    shop.slow_started()
    waiting = shop.trigger(select=["slow"])

    cancelled = shop.call("POST", f"/api/v1/runs/{waiting['id']}/cancel")

    assert cancelled.status == 202 and cancelled.json["status"] == "cancelled"
    shop.release_slow()
    assert shop.wait_run(first["id"])["status"] == "success"
    run = shop.call("GET", f"/api/v1/runs/{waiting['id']}").json
    assert (run["status"], run["started_at"], run["error"]) == (
        "cancelled",
        None,
        "cancelled before it started",
    )
    assert shop.call("GET", f"/api/v1/runs/{waiting['id']}/tasks").json["items"] == []


def test_a_window_backfill_runs_one_run_per_window(serve_project: ServeProject) -> None:
    served = serve_project(
        {
            "models/events.sql": """
                SELECT * FROM (VALUES (1, DATE '2024-01-01'), (2, DATE '2024-01-02'),
                               (3, DATE '2024-01-03')) AS t(id, day)
            """,
            "models/daily.sql": """
                -- @cursor: day
                -- @strategy: merge_by_key
                -- @primary_key: id
                SELECT id, day FROM events
            """,
        }
    )
    served.run_ok(select=["events"])

    run = served.run_ok(select=["daily"], since="2024-01-01", until="2024-01-03", window="1d")

    assert run["windows"] == [run["id"], f"{run['id']}-w2"]
    assert run["flags"]["window"] == "1d"
    assert sorted(r["id"] for r in served.folder.rows("daily")) == [1, 2]
    tasks = served.call("GET", f"/api/v1/runs/{run['id']}/tasks").json["items"]
    assert [t["run_id"] for t in tasks] == [run["id"], f"{run['id']}-w2"]
    wait_for(lambda: not served.service.worker.running(), 30, "the worker to be idle")
