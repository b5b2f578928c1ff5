"""The run queue on the PostgreSQL state store: the SQLite store's SQL, atomic across workers."""

from __future__ import annotations

import threading
from typing import Any

from interlace.state.run_queue import REQUEST_ENDED, RunRequest
from interlace_connections.postgres.config import PostgresStateConfig
from interlace_connections.postgres.state import PostgresStateStore


def state_config(pg_server: dict[str, Any], database: str) -> PostgresStateConfig:
    params = {k: pg_server[k] for k in ("host", "port", "user", "password") if pg_server[k]}
    return PostgresStateConfig.model_validate({**params, "database": database})


def request(id: str, *targets: str, at: float) -> RunRequest:
    return RunRequest(
        id=id,
        env="dev",
        project="shop",
        selection=targets,
        targets=targets,
        options={"full_refresh": True},
        requested_by="test",
        created_at=at,
    )


def test_workers_on_separate_connections_never_take_the_same_request(
    pg_server: dict[str, Any], pg_database: str
) -> None:
    config = state_config(pg_server, pg_database)
    setup = PostgresStateStore(config)
    for number in range(30):
        setup.enqueue_run(request(f"r{number:02}", f"model{number % 10}", at=number))
    taken: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    start = threading.Barrier(len(taken))

    def work(owner: str) -> None:
        store = PostgresStateStore(config)  # one connection per worker, like another server
        start.wait()
        try:
            while True:
                claimed = store.claim_run(owner, env="dev", lease=30, now=1.0)
                if claimed is None:
                    # the rest wait for running models: finish ours to let them go
                    mine = [r.id for r in store.run_requests("dev", ["running"])]
                    ours = [i for i in mine if i in taken[owner]]
                    if not ours:
                        if not store.run_requests("dev", ["queued"]):
                            return
                        continue
                    for request_id in ours:
                        store.finish_run_request(request_id, "done", at=2.0)
                    continue
                taken[owner].append(claimed.id)
        finally:
            store.close()

    threads = [threading.Thread(target=work, args=(owner,)) for owner in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [i for ids in taken.values() for i in ids]
    assert sorted(everything) == [f"r{n:02}" for n in range(30)]
    assert len(set(everything)) == 30
    assert setup.run_requests("dev", ["queued", "running"]) == []
    setup.close()


def test_queue_cancel_expiry_and_history_on_postgres(
    pg_server: dict[str, Any], pg_database: str
) -> None:
    store = PostgresStateStore(state_config(pg_server, pg_database))
    try:
        store.enqueue_run(request("a1", "orders", at=1))
        store.enqueue_run(request("a2", "orders", at=2))
        store.enqueue_run(request("b1", "customers", at=3))
        first = store.claim_run("s1", env="dev", lease=10, now=5)
        second = store.claim_run("s1", env="dev", lease=10, now=5)
        assert (first and first.id, second and second.id) == ("a1", "b1")
        assert first is not None and first.options == {"full_refresh": True}

        cancelled = store.request_cancel("a2", at=6)
        assert cancelled is not None and cancelled.status == "cancelled"
        flagged = store.request_cancel("a1", at=6)
        assert flagged is not None and flagged.cancel_requested
        assert store.cancel_requested("s1") == ["a1"]
        assert store.renew_leases("s1", until=20) == 2

        expired = store.expire_run_requests(now=25)
        assert sorted(r.id for r in expired) == ["a1", "b1"]
        store.add_request_run("a1", "a1")
        done = store.get_run_request("a1")
        assert done is not None and (done.status, done.run_ids) == ("failed", ("a1",))
        ended = {e.run_id: e.data["status"] for e in store.events() if e.type == REQUEST_ENDED}
        assert ended == {"a2": "cancelled", "a1": "failed", "b1": "failed"}

        store.start_run("a1", "shop", "dev", "orders", 1, 5.0)
        store.finish_run("a1", "failed", 9.0, 0, 1, 0, "x")
        page, total = store.search_runs(env="dev", status="failed")
        assert ([r.run_id for r in page], total) == (["a1"], 1)
        pruned = store.prune_runs(before=100)
        assert (pruned.runs, pruned.run_requests) == (1, 3)
    finally:
        store.close()
