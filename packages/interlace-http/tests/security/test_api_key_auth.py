"""API keys on a real server: who gets in, who gets 401 or 403, and what they are told."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import TYPE_CHECKING, Any

from interlace_http.apikeys import create_api_key, effective_scopes, parse_token
from interlace_http.auth import startup_notice

if TYPE_CHECKING:
    from conftest import Harness


def assert_error(status: int, body: Any, headers: Any, code: str) -> None:
    """The API's one error format, with the request id in body and header."""
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details", "request_id"}, error
    assert error["code"] == code, error
    assert error["message"]
    assert error["request_id"] == headers["X-Request-ID"]


def test_a_valid_key_is_accepted_in_either_header(h: Harness) -> None:
    token = h.keys["read"]

    async def scenario() -> None:
        async with h.client(h.app()) as client:
            for headers in (h.bearer(token), {"X-API-Key": token}):
                reply = await client.get("/api/v1/models", headers=headers)
                assert reply.status == 200, await reply.text()
                assert await reply.json() == {"models": ["orders"]}

    h.run(scenario)


def test_missing_malformed_and_wrong_keys_get_401_with_the_error_format(h: Harness) -> None:
    key_id, _ = parse_token(h.keys["admin"]) or ("", "")
    wrong_secret = f"il_{key_id}_{'A' * 43}"
    unknown_id = f"il_{'0' * 12}_{'A' * 43}"

    async def scenario() -> None:
        async with h.client(h.app()) as client:
            cases: list[tuple[dict[str, str], str, str]] = [
                ({}, "unauthenticated", "interlace apikey create"),
                (h.bearer("not-a-key"), "invalid_api_key", "malformed"),
                (h.bearer(wrong_secret), "invalid_api_key", "not valid"),
                ({"X-API-Key": unknown_id}, "invalid_api_key", "not valid"),
                ({"Authorization": "Basic dXNlcjpwdw=="}, "unauthenticated", "Bearer"),
            ]
            for headers, code, says in cases:
                reply = await client.get("/api/v1/models", headers=headers)
                body = await reply.json()
                assert reply.status == 401, (headers, body)
                assert reply.headers["WWW-Authenticate"].startswith("Bearer")
                assert_error(reply.status, body, reply.headers, code)
                assert says in body["error"]["message"]

    h.run(scenario)


def test_a_key_without_the_routes_scope_gets_403_naming_the_scope(h: Harness) -> None:
    async def scenario() -> None:
        async with h.client(h.app()) as client:
            reply = await client.post("/api/v1/runs", headers=h.bearer(h.keys["write"]))
            body = await reply.json()
            assert reply.status == 403
            assert_error(reply.status, body, reply.headers, "forbidden")
            assert "'execute' scope" in body["error"]["message"]
            assert body["error"]["details"] == {
                "required_scope": "execute",
                "granted_scopes": ["write"],
            }

    h.run(scenario)


def test_scopes_imply_read_and_admin_implies_everything(h: Harness) -> None:
    assert effective_scopes(["admin"]) == {"read", "write", "execute", "admin"}
    assert effective_scopes(["execute"]) == {"execute", "read"}
    assert effective_scopes(["write"]) == {"write", "read"}
    expected = {
        # scope of key: (GET read, POST write, POST execute, PUT admin)
        "read": (200, 403, 403, 403),
        "write": (200, 200, 403, 403),
        "execute": (200, 403, 202, 403),
        "all_but_admin": (200, 200, 202, 403),
        "admin": (200, 200, 202, 200),
    }

    async def scenario() -> None:
        async with h.client(h.app()) as client:
            for name, statuses in expected.items():
                headers = h.bearer(h.keys[name])
                got = (
                    (await client.get("/api/v1/models", headers=headers)).status,
                    (await client.post("/api/v1/streams/clicks", headers=headers)).status,
                    (await client.post("/api/v1/runs", headers=headers)).status,
                    (await client.put("/api/v1/settings", headers=headers)).status,
                )
                assert got == statuses, name

    h.run(scenario)


def test_public_paths_need_no_key_and_everything_else_is_denied_by_default(h: Harness) -> None:
    async def scenario() -> None:
        async with h.client(h.app()) as client:
            assert (await client.get("/api/v1/health")).status == 200
            assert (await client.get("/api/openapi.json")).status == 200  # declared public
            # a handler added without route metadata needs admin
            raw = await client.get("/raw", headers=h.bearer(h.keys["all_but_admin"]))
            assert raw.status == 403
            assert (await raw.json())["error"]["details"]["required_scope"] == "admin"
            assert (await client.get("/raw", headers=h.bearer(h.keys["admin"]))).status == 200
            # an unknown path: 401 without a key (nothing learnt), the real 404 with one
            unknown = await client.get("/api/v1/nothing-here")
            assert unknown.status == 401
            found = await client.get("/api/v1/nothing-here", headers=h.bearer(h.keys["read"]))
            assert found.status == 404
            assert (await found.json())["error"]["code"] == "not_found"

        # a path listed in the settings is public even without route metadata
        listed = h.settings(auth={"public_paths": ["/api/v1/health", "/ra*"]})
        async with h.client(h.app(listed)) as client:
            assert (await client.get("/raw")).status == 200
            assert (await client.get("/api/v1/models")).status == 401

    h.run(scenario)


