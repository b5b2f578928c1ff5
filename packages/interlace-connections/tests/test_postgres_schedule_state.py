"""Scheduler state on the PostgreSQL state store: several servers fire the same slots at once,
each slot is claimed by exactly one of them (with its run request); several schedulers may
register; a dead server's run is queued again."""

from __future__ import annotations

import threading
from typing import Any

from interlace.state.run_queue import RunRequest
from interlace_connections.postgres.config import PostgresStateConfig
from interlace_connections.postgres.state import PostgresStateStore


def state_config(pg_server: dict[str, Any], database: str) -> PostgresStateConfig:
    params = {k: pg_server[k] for k in ("host", "port", "user", "password") if pg_server[k]}
    return PostgresStateConfig.model_validate({**params, "database": database})


def test_concurrent_servers_claim_each_slot_once(
    pg_server: dict[str, Any], pg_database: str
) -> None:
    config = state_config(pg_server, pg_database)
    setup = PostgresStateStore(config)
    for number in range(5):
        setup.sync_schedule("dev", f"s{number}", [f"m{number}"], "f", now=0.0)
    won: dict[str, list[tuple[str, float]]] = {"a": [], "b": [], "c": []}
    start = threading.Barrier(len(won))

    def fire(owner: str) -> None:
        store = PostgresStateStore(config)  # a connection of its own, like another server
        assert store.acquire_scheduler("dev", owner, now=1.0, ttl=30.0) is None
        start.wait()
        try:
            for slot in range(20):
                for number in range(5):
                    name, rid = f"s{number}", f"{owner}-{number}-{slot}"
                    with store.transaction():
                        if store.claim_slot(
                            "dev", name, float(slot), at=1.0, outcome="fired", request_id=rid
                        ):
                            store.enqueue_run(
                                RunRequest(
                                    id=rid,
                                    env="dev",
                                    project="p",
                                    requested_by=owner,
                                    targets=(f"m{number}",),
                                    created_at=float(slot),
                                )
                            )
                            won[owner].append((name, float(slot)))
        finally:
            store.close()

    threads = [threading.Thread(target=fire, args=(owner,)) for owner in won]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    claimed = [slot for slots in won.values() for slot in slots]
    assert len(claimed) == len(set(claimed)) == 100
    assert len(setup.run_requests("dev", limit=1000)) == 100
    assert len(setup.schedule_fires("dev", limit=1000)) == 100
    assert sorted(s.owner for s in setup.schedulers("dev", 2.0)) == ["a", "b", "c"]
    record = setup.schedule_record("dev", "s0")
    assert record is not None and record.last_slot == 19.0
    setup.close()


def test_a_dead_servers_run_is_taken_over(pg_server: dict[str, Any], pg_database: str) -> None:
    store = PostgresStateStore(state_config(pg_server, pg_database))
    store.enqueue_run(
        RunRequest(
            id="r1", env="dev", project="p", targets=("m",), requested_by="t", created_at=1.0
        )
    )
    assert store.claim_run("dead", env="dev", lease=30, now=10.0) is not None
    assert store.take_over_run_requests(now=39.0) == []
    [again] = store.take_over_run_requests(now=41.0)
    assert (again.status, again.options["takeovers"]) == ("queued", 1)
    taken = store.claim_run("alive", env="dev", lease=30, now=42.0)
    assert taken is not None and taken.id == "r1"
    store.close()
