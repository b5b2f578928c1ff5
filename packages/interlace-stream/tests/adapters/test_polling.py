"""The ``polling`` adapter against an HTTP API served by the test: it follows the cursor (a query
parameter from the last item, or ``next`` links), stores it only after publishing, resumes from
it after a restart, and backs off while the API fails."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from interlace_http.testing import ServedApp
from interlace_stream.adapters import build_adapter

from .support import (
    eventually,
    open_publisher,
    run_in_process,
    running,
    stored,
    stored_on_disk,
    stream_info,
)

PAGE = 5


class FakeApi:
    """An API of tickets: ``GET /tickets?since=<id>`` (a page of the next ones) and
    ``GET /pages/<n>`` (pages with a ``next`` link)."""

    def __init__(self) -> None:
        self.tickets: list[dict[str, Any]] = [
            {"id": n, "title": f"ticket {n}"} for n in range(1, 13)
        ]
        self.requests: list[str] = []
        self.failing = False

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/tickets", self.list_tickets)
        app.router.add_get("/pages/{n}", self.page)
        app.router.add_get("/linked/{n}", self.linked)
        return app

    async def list_tickets(self, request: web.Request) -> web.Response:
        self.requests.append(request.path_qs)
        if self.failing:
            return web.json_response({"error": "maintenance"}, status=503)
        since = int(request.query.get("since", "0"))
        page = [t for t in self.tickets if t["id"] > since][:PAGE]
        return web.json_response({"data": page, "meta": {"count": len(page)}})

    async def linked(self, request: web.Request) -> web.Response:
        """The same pages, the next one named in a ``Link: <url>; rel="next"`` header."""
        self.requests.append(request.path_qs)
        n = int(request.match_info["n"])
        headers = {}
        if n * PAGE < len(self.tickets):
            headers["Link"] = f'<{request.scheme}://{request.host}/linked/{n + 1}>; rel="next"'
        return web.json_response(self.tickets[(n - 1) * PAGE : n * PAGE], headers=headers)

    async def page(self, request: web.Request) -> web.Response:
        self.requests.append(request.path_qs)
        n = int(request.match_info["n"])
        page = self.tickets[(n - 1) * PAGE : n * PAGE]
        body: dict[str, Any] = {"items": page}
        if n * PAGE < len(self.tickets):
            body["links"] = {"next": f"{request.scheme}://{request.host}/pages/{n + 1}"}
        return web.json_response(body)


@pytest.fixture
def api() -> Iterator[tuple[FakeApi, ServedApp]]:
    fake = FakeApi()
    with ServedApp(fake.app()) as served:
        yield fake, served


def _config(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "tickets",
        "type": "polling",
        "stream": "tickets",
        "url": url,
        "interval": 0.05,
        "items": "data",
        "id_field": "id",
        "cursor": {"param": "since", "from_item": "id"},
        **extra,
    }


def test_polling_follows_the_cursor_and_resumes_from_the_stored_one(
    tmp_path: Path, api: tuple[FakeApi, ServedApp]
) -> None:
    fake, served = api

    async def scenario() -> None:
        async with open_publisher(tmp_path / "logs", stream_info("tickets")) as publisher:
            first = build_adapter(_config(served.url + "/tickets"), project_dir=tmp_path)
            async with running(first, publisher):
                await eventually(lambda: first.counters["published"] == 12, what="12 tickets")
            cursor_file = tmp_path / ".interlace/streams/adapters/tickets.json"
            assert json.loads(cursor_file.read_text()) == {"cursor": 12}
            # new tickets while stopped; a new adapter starts from the stored cursor
            fake.tickets += [{"id": n, "title": f"ticket {n}"} for n in range(13, 16)]
            fake.requests.clear()
            second = build_adapter(_config(served.url + "/tickets"), project_dir=tmp_path)
            async with running(second, publisher):
                await eventually(lambda: second.counters["published"] == 3, what="3 new tickets")
            events = stored(publisher, "tickets")
            assert publisher.writers["tickets"].stats.duplicates == 0
        assert fake.requests[0] == "/tickets?since=12"
        assert [event["id"] for _, event in events] == list(range(1, 16))
        assert json.loads(cursor_file.read_text()) == {"cursor": 15}

    asyncio.run(scenario())


def test_polling_follows_next_links(tmp_path: Path, api: tuple[FakeApi, ServedApp]) -> None:
    fake, served = api

    async def scenario() -> None:
        config = _config(
            served.url + "/pages/1", items="items", cursor=None, next_link="links.next"
        )
        adapter = build_adapter(config, project_dir=tmp_path)
        async with open_publisher(tmp_path / "logs", stream_info("tickets")) as publisher:
            async with running(adapter, publisher):
                await eventually(lambda: len(fake.requests) >= 5, what="a poll after the last page")
            events = stored(publisher, "tickets")
        assert [event["id"] for _, event in events] == list(range(1, 13))  # the re-polls add none
        assert fake.requests[:4] == ["/pages/1", "/pages/2", "/pages/3", "/pages/3"]
        state = json.loads((tmp_path / ".interlace/streams/adapters/tickets.json").read_text())
        assert state == {"next_url": served.url + "/pages/3"}

    asyncio.run(scenario())


def test_polling_follows_link_headers(tmp_path: Path, api: tuple[FakeApi, ServedApp]) -> None:
    fake, served = api

    async def scenario() -> None:
        config = _config(served.url + "/linked/1", items=None, cursor=None, next_link="header")
        adapter = build_adapter(config, project_dir=tmp_path)
        async with open_publisher(tmp_path / "logs", stream_info("tickets")) as publisher:
            async with running(adapter, publisher):
                await eventually(lambda: adapter.counters["published"] >= 12, what="3 pages")
            events = stored(publisher, "tickets")
        assert [event["id"] for _, event in events] == list(range(1, 13))
        assert fake.requests[:3] == ["/linked/1", "/linked/2", "/linked/3"]

    asyncio.run(scenario())


def test_polling_an_api_that_fails_reports_down_then_recovers(
    tmp_path: Path, api: tuple[FakeApi, ServedApp]
) -> None:
    fake, served = api
    fake.failing = True

    async def scenario() -> None:
        config = _config(served.url + "/tickets", backoff_initial=0.02, backoff_max=0.05)
        adapter = build_adapter(config, project_dir=tmp_path)
        async with (
            open_publisher(tmp_path / "logs", stream_info("tickets")) as publisher,
            running(adapter, publisher),
        ):
            await eventually(lambda: adapter.counters["reconnects"] >= 2)
            health = adapter.health()
            assert health.state == "down"
            assert "503" in (health.last_error or "")
            fake.failing = False
            await eventually(lambda: adapter.counters["published"] == 12, what="recovery")
            assert adapter.health().state == "healthy"

    asyncio.run(scenario())


def test_kill_between_publish_and_cursor_save_refetches_without_duplicates(
    tmp_path: Path, api: tuple[FakeApi, ServedApp]
) -> None:
    _, served = api
    config = _config(served.url + "/tickets")
    run_in_process(tmp_path, config, expect=12, fault="after_publish_before_ack")
    assert len(stored_on_disk(tmp_path / "logs", "tickets")) == PAGE
    assert not (tmp_path / ".interlace/streams/adapters/tickets.json").exists()
    report = run_in_process(tmp_path, config, expect=12)
    assert report is not None
    events = stored_on_disk(tmp_path / "logs", "tickets")
    assert [event["id"] for _, event in events] == list(range(1, 13))
    assert report["duplicates"] == PAGE
