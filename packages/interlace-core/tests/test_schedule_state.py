"""Scheduler state in the SQLite store: a slot is claimed once, together with its run request
or not at all; the last slot only moves forward; one live scheduler per SQLite store; a dead
server's leased run is queued again for another server."""

from __future__ import annotations

from pathlib import Path

import pytest
from interlace.state import SQLiteStateStore
from interlace.state.run_queue import RunRequest


def request(rid: str, *targets: str, at: float = 1.0) -> RunRequest:
    return RunRequest(
        id=rid, env="dev", project="shop", targets=targets, requested_by="test", created_at=at
    )


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStateStore:
    store = SQLiteStateStore(tmp_path / "state.db")
    store.sync_schedule("dev", "nightly", ["orders"], "f1", now=100.0)
    return store


def test_a_slot_is_claimed_once_with_its_request(store: SQLiteStateStore) -> None:
    with store.transaction():
        assert store.claim_slot("dev", "nightly", 200.0, at=201.0, outcome="fired", request_id="r1")
        store.enqueue_run(request("r1", "orders"))
    with store.transaction():
        assert not store.claim_slot(
            "dev", "nightly", 200.0, at=202.0, outcome="fired", request_id="r2"
        )
    record = store.schedule_record("dev", "nightly")
    assert record is not None and (record.last_slot, record.last_request) == (200.0, "r1")
    assert [r.id for r in store.run_requests("dev")] == ["r1"]
    assert [(f.slot, f.outcome) for f in store.schedule_fires("dev")] == [(200.0, "fired")]


def test_a_fire_that_fails_before_its_commit_leaves_nothing(store: SQLiteStateStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.claim_slot("dev", "nightly", 200.0, at=201.0, outcome="fired", request_id="r1")
        store.enqueue_run(request("r1", "orders"))
        raise RuntimeError("killed")
    assert store.schedule_fires("dev") == [] and store.run_requests("dev") == []
    record = store.schedule_record("dev", "nightly")
    assert record is not None and record.last_slot is None
    with store.transaction():  # the slot fires after the restart
        assert store.claim_slot("dev", "nightly", 200.0, at=205.0, outcome="fired", request_id="r2")


def test_the_last_slot_only_moves_forward(store: SQLiteStateStore) -> None:
    store.claim_slot("dev", "nightly", 300.0, at=301.0, outcome="skipped")
    assert store.claim_slot("dev", "nightly", 200.0, at=302.0, outcome="fired", request_id="x")
    assert not store.pass_slots("dev", "nightly", 250.0, None)
    assert store.pass_slots("dev", "nightly", 400.0, 500.0)
    record = store.schedule_record("dev", "nightly")
    assert record is not None and (record.last_slot, record.next_slot) == (400.0, 500.0)


def test_changed_rules_start_owing_from_now_and_resume_skips_the_pause(
    store: SQLiteStateStore,
) -> None:
    assert store.sync_schedule("dev", "nightly", ["orders"], "f1", now=150.0).since == 100.0
    assert store.sync_schedule("dev", "nightly", ["orders"], "f2", now=160.0).since == 160.0
    assert store.set_schedule_paused("dev", "nightly", True, 170.0).paused
    resumed = store.set_schedule_paused("dev", "nightly", False, 180.0)
    assert (resumed.paused, resumed.since) == (False, 180.0)
    made = store.set_schedule_paused("dev", "new", True, 190.0, fingerprint="f9")
    assert (made.paused, made.fingerprint) == (True, "f9")


def test_sqlite_allows_one_live_scheduler(store: SQLiteStateStore) -> None:
    assert store.acquire_scheduler("dev", "a", now=10.0, ttl=30.0) is None
    holder = store.acquire_scheduler("dev", "b", now=20.0, ttl=30.0)
    assert holder is not None and holder.owner == "a"
    assert store.acquire_scheduler("dev", "b", now=41.0, ttl=30.0) is None  # a's lease ran out
    assert [s.owner for s in store.schedulers("dev", 42.0)] == ["b"]
    store.release_scheduler("dev", "b")
    assert store.acquire_scheduler("dev", "a", now=43.0, ttl=30.0) is None


def test_a_dead_servers_run_is_queued_again_then_fails_after_three_take_overs(
    store: SQLiteStateStore,
) -> None:
    store.enqueue_run(request("r1", "orders"))
    for attempt in (1, 2, 3):
        taken = store.claim_run("server", env="dev", lease=30, now=attempt * 100.0)
        assert taken is not None and taken.id == "r1"
        store.add_request_run("r1", f"run{attempt}")
        store.start_run(f"run{attempt}", "shop", "dev", "orders", 1, attempt * 100.0)
        assert store.take_over_run_requests(now=attempt * 100.0 + 29) == []
        [again] = store.take_over_run_requests(now=attempt * 100.0 + 31)
        assert (again.status, again.lease_owner, again.options["takeovers"]) == (
            "queued",
            None,
            attempt,
        )
        run = store.get_run(f"run{attempt}")
        assert run is not None and run.status == "killed"
    store.claim_run("server", env="dev", lease=30, now=400.0)
    [failed] = store.take_over_run_requests(now=431.0)
    assert failed.status == "failed" and failed.error is not None and "3 times" in failed.error
