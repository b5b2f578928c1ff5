"""API keys and browser sessions in the SQLite state store (digests only, shared by handles)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from interlace.state import SQLiteStateStore
from interlace.state.api_keys import MIGRATION, ApiKey, ApiKeyError
from interlace.state.schema import MIGRATIONS

T0 = 1_800_000_000.0


def key(key_id: str, name: str, *scopes: str, expires_at: float | None = None) -> ApiKey:
    return ApiKey(
        id=key_id, name=name, scopes=scopes or ("read",), created_at=T0, expires_at=expires_at
    )


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStateStore:
    opened = SQLiteStateStore(tmp_path / "state.db")
    yield opened  # type: ignore[misc]
    opened.close()


def test_keys_round_trip_without_their_digest_in_the_record(store: SQLiteStateStore) -> None:
    store.add_api_key(key("a1", "ci", "execute", "read"), digest="d" * 64)
    found = store.api_key_digest("a1")
    assert found is not None
    record, digest = found
    assert record == key("a1", "ci", "execute", "read")
    assert digest == "d" * 64
    assert "digest" not in record.__dataclass_fields__
    assert store.api_key("a1") == record
    assert store.api_key("nope") is None and store.api_key_digest("nope") is None


def test_an_active_name_is_unique_and_free_again_once_revoked(store: SQLiteStateStore) -> None:
    store.add_api_key(key("a1", "ci"), digest="1")
    with pytest.raises(ApiKeyError, match="already exists") as caught:
        store.add_api_key(key("a2", "ci"), digest="2")
    assert "interlace apikey revoke ci" in str(caught.value)
    revoked = store.revoke_api_key("ci", at=T0 + 5)
    assert revoked is not None and revoked.id == "a1" and revoked.revoked_at == T0 + 5
    store.add_api_key(key("a2", "ci"), digest="2")
    assert [k.id for k in store.api_keys()] == ["a2"]
    assert [(k.id, k.status(T0)) for k in store.api_keys(include_revoked=True)] == [
        ("a1", "revoked"),
        ("a2", "active"),
    ]


def test_revoke_finds_a_key_by_id_first_then_by_name(store: SQLiteStateStore) -> None:
    store.add_api_key(key("a1", "first"), digest="1")
    store.add_api_key(key("a2", "a1"), digest="2")  # a name that is another key's id
    assert store.revoke_api_key("a1", at=T0).id == "a1"  # type: ignore[union-attr]
    assert store.api_key("a2").revoked_at is None  # type: ignore[union-attr]
    # an already revoked key comes back as it was (by id, or by name when none is active)
    assert store.revoke_api_key("a1", at=T0 + 1).revoked_at == T0  # type: ignore[union-attr]
    assert store.revoke_api_key("first", at=T0 + 2).revoked_at == T0  # type: ignore[union-attr]
    assert store.revoke_api_key("missing", at=T0) is None


def test_invalid_names_are_refused(store: SQLiteStateStore) -> None:
    for name in ("", "has space", "-leading", "x" * 65, "quote'"):
        with pytest.raises(ApiKeyError, match="invalid API key name"):
            store.add_api_key(key("k", name), digest="1")


def test_usable_keys_exclude_revoked_and_expired(store: SQLiteStateStore) -> None:
    assert store.count_usable_api_keys(T0) == 0
    store.add_api_key(key("a1", "forever"), digest="1")
    store.add_api_key(key("a2", "soon", expires_at=T0 + 10), digest="2")
    store.add_api_key(key("a3", "gone"), digest="3")
    store.revoke_api_key("gone", at=T0)
    assert store.count_usable_api_keys(T0) == 2
    assert store.count_usable_api_keys(T0 + 10) == 1
    assert store.api_key("a2").status(T0 + 10) == "expired"  # type: ignore[union-attr]


def test_sessions_end_when_removed_expired_or_their_key_is_revoked(
    store: SQLiteStateStore,
) -> None:
    store.add_api_key(key("a1", "browser"), digest="1")
    store.add_api_session("s1", "a1", created_at=T0, expires_at=T0 + 60)
    store.add_api_session("s2", "a1", created_at=T0, expires_at=T0 + 3600)
    session = store.api_session("s1")
    assert session is not None and (session.key_id, session.expires_at) == ("a1", T0 + 60)
    assert store.remove_api_session("s1") is True
    assert store.remove_api_session("s1") is False
    # making a session forgets the expired ones
    store.add_api_session("s3", "a1", created_at=T0, expires_at=T0 + 1)
    store.add_api_session("s4", "a1", created_at=T0 + 2, expires_at=T0 + 60)
    assert store.api_session("s3") is None
    store.revoke_api_key("a1", at=T0 + 3)
    assert store.api_session("s2") is None and store.api_session("s4") is None


def test_touch_records_the_last_use(store: SQLiteStateStore) -> None:
    store.add_api_key(key("a1", "ci"), digest="1")
    store.touch_api_key("a1", at=T0 + 42)
    assert store.api_key("a1").last_used_at == T0 + 42  # type: ignore[union-attr]


def test_two_handles_on_one_file_share_keys_and_revocations(tmp_path: Path) -> None:
    server = SQLiteStateStore(tmp_path / "state.db")
    cli = SQLiteStateStore(tmp_path / "state.db")
    try:
        cli.add_api_key(key("a1", "shared"), digest="1")
        assert server.api_key("a1") is not None
        cli.revoke_api_key("shared", at=T0)
        assert server.api_key("a1").revoked_at == T0  # type: ignore[union-attr]
    finally:
        server.close()
        cli.close()


def test_an_older_state_file_gains_the_key_tables_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    position = MIGRATIONS.index(MIGRATION)
    with sqlite3.connect(path) as db:  # a store made before the key tables existed
        db.execute("CREATE TABLE interlace_meta (key TEXT PRIMARY KEY, value TEXT)")
        for script in MIGRATIONS[:position]:
            db.executescript(script)
        db.execute("INSERT INTO interlace_meta VALUES ('schema_version', ?)", (str(position),))
        db.execute(
            "INSERT INTO runs (run_id, project, env, status, started_at) "
            "VALUES ('r1', 'p', 'dev', 'success', 1)"
        )
    upgraded = SQLiteStateStore(path)
    try:
        assert upgraded.get_run("r1") is not None
        upgraded.add_api_key(key("a1", "after-upgrade"), digest="1")
        assert upgraded.count_usable_api_keys(T0) == 1
    finally:
        upgraded.close()
