"""``GET /api/v1/events``: live run, task and check events; filters; Last-Event-ID replay from
the state store, across a server restart."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest
from interlace.api import run_sync
from interlace_http.testing import SentEvent
from interlace_service.testing import Served, wait_for

if TYPE_CHECKING:
    from conftest import ServeProject


@pytest.fixture(scope="module")
def shop(serve_project: ServeProject) -> Served:
    return serve_project()


def test_following_a_run_shows_its_whole_lifecycle_in_order(shop: Served) -> None:
    run = shop.trigger(select=["+revenue"], force=True)

    events = list(shop.http.events(f"/api/v1/events?run_id={run['id']}", until="run.completed"))

    kinds = [e.event for e in events]
    assert kinds[:2] == ["run.queued", "run.running"]
    assert kinds[-1] == "run.completed"
    assert kinds.count("task.queued") == 2 and kinds.count("task.running") == 2
    assert kinds.count("task.completed") == 2 and "check.completed" in kinds
    ids = [int(e.id or 0) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    done = events[-1].json
    assert (done["run_id"], done["status"], done["succeeded"]) == (run["id"], "success", 2)
    assert done["event"] == "run.completed" and done["id"] == ids[-1]
    revenue = next(
        e.json for e in events if e.event == "task.completed" and e.json["model"] == "revenue"
    )
    assert revenue["rows"] == 1


def test_the_last_event_of_a_request_is_run_ended_after_its_status_is_recorded(
    shop: Served,
) -> None:
    run = shop.trigger(select=["orders"], force=True)
    statuses: list[str] = []

    for event in shop.http.events(f"/api/v1/events?run_id={run['id']}", until="run.ended"):
        if event.event in ("run.completed", "run.ended"):  # what a follower reads then
            statuses.append(shop.http.call("GET", f"/api/v1/runs/{run['id']}").json["status"])
        last = event

    assert last.json["status"] == "done" and last.json["run_ids"] == [run["id"]]
    assert statuses[-1] == "success"  # never "running" once run.ended arrived


def test_filters_by_type_patterns_and_failures_have_their_own_types(shop: Served) -> None:
    (shop.root / "broken").write_text("")
    try:
        run = shop.trigger(select=["fragile"])
        events = list(
            shop.http.events(
                f"/api/v1/events?run_id={run['id']}&types=run.*,task.failed", until="run.failed"
            )
        )
    finally:
        (shop.root / "broken").unlink()

    assert [e.event for e in events] == ["run.queued", "run.running", "task.failed", "run.failed"]
    assert "upstream API is down" in events[2].json["error"]


def test_live_stream_carries_runs_from_the_command_line_too(shop: Served) -> None:
    received: list[SentEvent] = []

    def listen() -> None:
        received.extend(shop.http.events("/api/v1/events?types=run.completed", limit=1))

    listener = threading.Thread(target=listen)
    listener.start()
    wait_for(lambda: shop.service.feed.listeners, 30, "the listener to connect")
    cli = run_sync(shop.root, ["orders"], force=True)
    listener.join(timeout=60)

    assert not listener.is_alive()
    assert [(e.event, e.json["run_id"]) for e in received] == [("run.completed", cli.run_id)]


def test_last_event_id_replays_what_a_client_missed_even_after_a_restart(
    shop: Served,
) -> None:
    first = shop.run_ok(select=["orders"], force=True)
    seen = list(shop.http.events(f"/api/v1/events?run_id={first['id']}", until="run.ended"))
    last_seen = seen[-1].id
    second = shop.run_ok(select=["customers"], force=True)

    restarted = Served.start(shop.folder)  # a new server process on the same state store
    try:
        replayed = list(
            restarted.http.events(
                "/api/v1/events?types=run.*",
                headers={"Last-Event-ID": str(last_seen)},
                until="run.ended",
            )
        )
    finally:
        restarted.close()

    assert [(e.event, e.json["run_id"]) for e in replayed] == [
        ("run.queued", second["id"]),
        ("run.running", second["id"]),
        ("run.completed", second["id"]),
        ("run.ended", second["id"]),
    ]
    assert all(int(e.id or 0) > int(last_seen or 0) for e in replayed)
