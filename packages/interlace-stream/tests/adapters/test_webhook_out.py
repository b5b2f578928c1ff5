"""Outbound webhooks: the ``webhook_out`` adapter, run by the stream runtime, POSTs a stream's
committed events to a receiver, signed, retrying with backoff until it answers 2xx, and moves
its consumer cursor only then."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import textwrap
from pathlib import Path
from typing import Any

import interlace.opening
import interlace.project  # noqa: F401 (both loaded before any thread needs them)
import pytest
from aiohttp import web
from interlace.testing import ProjectFolder
from interlace_http.testing import ServedApp
from interlace_stream.consumers import consume
from interlace_stream.runtime import StreamRuntime

from .support import eventually

SECRET = "billing shared secret"


class Receiver:
    """A webhook receiver that fails its first ``failures`` requests with a 503."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[dict[str, str], bytes]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hooks/orders", self.receive)
        return app

    async def receive(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        if len(self.requests) <= self.failures:
            return web.json_response({"error": "busy"}, status=503)
        return web.json_response({"ok": True})


def _project(tmp_path: Path, url: str) -> ProjectFolder:
    config = textwrap.dedent(
        f"""\
        name: outbound
        connections:
          default:
            type: duckdb
            path: data/{{env}}.duckdb
        streaming:
          commit_interval: 0.05
          auth: {{enabled: false}}
          rate_limit: {{enabled: false}}
        streams:
          orders:
            fields: {{id: int64, amount: float64}}
        adapters:
          - name: notify_billing
            type: webhook_out
            stream: orders
            url: {url}
            secret: ${{TEST_BILLING_SECRET}}
            timestamp_header: X-Timestamp
            interval: 0.05
            backoff_initial: 0.05
            backoff_max: 0.2
        """
    )
    return ProjectFolder.create(tmp_path / "project", config=config)


def test_events_are_posted_signed_retried_and_acked_after_a_2xx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_BILLING_SECRET", SECRET)
    receiver = Receiver(failures=2)
    with ServedApp(receiver.app()) as served:
        project = _project(tmp_path, served.url + "/hooks/orders")

        async def scenario() -> dict[str, Any]:
            runtime = StreamRuntime(project.load(), execute_runs=False)
            await runtime.start()
            try:
                (adapter,) = runtime.adapters
                events = [{"id": n, "amount": n * 1.5} for n in range(5)]
                await runtime.publisher.publish("orders", events, ids=[f"o{n}" for n in range(5)])
                await eventually(
                    lambda: adapter.counters["acked"] == 5,
                    timeout=30,
                    what=f"5 events delivered ({adapter.health()})",
                )
                health: dict[str, Any] = adapter.health().to_dict()
                return health
            finally:
                await runtime.stop()

        health = asyncio.run(scenario())

    assert len(receiver.requests) == 3  # two 503s, then the delivery
    deliveries = {headers["X-Interlace-Delivery"] for headers, _ in receiver.requests}
    assert deliveries == {"orders:0-4"}  # the same id on every retry: receivers can de-duplicate
    headers, body = receiver.requests[-1]
    signed = headers["X-Timestamp"].encode() + b"." + body
    expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == "sha256=" + expected
    assert json.loads(body) == [{"id": n, "amount": n * 1.5} for n in range(5)]
    assert health["state"] == "healthy"
    assert "answered 503" in health["last_error"]
    # the cursor moved past the delivered events: nothing is delivered again
    left = consume("orders", "webhook_out:notify_billing", project=project.load())
    assert left.events == []


def test_events_not_delivered_before_a_stop_are_delivered_by_the_next_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .support import DOWN_PORT

    monkeypatch.setenv("TEST_BILLING_SECRET", SECRET)
    project = _project(tmp_path, f"http://127.0.0.1:{DOWN_PORT}/hooks/orders")

    async def unreachable() -> dict[str, Any]:
        runtime = StreamRuntime(project.load(), execute_runs=False)
        await runtime.start()
        try:
            (adapter,) = runtime.adapters
            events = [{"id": n, "amount": 1.0} for n in range(3)]
            await runtime.publisher.publish("orders", events, ids=[f"o{n}" for n in range(3)])
            await eventually(
                lambda: adapter.counters["received"] == 3 and bool(adapter.health().last_error),
                timeout=30,
                what=f"a failed delivery ({adapter.health()})",
            )
            health: dict[str, Any] = adapter.health().to_dict()
            return health
        finally:
            await runtime.stop()

    health = asyncio.run(unreachable())
    assert health["state"] == "degraded"
    assert f"127.0.0.1:{DOWN_PORT}" in health["last_error"]
    assert health["counters"]["acked"] == 0

    receiver = Receiver(failures=0)
    with ServedApp(receiver.app()) as served:
        config = (project.root / "config.yaml").read_text()
        project.write({"config.yaml": config.replace(f"http://127.0.0.1:{DOWN_PORT}", served.url)})

        async def reachable() -> None:
            runtime = StreamRuntime(project.load(), execute_runs=False)
            await runtime.start()
            try:
                (adapter,) = runtime.adapters
                await eventually(lambda: adapter.counters["acked"] == 3, timeout=30)
            finally:
                await runtime.stop()

        asyncio.run(reachable())
    assert [json.loads(body) for _, body in receiver.requests] == [
        [{"id": n, "amount": 1.0} for n in range(3)]
    ]