def test_revoked_and_expired_keys_are_refused_with_the_reason(h: Harness) -> None:
    expiring = create_api_key(h.store, "temp", ["read"], expires_in=60, now=h.clock()).token
    revoked = create_api_key(h.store, "gone", ["admin"], now=h.clock())
    h.store.revoke_api_key("gone", at=h.clock())

    async def scenario() -> None:
        async with h.client(h.app(h.settings(auth={"key_cache_ttl": 0}))) as client:
            assert (await client.get("/api/v1/models", headers=h.bearer(expiring))).status == 200
            reply = await client.get("/api/v1/models", headers=h.bearer(revoked.token))
            body = await reply.json()
            assert reply.status == 401
            assert_error(reply.status, body, reply.headers, "api_key_revoked")
            assert "'gone'" in body["error"]["message"]
            h.clock.advance(61)
            reply = await client.get("/api/v1/models", headers=h.bearer(expiring))
            assert reply.status == 401
            assert (await reply.json())["error"]["code"] == "api_key_expired"

    h.run(scenario)


def test_revocation_in_another_process_takes_effect_within_the_cache_ttl(h: Harness) -> None:
    token = create_api_key(h.store, "shared", ["read"], now=h.clock()).token
    other = h.open_store()  # as `interlace apikey revoke` in another process would
    server_settings = h.settings(auth={"key_cache_ttl": "10s"})

    async def scenario() -> None:
        async with h.client(h.app(server_settings)) as client:
            assert (await client.get("/api/v1/models", headers=h.bearer(token))).status == 200
            assert other.revoke_api_key("shared", at=h.clock()) is not None
            # still trusted from the cache (documented: at most key_cache_ttl)
            h.clock.advance(9)
            assert (await client.get("/api/v1/models", headers=h.bearer(token))).status == 200
            h.clock.advance(1)
            reply = await client.get("/api/v1/models", headers=h.bearer(token))
            assert reply.status == 401
            assert (await reply.json())["error"]["code"] == "api_key_revoked"

    try:
        h.run(scenario)
    finally:
        other.close()


def test_a_key_made_by_another_store_handle_works_at_once(h: Harness) -> None:
    other = h.open_store()
    try:
        token = create_api_key(other, "from-cli", ["read"]).token

        async def scenario() -> None:
            async with h.client(h.app()) as client:
                reply = await client.get("/api/v1/models", headers={"X-API-Key": token})
                assert reply.status == 200

        h.run(scenario)
    finally:
        other.close()


def test_keys_are_hashed_at_rest(h: Harness) -> None:
    created = create_api_key(h.store, "secret-test", ["read"], now=h.clock())
    key_id, secret = parse_token(created.token) or ("", "")

    async def scenario() -> None:
        async with h.client(h.app()) as client:
            assert (
                await client.get("/api/v1/models", headers=h.bearer(created.token))
            ).status == 200
            signed_in = await client.post("/api/v1/auth/session", json={"key": created.token})
            assert signed_in.status == 201
            return signed_in.cookies["interlace_session"].value

    session_token = h.run(scenario)
    h.store.close()
    stored = b"".join(p.read_bytes() for p in h.state_path.parent.iterdir() if p.is_file())
    assert secret.encode() not in stored
    assert created.token.encode() not in stored
    assert session_token.encode() not in stored
    with sqlite3.connect(h.state_path) as db:
        (digest,) = db.execute("SELECT digest FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        sessions = [row[0] for row in db.execute("SELECT digest FROM api_sessions")]
    assert digest == hashlib.sha256(secret.encode()).hexdigest()
    assert sessions == [hashlib.sha256(session_token.encode()).hexdigest()]


def test_a_verified_key_is_not_looked_up_again_within_the_ttl(h: Harness) -> None:
    token = h.keys["read"]
    lookups: list[str] = []
    real = h.store.api_key_digest

    def counting(key_id: str) -> Any:
        lookups.append(key_id)
        return real(key_id)

    h.store.api_key_digest = counting  # type: ignore[method-assign]

    async def scenario() -> None:
        async with h.client(h.app()) as client:
            for _ in range(5):
                assert (await client.get("/api/v1/models", headers=h.bearer(token))).status == 200
            h.clock.advance(10)  # the default TTL
            assert (await client.get("/api/v1/models", headers=h.bearer(token))).status == 200

    first_use = h.clock()
    h.run(scenario)
    assert len(lookups) == 2
    used = h.store.api_key(lookups[0])
    # "last used" is written on the first use, then at most once a minute
    assert used is not None and used.last_used_at == first_use


def test_turning_auth_off_opens_every_route_and_startup_says_so_loudly(h: Harness) -> None:
    off = h.settings(auth={"enabled": False})

    async def scenario() -> None:
        async with h.client(h.app(off)) as client:
            assert (await client.put("/api/v1/settings")).status == 200
            reply = await client.get("/api/v1/auth/session")
            assert (await reply.json())["via"] == "open"

    h.run(scenario)
    notice = startup_notice(off, h.store)
    assert notice is not None and notice.level == "warning"
    assert "AUTHENTICATION IS OFF" in notice.message


def test_startup_without_keys_says_how_to_make_one(h: Harness, tmp_path: Any) -> None:
    from interlace.state.sqlite import SQLiteStateStore

    empty = SQLiteStateStore(tmp_path / "empty.db")
    try:
        notice = startup_notice(h.settings(), empty)
        assert notice is not None
        assert "interlace apikey create admin --scope admin" in notice.message
        assert "/api/v1/health" in notice.message
        created = create_api_key(empty, "first", ["admin"])
        assert startup_notice(h.settings(), empty) is None
        empty.revoke_api_key(created.key.id, at=created.key.created_at)
        assert startup_notice(h.settings(), empty) is not None  # revoked keys do not count
    finally:
        empty.close()
