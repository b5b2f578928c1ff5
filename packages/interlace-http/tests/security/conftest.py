"""A real aiohttp app secured by interlace-http, a real SQLite state store, a fake clock.

Tests are synchronous and drive the app with ``asyncio.run`` over aiohttp's TestServer and
TestClient (a real socket, real cookies). Time is a :class:`Clock` the tests move: nothing
sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from interlace.state.sqlite import SQLiteStateStore
from interlace_http.apikeys import create_api_key
from interlace_http.app import create_http_app
from interlace_http.routing import Router
from interlace_http.security import Security, install_security
from interlace_http.sessions import session_router
from interlace_http.settings import SecuritySettings
from interlace_http.sse import EventStream

T = TypeVar("T")

START = 1_800_000_000.0


class Clock:
    """Seconds that move only when a test says so (epoch-like, also used as monotonic)."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def api_router() -> Router:
    """One route per scope, a public one, a path parameter and an event stream."""
    api = Router("/api/v1", tags=["test"])

    @api.get("/health", public=True)
    async def health(request: web.Request) -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/models", scope="read")
    async def models(request: web.Request) -> dict[str, list[str]]:
        return {"models": ["orders"]}

    @api.post("/streams/{name}", scope="write")
    async def publish(request: web.Request, name: str) -> dict[str, str]:
        return {"published": name}

    @api.post("/runs", scope="execute", status=202)
    async def trigger(request: web.Request) -> dict[str, str]:
        return {"run": "queued"}

    @api.delete("/runs/{run_id}", scope="execute")
    async def cancel(request: web.Request, run_id: str) -> None:
        return None

    @api.put("/settings", scope="admin")
    async def settings(request: web.Request) -> dict[str, bool]:
        return {"saved": True}

    @api.get("/events", scope="read", content_type="text/event-stream")
    async def events(request: web.Request) -> web.StreamResponse:
        stream = await EventStream.open(request)
        await stream.send({"run_id": "r1"}, event="run.completed", id=1)
        return stream.response

    return api


async def raw_handler(request: web.Request) -> web.Response:
    """A handler added straight to aiohttp: no route metadata (needs admin)."""
    return web.json_response({"raw": True})


def build_app(
    store: SQLiteStateStore,
    settings: SecuritySettings | None = None,
    clock: Clock | None = None,
    routers: list[Router] | None = None,
) -> web.Application:
    """The test API with request ids, errors, docs, security and the session routes."""
    app = create_http_app(
        [*(routers if routers is not None else [api_router()]), session_router()],
        title="Test",
        version="0",
    )
    app.router.add_get("/raw", raw_handler)
    kwargs: dict[str, Any] = {} if clock is None else {"clock": clock, "monotonic": clock}
    install_security(app, settings or SecuritySettings(), store, **kwargs)
    return app


def security_of(app: web.Application) -> Security:
    from interlace_http.security import SECURITY

    return app[SECURITY]


@asynccontextmanager
async def client_of(
    app: web.Application,
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(app)) as client:
        yield client


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    """Run an async scenario to its end (tests stay synchronous)."""
    return asyncio.run(scenario())  # type: ignore[arg-type]


def settings(**sections: Any) -> SecuritySettings:
    return SecuritySettings.model_validate(sections)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Harness:
    """What a security test needs: the store, the clock, a key per scope, and app builders.

    Example::

        async def scenario() -> None:
            async with h.client(h.app()) as client:
                reply = await client.get("/api/v1/models", headers=h.bearer(h.keys["read"]))
                assert reply.status == 200
        h.run(scenario)
    """

    store: SQLiteStateStore
    clock: Clock
    keys: dict[str, str]
    state_path: Path

    bearer = staticmethod(bearer)
    client = staticmethod(client_of)
    run = staticmethod(run)
    settings = staticmethod(settings)
    api_router = staticmethod(api_router)

    def app(
        self,
        settings: SecuritySettings | None = None,
        routers: list[Router] | None = None,
        store: SQLiteStateStore | None = None,
    ) -> web.Application:
        return build_app(store or self.store, settings, self.clock, routers)

    def security(self, app: web.Application) -> Security:
        return security_of(app)

    def open_store(self) -> SQLiteStateStore:
        """Another handle on the same state file (as another process would open it)."""
        return SQLiteStateStore(self.state_path)


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / ".interlace" / "state.db"


@pytest.fixture
def store(state_path: Path) -> Iterator[SQLiteStateStore]:
    opened = SQLiteStateStore(state_path)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(store: SQLiteStateStore, clock: Clock) -> dict[str, str]:
    """A token per scope (``read``, ``write``, ``execute``, ``admin``) plus one with
    read+write+execute (``all_but_admin``)."""
    made = {
        scope: create_api_key(store, f"{scope}-key", [scope], now=clock()).token
        for scope in ("read", "write", "execute", "admin")
    }
    made["all_but_admin"] = create_api_key(
        store, "almost", ["read", "write", "execute"], now=clock()
    ).token
    return made


@pytest.fixture
def h(store: SQLiteStateStore, clock: Clock, keys: dict[str, str], state_path: Path) -> Harness:
    return Harness(store=store, clock=clock, keys=keys, state_path=state_path)
