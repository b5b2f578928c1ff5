"""No route bypasses auth (SPEC §11.4): walk an app's whole route table and prove that every
route that is not declared public refuses a missing key, a wrong key, a revoked key and a key
without the route's scope, with 401/403 in the JSON error format.

Here on an app built from Routers the way servers build theirs (``create_http_app`` +
``install_security`` + the session routes + a handler registered without metadata); the
service's own app is walked the same way in interlace-service's tests.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aiohttp import web
from interlace_http.apikeys import create_api_key, parse_token
from interlace_http.security import RouteAccess, route_access

if TYPE_CHECKING:
    from aiohttp.test_utils import TestClient
    from conftest import Harness

# a key per scope that lacks it (every scope implies read, so a read route has none)
LACKS = {"write": "execute", "execute": "write", "admin": "all_but_admin"}


def concrete(path: str) -> str:
    """A path of the route with every ``{parameter}`` filled in."""
    return re.sub(r"\{[^}]+\}", "x", path)


async def assert_refused(
    client: TestClient[web.Request, web.Application],
    endpoint: RouteAccess,
    headers: dict[str, str],
    status: int,
    case: str,
) -> None:
    reply = await client.request(endpoint.method, concrete(endpoint.path), headers=headers)
    where = f"{endpoint.method} {endpoint.path} with {case}"
    assert reply.status == status, f"{where}: {reply.status} {await reply.text()}"
    if endpoint.method == "HEAD":
        return
    body = await reply.json()
    error = body["error"]
    assert set(error) == {"code", "message", "details", "request_id"}, where
    assert error["request_id"] == reply.headers["X-Request-ID"], where


def test_every_non_public_route_refuses_missing_wrong_revoked_and_unscoped_keys(
    h: Harness,
) -> None:
    app = h.app(h.settings(rate_limit={"per_ip": {"rate": 10, "burst": 100_000}}))
    revoked = create_api_key(h.store, "revoked", ["admin"], now=h.clock()).token
    h.store.revoke_api_key("revoked", at=h.clock())
    key_id = (parse_token(h.keys["admin"]) or ("", ""))[0]
    wrong = f"il_{key_id}_{'W' * 43}"
    table = route_access(app, h.security(app).settings)
    public = sorted(
        (e.method, re.sub(r"\{[^}]+\}", "{}", e.path)) for e in table if e.scope is None
    )
    # what is open is exactly what we mean to be open
    assert public == [
        ("GET", "/api/docs"),
        ("GET", "/api/docs/assets/{}"),
        ("GET", "/api/openapi.json"),
        ("GET", "/api/v1/health"),
        ("POST", "/api/v1/auth/session"),
    ]
    protected = [e for e in table if e.scope is not None]
    assert {e.scope for e in protected} == {"read", "write", "execute", "admin"}
    assert any(not e.declared for e in protected)  # the raw handler: deny by default

    async def scenario() -> None:
        async with h.client(app) as client:
            for endpoint in protected:
                await assert_refused(client, endpoint, {}, 401, "no key")
                await assert_refused(client, endpoint, h.bearer(wrong), 401, "a wrong key")
                await assert_refused(client, endpoint, h.bearer(revoked), 401, "a revoked key")
                lacking = LACKS.get(str(endpoint.scope))
                if lacking is not None:
                    headers = {"X-API-Key": h.keys[lacking]}
                    await assert_refused(client, endpoint, headers, 403, f"a {lacking} key")

    h.run(scenario)
