"""API keys and sessions in the PostgreSQL state store: the SQLite store's SQL, translated, so
every server worker on one database shares them (SPEC §11.4, §15)."""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any

import pytest
from interlace.opening import open_state
from interlace.state.api_keys import ApiKey, ApiKeyError
from interlace_connections.postgres.state import PostgresStateStore

if TYPE_CHECKING:
    from conftest import PgProject

T0 = 1_800_000_000.0


def use_postgres_state(pg_project: PgProject, pg_server: dict[str, Any]) -> None:
    lines = [
        "state:",
        "  type: postgres",
        f"  host: {pg_server['host']}",
        f"  port: {pg_server['port']}",
        f"  user: {pg_server['user']}",
        f"  database: {pg_project.database}",
        "  schema: team_state",
    ]
    if pg_server["password"]:
        lines.append(f"  password: {pg_server['password']}")
    pg_project.config("\n".join(lines) + "\n")


def open_store(pg_project: PgProject) -> PostgresStateStore:
    store = open_state(pg_project.load())
    assert isinstance(store, PostgresStateStore)
    return store


def test_keys_are_shared_by_workers_and_stored_as_digests(
    pg_project: PgProject, pg_server: dict[str, Any], pg_connect: Any
) -> None:
    use_postgres_state(pg_project, pg_server)
    worker, cli = open_store(pg_project), open_store(pg_project)
    try:
        secret = secrets.token_urlsafe(32)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        made = ApiKey(id="0a1b2c3d4e5f", name="ci", scopes=("execute",), created_at=T0)
        cli.add_api_key(made, digest)
        assert worker.api_key_digest("0a1b2c3d4e5f") == (made, digest)
        assert worker.count_usable_api_keys(T0) == 1
        with pytest.raises(ApiKeyError, match="already exists"):
            worker.add_api_key(
                ApiKey(id="ffffffffffff", name="ci", scopes=("read",), created_at=T0), "x"
            )

        worker.add_api_session("s" * 64, made.id, created_at=T0, expires_at=T0 + 60)
        session = cli.api_session("s" * 64)
        assert session is not None and session.key_id == made.id
        worker.touch_api_key(made.id, at=T0 + 1)
        assert cli.api_key(made.id).last_used_at == T0 + 1  # type: ignore[union-attr]

        revoked = cli.revoke_api_key("ci", at=T0 + 2)
        assert revoked is not None and revoked.revoked_at == T0 + 2
        assert worker.api_key(made.id).status(T0 + 3) == "revoked"  # type: ignore[union-attr]
        assert worker.api_session("s" * 64) is None  # its sessions ended with it
        assert worker.count_usable_api_keys(T0 + 3) == 0
        assert cli.revoke_api_key("ci", at=T0 + 9).revoked_at == T0 + 2  # type: ignore[union-attr]
        # the name is free again; the revoked key stays listed with --all
        cli.add_api_key(ApiKey(id="aaaaaaaaaaaa", name="ci", scopes=("read",), created_at=T0), "y")
        assert [k.id for k in worker.api_keys()] == ["aaaaaaaaaaaa"]
        assert len(worker.api_keys(include_revoked=True)) == 2
        assert worker.remove_api_session("nothing") is False

        with pg_connect(pg_project.database) as conn:
            rows = conn.execute("SELECT digest FROM team_state.api_keys ORDER BY id").fetchall()
            dump = repr(conn.execute("SELECT * FROM team_state.api_keys").fetchall())
        assert (digest,) in rows
        assert secret not in dump
    finally:
        worker.close()
        cli.close()
