"""Column lineage and model versions on the PostgreSQL state store (the shared SQL, translated):
stored per model version, read back, pruned, and upserted per environment."""

from __future__ import annotations

from typing import Any

from interlace.state.lineage import KEEP_VERSIONS, ModelVersion
from interlace_connections.postgres.config import PostgresStateConfig
from interlace_connections.postgres.state import PostgresStateStore


def state_config(pg_server: dict[str, Any], database: str) -> PostgresStateConfig:
    params = {k: pg_server[k] for k in ("host", "port", "user", "password") if pg_server[k]}
    return PostgresStateConfig.model_validate({**params, "database": database})


def test_lineage_versions_and_latest_columns_round_trip(
    pg_server: dict[str, Any], pg_database: str
) -> None:
    store = PostgresStateStore(state_config(pg_server, pg_database))
    try:
        for number in range(KEEP_VERSIONS + 2):
            store.save_lineage("orders", f"k{number}", f'{{"v": {number}}}', at=float(number))
        store.save_lineage("orders", "k0", '{"v": "again"}', at=100.0)  # upsert
        store.save_model_versions(
            "prod",
            [ModelVersion(model="orders", fingerprint="f1", definition="d1", primary_key=("id",))],
        )
        store.save_model_versions(
            "prod", [ModelVersion(model="orders", fingerprint="f2", definition="d2")]
        )
        store.add_schema_version("prod", "orders", [("id", "INTEGER")], None, "r1", 1.0)
        store.add_schema_version(
            "prod", "orders", [("id", "BIGINT"), ("amount", "DOUBLE")], "widened", "r2", 2.0
        )

        stored = store.stored_lineage()
        versions = store.model_versions("prod")
        columns = store.latest_columns("prod")
    finally:
        store.close()

    assert len([key for model, key in stored if model == "orders"]) == KEEP_VERSIONS
    assert stored[("orders", "k0")] == '{"v": "again"}'
    assert versions["orders"].definition == "d2" and versions["orders"].primary_key == ()
    assert columns == {"orders": {"id": "BIGINT", "amount": "DOUBLE"}}
