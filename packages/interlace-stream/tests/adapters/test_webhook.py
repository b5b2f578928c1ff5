"""Inbound webhooks: ``POST /api/v1/webhooks/{name}`` checks the HMAC signature and the replay
window, answers 200 only once the events are durable, and de-duplicates by delivery id."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from interlace.errors import ConfigError
from interlace_http.app import create_http_app
from interlace_http.testing import ServedApp
from interlace_stream.adapters import build_adapters, webhook_router
from interlace_stream.adapters.webhook import signature
from interlace_stream.publisher import Publisher

from .support import stored, stream_info

SECRET = "It's a Secret to Everybody"


class Holder:
    """The publisher the routes use: opened when the app starts, in the app's event loop."""

    publisher: Publisher

    async def publish(self, stream: str, events: list[dict[str, Any]], *, ids: Any = None) -> Any:
        return await self.publisher.publish(stream, events, ids=ids)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ServedApp, Holder]]:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    adapters = build_adapters(
        [
            {
                "name": "github",
                "type": "webhook",
                "stream": "github_events",
                "secret": "${TEST_WEBHOOK_SECRET}",
                "id_header": "X-GitHub-Delivery",
                "max_body": 2000,
            },
            {
                "name": "payments",
                "type": "webhook",
                "stream": "payments",
                "secret": "${TEST_WEBHOOK_SECRET}",
                "signature_header": "X-Signature",
                "signature_prefix": "",
                "timestamp_header": "X-Timestamp",
                "replay_window": "5m",
            },
        ]
    )
    holder = Holder()

    async def start(app: web.Application) -> None:
        holder.publisher = Publisher(
            {
                "github_events": stream_info("github_events"),
                "payments": stream_info("payments", {"id": "string", "amount": "float64"}),
            },
            tmp_path / "logs",
        )
        await holder.publisher.start()

    async def stop(app: web.Application) -> None:
        await holder.publisher.close()

    app = create_http_app([webhook_router(adapters, holder)], title="hooks", version="1")
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    with ServedApp(app) as server:
        yield server, holder


def _stored(server: ServedApp, holder: Holder, stream: str) -> list[tuple[str, dict[str, Any]]]:
    async def read() -> list[tuple[str, dict[str, Any]]]:
        found: list[tuple[str, dict[str, Any]]] = stored(holder.publisher, stream)
        return found

    return asyncio.run_coroutine_threadsafe(read(), server.loop).result(10)


def _github(body: bytes, delivery: str, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-Hub-Signature-256": "sha256=" + signature(secret, body),
        "X-GitHub-Delivery": delivery,
        "Content-Type": "application/json",
    }


def test_signed_webhook_is_durable_before_200_and_redeliveries_are_dropped(
    served: tuple[ServedApp, Holder],
) -> None:
    server, holder = served
    body = json.dumps({"action": "opened", "number": 7}).encode()
    reply = server.call("POST", "/api/v1/webhooks/github", data=body, headers=_github(body, "d-1"))
    assert reply.status == 200, reply
    assert reply.json == {"stream": "github_events", "published": 1}
    assert _stored(server, holder, "github_events") == [
        ("webhook:github:d-1", {"action": "opened", "number": 7})
    ]
    # GitHub redelivers the same delivery: accepted again, stored once
    again = server.call("POST", "/api/v1/webhooks/github", data=body, headers=_github(body, "d-1"))
    assert again.status == 200, again
    batch = json.dumps([{"n": 1}, {"n": 2}]).encode()
    reply = server.call(
        "POST", "/api/v1/webhooks/github", data=batch, headers=_github(batch, "d-2")
    )
    assert reply.json == {"stream": "github_events", "published": 2}
    assert [event_id for event_id, _ in _stored(server, holder, "github_events")] == [
        "webhook:github:d-1",
        "webhook:github:d-2:0",
        "webhook:github:d-2:1",
    ]


