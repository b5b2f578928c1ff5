"""Browser sessions: a key exchanged for an HttpOnly cookie, CSRF on changes, sign-out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace_http.apikeys import create_api_key

if TYPE_CHECKING:
    from aiohttp import ClientResponse
    from conftest import Harness


def set_cookies(reply: ClientResponse) -> dict[str, str]:
    """``{name: the Set-Cookie header}`` of a reply."""
    return {h.split("=", 1)[0]: h for h in reply.headers.getall("Set-Cookie", [])}


def test_signing_in_sets_an_httponly_strict_cookie_and_a_readable_csrf_cookie(h: Harness) -> None:
    async def scenario() -> None:
        async with h.client(h.app()) as client:
            reply = await client.post("/api/v1/auth/session", json={"key": h.keys["write"]})
            body = await reply.json()
            assert reply.status == 201, body
            assert body["via"] == "session" and body["name"] == "write-key"
            assert body["scopes"] == ["write"]
            assert body["effective_scopes"] == ["read", "write"]
            cookies = set_cookies(reply)
            session, csrf = cookies["interlace_session"], cookies["interlace_csrf"]
            assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/" in session
            assert "HttpOnly" not in csrf and "SameSite=Strict" in csrf
            assert "Secure" not in session  # plain http here
            assert f"interlace_csrf={body['csrf_token']}" in csrf
            assert reply.headers["Cache-Control"] == "no-store"

    h.run(scenario)


def test_a_session_authenticates_reads_and_event_streams_without_a_key(h: Harness) -> None:
    async def scenario() -> None:
        async with h.client(h.app()) as client:
            assert (await client.get("/api/v1/models")).status == 401
            signed_in = await client.post("/api/v1/auth/session", headers=h.bearer(h.keys["read"]))
            assert signed_in.status == 201
            # the client's cookie jar now sends the session, as a browser would
            assert (await client.get("/api/v1/models")).status == 200
            who = await (await client.get("/api/v1/auth/session")).json()
            assert who["via"] == "session" and who["name"] == "read-key"
            stream = await client.get("/api/v1/events", headers={"Accept": "text/event-stream"})
            assert stream.status == 200
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            assert "event: run.completed" in await stream.text()

    h.run(scenario)


def test_a_change_with_the_session_cookie_needs_the_csrf_token(h: Harness) -> None:
    async def scenario() -> None:
        async with h.client(h.app()) as client:
            signed_in = await client.post("/api/v1/auth/session", json={"key": h.keys["execute"]})
            csrf = (await signed_in.json())["csrf_token"]
            refused = await client.post("/api/v1/runs")
            body = await refused.json()
            assert refused.status == 403, body
            assert body["error"]["code"] == "csrf_failed"
            assert "X-CSRF-Token" in body["error"]["message"]
            wrong = await client.post("/api/v1/runs", headers={"X-CSRF-Token": "0" * 64})
            assert wrong.status == 403
            accepted = await client.post("/api/v1/runs", headers={"X-CSRF-Token": csrf})
            assert accepted.status == 202, await accepted.text()
            # scopes still apply to sessions
            denied = await client.put("/api/v1/settings", headers={"X-CSRF-Token": csrf})
            assert denied.status == 403
            assert (await denied.json())["error"]["code"] == "forbidden"
            # a key header needs no CSRF token (browsers never send it by themselves)
            keyed = await client.post("/api/v1/runs", headers=h.bearer(h.keys["execute"]))
            assert keyed.status == 202

    h.run(scenario)


def test_another_sessions_csrf_token_does_not_pass(h: Harness) -> None:
    async def scenario() -> None:
        async with h.client(h.app()) as mallory, h.client(h.app()) as alice:
            theirs = await mallory.post("/api/v1/auth/session", json={"key": h.keys["execute"]})
            other_token = (await theirs.json())["csrf_token"]
            await alice.post("/api/v1/auth/session", json={"key": h.keys["execute"]})
            reply = await alice.post("/api/v1/runs", headers={"X-CSRF-Token": other_token})
            assert reply.status == 403

    h.run(scenario)


def test_signing_out_ends_the_session_and_clears_the_cookies(h: Harness) -> None:
    async def scenario() -> None:
        async with h.client(h.app()) as client:
            signed_in = await client.post("/api/v1/auth/session", json={"key": h.keys["read"]})
            csrf = (await signed_in.json())["csrf_token"]
            session = signed_in.cookies["interlace_session"].value
            without_token = await client.delete("/api/v1/auth/session")
            assert without_token.status == 403  # sign-out is a change too
            out = await client.delete("/api/v1/auth/session", headers={"X-CSRF-Token": csrf})
            assert out.status == 204
            cleared = set_cookies(out)
            assert "Max-Age=0" in cleared["interlace_session"]
            assert "Max-Age=0" in cleared["interlace_csrf"]
            # the old cookie, replayed, is refused (and told to clear itself)
            replay = await client.get(
                "/api/v1/models", headers={"Cookie": f"interlace_session={session}"}
            )
            assert replay.status == 401
            assert (await replay.json())["error"]["code"] == "session_ended"

    h.run(scenario)


def test_revoking_the_key_ends_its_sessions(h: Harness) -> None:
    token = create_api_key(h.store, "browser", ["read"], now=h.clock()).token

    async def scenario() -> None:
        async with h.client(h.app(h.settings(auth={"key_cache_ttl": 0}))) as client:
            await client.post("/api/v1/auth/session", json={"key": token})
            assert (await client.get("/api/v1/models")).status == 200
            other = h.open_store()
            try:
                other.revoke_api_key("browser", at=h.clock())
            finally:
                other.close()
            assert (await client.get("/api/v1/models")).status == 401

    h.run(scenario)


def test_a_session_expires_after_its_ttl_and_never_outlives_its_key(h: Harness) -> None:
    short_key = create_api_key(h.store, "short", ["read"], expires_in=60, now=h.clock()).token
    config = h.settings(sessions={"ttl": "1h"}, auth={"key_cache_ttl": 0})

    async def scenario() -> None:
        async with h.client(h.app(config)) as a, h.client(h.app(config)) as b:
            long = await a.post("/api/v1/auth/session", json={"key": h.keys["read"]})
            assert "Max-Age=3600" in set_cookies(long)["interlace_session"]
            short = await b.post("/api/v1/auth/session", json={"key": short_key})
            assert (await short.json())["expires_at"] == h.clock() + 60
            h.clock.advance(61)
            assert (await b.get("/api/v1/models")).status == 401
            assert (await a.get("/api/v1/models")).status == 200
            h.clock.advance(3600)
            assert (await a.get("/api/v1/models")).status == 401

    h.run(scenario)


def test_signing_in_with_a_bad_key_is_refused_and_sets_no_cookie(h: Harness) -> None:
    async def scenario() -> None:
        async with h.client(h.app()) as client:
            for body in ({"key": "il_000000000000_" + "A" * 43}, {}):
                reply = await client.post("/api/v1/auth/session", json=body)
                assert reply.status == 401
                assert "Set-Cookie" not in reply.headers
            unknown_field = await client.post("/api/v1/auth/session", json={"token": "x"})
            assert unknown_field.status == 422

    h.run(scenario)


def test_cookies_are_secure_behind_a_trusted_https_proxy(h: Harness) -> None:
    proxied = h.settings(trusted_proxies=["127.0.0.1/32"])
    always = h.settings(sessions={"secure_cookies": "always"})

    async def scenario() -> None:
        async with h.client(h.app(proxied)) as client:
            reply = await client.post(
                "/api/v1/auth/session",
                json={"key": h.keys["read"]},
                headers={"X-Forwarded-Proto": "https"},
            )
            assert "Secure" in set_cookies(reply)["interlace_session"]
        async with h.client(h.app()) as client:  # an untrusted peer cannot claim https
            reply = await client.post(
                "/api/v1/auth/session",
                json={"key": h.keys["read"]},
                headers={"X-Forwarded-Proto": "https"},
            )
            assert "Secure" not in set_cookies(reply)["interlace_session"]
        async with h.client(h.app(always)) as client:
            reply = await client.post("/api/v1/auth/session", json={"key": h.keys["read"]})
            assert "Secure" in set_cookies(reply)["interlace_session"]

    h.run(scenario)
