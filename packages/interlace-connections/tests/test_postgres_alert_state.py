"""Alert incidents on the PostgreSQL state store: several servers that see the same failure at
once open one incident (announced once), each queued message is taken by one sender, and the
incident is resolved once."""

from __future__ import annotations

import threading
from typing import Any

from interlace.state.alert_state import IncidentOpening
from interlace_connections.postgres.config import PostgresStateConfig
from interlace_connections.postgres.state import PostgresStateStore


def state_config(pg_server: dict[str, Any], database: str) -> PostgresStateConfig:
    params = {k: pg_server[k] for k in ("host", "port", "user", "password") if pg_server[k]}
    return PostgresStateConfig.model_validate({**params, "database": database})


def test_servers_seeing_one_failure_open_one_incident_and_send_each_message_once(
    pg_server: dict[str, Any], pg_database: str
) -> None:
    config = state_config(pg_server, pg_database)
    PostgresStateStore(config).close()  # the schema, before the servers race
    opened: list[str] = []
    taken: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    start = threading.Barrier(len(taken))

    def server(owner: str) -> None:
        store = PostgresStateStore(config)  # a connection of its own, like another server
        try:
            start.wait()
            for run in range(5):
                with store.transaction():  # as AlertService applies a change
                    incident = store.open_incident(
                        IncidentOpening(
                            env="dev",
                            rule="failures",
                            event="run_failed",
                            subject="orders",
                            summary="model orders failed",
                            at=float(run + 1),  # the failure event's time, as logged
                            run_id=f"run-{run}",
                        )
                    )
                    if incident is not None:
                        opened.append(owner)
                        store.add_delivery(
                            env="dev",
                            channel="ops",
                            kind="alert",
                            payload="{}",
                            at=0.0,
                            incident_id=incident.id,
                        )
            start.wait()
            for delivery in store.take_deliveries(owner, env="dev", now=1.0, lease=30.0):
                taken[owner].append(delivery.id)
                store.delivery_attempted(delivery.id, at=1.0, error=None, retry_at=None)
        finally:
            store.close()

    threads = [threading.Thread(target=server, args=(owner,)) for owner in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(opened) == 1
    assert (
        sorted(i for ids in taken.values() for i in ids) == [1]
        or len([i for ids in taken.values() for i in ids]) == 1
    )
    store = PostgresStateStore(config)
    try:
        [incident] = store.incidents("dev")
        assert incident.status == "open"
        assert incident.occurrences == 5  # each run counted once, whoever saw it
        [delivery] = store.deliveries("dev")
        assert (delivery.status, delivery.attempts) == ("sent", 1)
        resolved = store.resolve_incident(
            "dev", "failures", "run_failed", "orders", at=2.0, resolution="built again"
        )
        assert resolved is not None and resolved.status == "resolved"
        assert (
            store.resolve_incident(
                "dev", "failures", "run_failed", "orders", at=3.0, resolution="again"
            )
            is None
        )
        assert store.incidents("dev", "open") == []
    finally:
        store.close()