def test_bad_or_missing_signature_is_401_and_stores_nothing(
    served: tuple[ServedApp, Holder],
) -> None:
    server, holder = served
    body = b'{"action": "opened"}'
    wrong = server.call(
        "POST", "/api/v1/webhooks/github", data=body, headers=_github(body, "d-9", secret="nope")
    )
    assert wrong.status == 401, wrong
    assert "signature does not match" in wrong.json["error"]["message"]
    missing = server.call("POST", "/api/v1/webhooks/github", data=body)
    assert missing.status == 401
    assert "missing X-Hub-Signature-256" in missing.json["error"]["message"]
    tampered = server.call(
        "POST",
        "/api/v1/webhooks/github",
        data=b'{"action": "closed"}',
        headers=_github(body, "d-9"),
    )
    assert tampered.status == 401
    assert _stored(server, holder, "github_events") == []


def test_timestamped_webhook_outside_the_replay_window_is_refused(
    served: tuple[ServedApp, Holder],
) -> None:
    server, holder = served
    body = json.dumps({"id": "p1", "amount": 12.5}).encode()

    def headers(at: float) -> dict[str, str]:
        stamp = str(int(at))
        return {"X-Timestamp": stamp, "X-Signature": signature(SECRET, body, stamp)}

    fresh = server.call(
        "POST", "/api/v1/webhooks/payments", data=body, headers=headers(time.time())
    )
    assert fresh.status == 200, fresh
    old = server.call(
        "POST", "/api/v1/webhooks/payments", data=body, headers=headers(time.time() - 3600)
    )
    assert old.status == 401, old
    assert "outside the replay window of 300s" in old.json["error"]["message"]
    # the signature covers the timestamp: a fresh stamp on an old signature does not pass
    forged = {**headers(time.time() - 3600), "X-Timestamp": str(int(time.time()))}
    assert server.call("POST", "/api/v1/webhooks/payments", data=body, headers=forged).status == 401
    assert len(_stored(server, holder, "payments")) == 1


def test_bad_webhook_requests_get_clear_errors(
    served: tuple[ServedApp, Holder], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = served
    not_json = b"action=opened"
    reply = server.call(
        "POST", "/api/v1/webhooks/github", data=not_json, headers=_github(not_json, "d-3")
    )
    assert reply.status == 400 and "not JSON" in reply.json["error"]["message"], reply
    big = json.dumps({"text": "x" * 3000}).encode()
    reply = server.call("POST", "/api/v1/webhooks/github", data=big, headers=_github(big, "d-4"))
    assert reply.status == 413, reply
    reply = server.call("POST", "/api/v1/webhooks/gitlab", data=b"{}")
    assert reply.status == 404 and "github, payments" in reply.json["error"]["message"], reply
    # the event does not fit the stream's fields: 422 naming the field
    body = json.dumps({"id": "p2", "amount": "lots"}).encode()
    stamp = str(int(time.time()))
    signed = {"X-Timestamp": stamp, "X-Signature": signature(SECRET, body, stamp)}
    reply = server.call("POST", "/api/v1/webhooks/payments", data=body, headers=signed)
    assert reply.status == 422 and "amount" in reply.json["error"]["message"], reply
    # the log cannot be written: 503, never a 2xx
    monkeypatch.setenv("INTERLACE_STREAM_LOG_FAULT", "enospc")
    ok_body = b'{"action": "opened"}'
    reply = server.call(
        "POST", "/api/v1/webhooks/github", data=ok_body, headers=_github(ok_body, "d-5")
    )
    assert reply.status == 503, reply
    assert "nothing was stored" in reply.json["error"]["message"]


def test_webhook_secret_from_an_unset_variable_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    with pytest.raises(ConfigError) as caught:
        build_adapters(
            [{"name": "hook", "type": "webhook", "stream": "s", "secret": "${NO_SUCH_SECRET}"}]
        )
    message = str(caught.value)
    assert "adapter 'hook'" in message and "field 'secret'" in message
    assert "${NO_SUCH_SECRET}" in message
