"""Stream consumer cursors on the PostgreSQL state store: two processes under one consumer
name never hold the lease at once, and acks only move forward for the lease holder."""

from __future__ import annotations

from typing import Any

from interlace_connections.postgres.config import PostgresStateConfig
from interlace_connections.postgres.state import PostgresStateStore


def state_config(pg_server: dict[str, Any], database: str) -> PostgresStateConfig:
    params = {k: pg_server[k] for k in ("host", "port", "user", "password") if pg_server[k]}
    return PostgresStateConfig.model_validate({**params, "database": database})


def test_stream_cursor_leases_exclude_a_second_consumer_until_ack_or_expiry(
    pg_server: dict[str, Any], pg_database: str
) -> None:
    config = state_config(pg_server, pg_database)
    first, second = PostgresStateStore(config), PostgresStateStore(config)  # two "processes"
    try:
        taken = first.lease_stream_cursor("dev", "orders", "billing", owner="a", lease=30, now=100)
        assert taken is not None and taken.committed == 0
        assert (
            second.lease_stream_cursor("dev", "orders", "billing", owner="b", lease=30, now=101)
            is None
        )
        assert not second.ack_stream_cursor(
            "dev", "orders", "billing", owner="b", offset=5, now=102
        )
        assert first.ack_stream_cursor("dev", "orders", "billing", owner="a", offset=5, now=102)
        again = second.lease_stream_cursor("dev", "orders", "billing", owner="b", lease=1, now=103)
        assert again is not None and again.committed == 5
        # b dies without acking: after its lease, a takes over from the same position
        late = first.lease_stream_cursor("dev", "orders", "billing", owner="a", lease=30, now=105)
        assert late is not None and late.committed == 5
        assert [c.consumer for c in second.stream_cursors("dev", "orders")] == ["billing"]
    finally:
        first.close()
        second.close()
