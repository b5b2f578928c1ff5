"""No route of ``interlace serve`` bypasses auth (SPEC §11.4).

The real service app (its core API, the session routes, the OpenAPI document and docs, the UI)
is secured with the default settings (a larger per-address burst), then its whole route table is walked: every route that is
not declared public must refuse a missing key, a wrong key, a revoked key and a key without the
route's scope with 401/403 in the JSON error format. A route added later is walked too, so it
cannot be added open by mistake.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from interlace_http.apikeys import create_api_key
from interlace_http.security import SECURITY, RouteAccess, route_access
from interlace_http.sessions import session_router
from interlace_http.settings import SecuritySettings
from interlace_service.app import create_app
from interlace_service.options import ServiceOptions
from interlace_service.service import Service

# a key that lacks each scope (every scope implies read, so a read route has none)
LACKING = {"write": ("execute",), "execute": ("write",), "admin": ("read", "write", "execute")}

# the routes meant to be callable without a key
PUBLIC = {
    ("GET", "/"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/assets/{}"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/v1/health"),
    ("GET", "/{}"),  # the UI's files (never under /api)
    ("POST", "/api/v1/auth/session"),
}


def make_project(root: Path) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "config.yaml").write_text("name: walk\n", encoding="utf-8")
    (root / "models" / "orders.sql").write_text("SELECT 1 AS id\n", encoding="utf-8")
    ui = root / "ui_build"
    ui.mkdir()
    (ui / "index.html").write_text("<html></html>", encoding="utf-8")
    return root


def shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


async def refused(
    client: TestClient[web.Request, web.Application],
    route: RouteAccess,
    headers: dict[str, str],
    status: int,
    case: str,
) -> None:
    path = re.sub(r"\{[^}]+\}", "x", route.path)
    reply = await client.request(route.method, path, headers=headers)
    where = f"{route.method} {route.path} with {case}"
    assert reply.status == status, f"{where}: {reply.status} {await reply.text()}"
    error = (await reply.json())["error"]
    assert set(error) == {"code", "message", "details", "request_id"}, where
    assert error["request_id"] == reply.headers["X-Request-ID"], where


def test_every_non_public_service_route_refuses_bad_credentials(tmp_path: Path) -> None:
    root = make_project(tmp_path / "project")
    service = Service.load(root, options=ServiceOptions(port=0, scheduler=False))
    app = create_app(
        service,
        routers=[session_router()],
        # the default settings, with room for the walk's many refused requests from one address
        security=SecuritySettings.model_validate(
            {"rate_limit": {"per_ip": {"rate": 10, "burst": 100_000}}}
        ),
        ui=root / "ui_build",
        manage=False,
    )
    store = service.store
    wrong_id = create_api_key(store, "admin", ["admin"]).key.id
    wrong = f"il_{wrong_id}_{'W' * 43}"
    revoked = create_api_key(store, "revoked", ["admin"]).token
    store.revoke_api_key("revoked", at=0.0)  # type: ignore[attr-defined]
    lacking = {
        scope: create_api_key(store, f"no-{scope}", scopes).token
        for scope, scopes in LACKING.items()
    }
    table = route_access(app, app[SECURITY].settings)
    assert {(r.method, shape(r.path)) for r in table if r.scope is None} == PUBLIC
    protected = [r for r in table if r.scope is not None]
    assert len(protected) >= 20 and {r.scope for r in protected} >= {"read", "execute"}

    async def walk() -> None:
        async with TestClient(TestServer(app)) as client:
            for route in protected:
                await refused(client, route, {}, 401, "no key")
                await refused(
                    client, route, {"Authorization": f"Bearer {wrong}"}, 401, "a wrong key"
                )
                await refused(client, route, {"X-API-Key": revoked}, 401, "a revoked key")
                if route.scope in lacking:
                    key = {"X-API-Key": lacking[route.scope]}
                    await refused(client, route, key, 403, f"a key without {route.scope}")
            # and a good key gets through (the walk above is not refusing everything)
            admin = create_api_key(store, "walker", ["admin"]).token
            ok = await client.get("/api/v1/models", headers={"Authorization": f"Bearer {admin}"})
            assert ok.status == 200, await ok.text()

    try:
        asyncio.run(walk())
    finally:
        service.store.close()
