"""The run queue and run history of the state store (SQLite; PostgreSQL in interlace-connections)."""

from __future__ import annotations

import threading
from pathlib import Path

from interlace.state import SQLiteStateStore
from interlace.state.run_queue import EXPIRED, REQUEST_ENDED, RunRequest


def request(id: str, *targets: str, at: float = 1.0, env: str = "dev") -> RunRequest:
    return RunRequest(
        id=id,
        env=env,
        project="shop",
        selection=targets,
        targets=targets,
        options={"force": True, "since": None},
        requested_by="test",
        created_at=at,
    )


def test_queued_request_is_claimed_with_a_lease_then_finished(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.db")
    store.enqueue_run(request("r1", "orders", "customers"))

    taken = store.claim_run("server-a", env="dev", lease=30, now=100.0)

    assert taken is not None
    assert (taken.id, taken.status, taken.lease_owner, taken.lease_expires) == (
        "r1",
        "running",
        "server-a",
        130.0,
    )
    assert taken.targets == ("orders", "customers")
    assert taken.options == {"force": True, "since": None}
    assert store.claim_run("server-a", env="dev", lease=30, now=101.0) is None
    assert store.renew_leases("server-a", until=200.0) == 1
    store.add_request_run("r1", "r1")
    store.finish_run_request("r1", "done", at=150.0)
    done = store.get_run_request("r1")
    assert done is not None
    assert (done.status, done.finished_at, done.lease_owner, done.run_ids) == (
        "done",
        150.0,
        None,
        ("r1",),
    )
    assert done.finished


def test_request_for_models_that_are_running_waits_and_keeps_its_turn(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.db")
    store.enqueue_run(request("first", "orders", at=1))
    store.enqueue_run(request("overlaps", "orders", "revenue", at=2))
    store.enqueue_run(request("behind", "revenue", at=3))  # waits behind `overlaps`
    store.enqueue_run(request("apart", "customers", at=4))
    store.enqueue_run(request("other-env", "orders", at=5, env="prod"))

    claims = [store.claim_run("s", env="dev", lease=30, now=10) for _ in range(3)]

    assert [c.id if c else None for c in claims] == ["first", "apart", None]
    store.finish_run_request("first", "done", at=11)
    assert [store.claim_run("s", env="dev", lease=30, now=12)] != [None]
    assert store.claim_run("s", env="dev", lease=30, now=12) is None  # `behind` waits on it
    store.finish_run_request("overlaps", "failed", at=13, error="boom")
    behind = store.claim_run("s", env="dev", lease=30, now=14)
    assert behind is not None and behind.id == "behind"
    prod = store.claim_run("s", env="prod", lease=30, now=14)
    assert prod is not None and prod.id == "other-env"


def test_two_workers_never_take_the_same_request(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    setup = SQLiteStateStore(path)
    for number in range(40):
        setup.enqueue_run(request(f"r{number:02}", f"model{number}", at=number))
    taken: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    start = threading.Barrier(len(taken))

    def work(owner: str) -> None:
        store = SQLiteStateStore(path)  # its own connection, like another process
        start.wait()
        while (claimed := store.claim_run(owner, env="dev", lease=30, now=1.0)) is not None:
            taken[owner].append(claimed.id)
        store.close()

    threads = [threading.Thread(target=work, args=(owner,)) for owner in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [i for ids in taken.values() for i in ids]
    assert sorted(everything) == [f"r{n:02}" for n in range(40)]
    assert len(set(everything)) == 40


def test_cancel_stops_a_queued_request_and_flags_a_running_one(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.db")
    store.enqueue_run(request("running", "a", at=1))
    store.enqueue_run(request("queued", "a", at=2))
    assert store.claim_run("s", env="dev", lease=30, now=5) is not None

    queued = store.request_cancel("queued", at=6)
    running = store.request_cancel("running", at=6)

    assert queued is not None and (queued.status, queued.finished_at) == ("cancelled", 6)
    assert running is not None and (running.status, running.cancel_requested) == (
        "running",
        True,
    )
    assert store.cancel_requested("s") == ["running"]
    assert store.cancel_requested("other-server") == []
    assert store.request_cancel("nothing", at=6) is None
    store.finish_run_request("running", "cancelled", at=7)
    finished = store.request_cancel("running", at=8)
    assert finished is not None and finished.status == "cancelled"


def test_a_request_whose_lease_ran_out_fails_and_frees_its_models(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.db")
    store.enqueue_run(request("crashed", "a", at=1))
    store.enqueue_run(request("next", "a", at=2))
    assert store.claim_run("dead-server", env="dev", lease=30, now=10) is not None

    assert store.expire_run_requests(now=39) == []
    [expired] = store.expire_run_requests(now=41)

    assert expired.id == "crashed"
    after = store.get_run_request("crashed")
    assert after is not None and (after.status, after.error) == ("failed", EXPIRED)
    taken = store.claim_run("new-server", env="dev", lease=30, now=42)
    assert taken is not None and taken.id == "next"
    assert store.release_run_requests("new-server", at=43, reason="server stopped") == ["next"]
    released = store.get_run_request("next")
    assert released is not None and (released.status, released.error) == (
        "failed",
        "server stopped",
    )


def test_run_history_pages_filters_and_prunes(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.db")
    for number in range(5):
        run_id = f"run{number}"
        store.start_run(run_id, "shop", "prod" if number == 4 else "dev", "", 1, 100.0 + number)
        if number != 3:
            store.finish_run(run_id, "failed" if number == 1 else "success", 200, 1, 0, 0, None)
    store.enqueue_run(request("run0", "a", at=100))
    store.finish_run_request("run0", "done", at=101)

    page, total = store.search_runs(env="dev", limit=2, offset=1)
    assert total == 4
    assert [r.run_id for r in page] == ["run2", "run1"]  # newest first
    assert [r.run_id for r in store.search_runs(status="failed")[0]] == ["run1"]
    assert [r.run_id for r in store.search_runs(since=102, until=104)[0]] == ["run3", "run2"]

    pruned = store.prune_runs(before=103.5)

    assert (pruned.runs, pruned.run_requests) == (3, 1)
    assert sorted(r.run_id for r in store.list_runs()) == ["run3", "run4"]
    assert store.get_run_request("run0") is None


def test_every_way_a_request_ends_stores_its_end_event_with_the_final_status(
    tmp_path: Path,
) -> None:
    store = SQLiteStateStore(tmp_path / "state.db")
    for at, (id, target) in enumerate((("done", "a"), ("expired", "b"), ("released", "c")), 1):
        store.enqueue_run(request(id, target, at=at))
    taken = [
        store.claim_run(owner, env="dev", lease=lease, now=100.0)
        for owner, lease in (("server-a", 30), ("server-b", 5), ("server-a", 30))
    ]
    assert [t and (t.id, t.lease_owner) for t in taken] == [
        ("done", "server-a"),
        ("expired", "server-b"),
        ("released", "server-a"),
    ]
    store.enqueue_run(request("waiting", "d", at=4))

    store.add_request_run("done", "done")
    store.finish_run_request("done", "done", at=150.0)
    store.request_cancel("waiting", at=151.0)
    store.expire_run_requests(now=110.0)  # server-b's lease ran out
    store.release_run_requests("server-a", at=152.0, reason="stopping")

    ended = {e.run_id: e for e in store.events() if e.type == REQUEST_ENDED}
    assert ended["done"].data == {
        "type": REQUEST_ENDED,
        "run_id": "done",
        "at": 150.0,
        "status": "done",
        "error": None,
        "run_ids": ["done"],
    }
    assert {id: e.data["status"] for id, e in ended.items()} == {
        "done": "done",
        "waiting": "cancelled",
        "expired": "failed",
        "released": "failed",
    }
    assert ended["released"].data["error"] == "stopping"
    assert ended["expired"].data["error"] == EXPIRED
    assert len([e for e in store.events() if e.type == REQUEST_ENDED]) == 4
