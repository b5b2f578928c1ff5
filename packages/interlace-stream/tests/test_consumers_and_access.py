"""Consumers with durable cursors (at-least-once, one reader per name at a time), the SSE
subscription, per-stream tokens and rate limits, API keys, and publishing from Python."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from interlace_http.testing import ServedApp

if TYPE_CHECKING:
    from conftest import Eventually, ReadRows
    from interlace.testing import ProjectFolder

STREAMS = {
    "models/events.py": """
        from interlace_stream import stream

        orders = stream("orders", fields={"id": "int64"})
        hooks = stream("hooks", fields={"id": "int64"}, auth={"token": "s3cret"}, rate_limit="2/s")
        public = stream("public", fields={"id": "int64"}, auth={"public": True})
    """
}


def served(folder: ProjectFolder) -> ServedApp:
    from interlace_stream.server import create_stream_app

    return ServedApp(create_stream_app(folder.load()))


def test_consumers_read_in_order_ack_and_redeliver_what_was_not_acked(
    project: ProjectFolder, eventually: Eventually
) -> None:
    project.write(STREAMS)
    base = "/api/v1/streams/orders"
    with served(project) as app:
        app.call("POST", base, json=[{"id": i} for i in range(5)])
        eventually(lambda: app.call("GET", base).json["committed_offset"] == 5)
        first = app.call("POST", f"{base}/consume?consumer=billing&batch_size=3")
        assert first.status == 200, first
        assert [e["id"] for e in first.json["events"]] == [0, 1, 2]
        # another process under the same name while the lease is held: refused, no race
        busy = app.call("POST", f"{base}/consume?consumer=billing")
        assert busy.status == 409 and "lease" in busy.json["error"]["message"], busy
        acked = app.call(
            "POST",
            f"{base}/ack",
            json={"consumer": "billing", "lease": first.json["lease"], "offset": 3},
        )
        assert acked.status == 200, acked
        # the next batch is held briefly and never acked: it comes back after the lease
        second = app.call("POST", f"{base}/consume?consumer=billing&lease_seconds=0.3")
        assert [e["id"] for e in second.json["events"]] == [3, 4]
        again = eventually(
            lambda: (r := app.call("POST", f"{base}/consume?consumer=billing")).status == 200 and r
        )
        assert [e["id"] for e in again.json["events"]] == [3, 4]
        stale = app.call(
            "POST",
            f"{base}/ack",
            json={"consumer": "billing", "lease": second.json["lease"], "offset": 5},
        )
        assert stale.status == 409, stale
        # another consumer has a cursor of its own
        other = app.call("POST", f"{base}/consume?consumer=audit&batch_size=100")
        assert len(other.json["events"]) == 5
        listed = app.call("GET", base).json["consumers"]
        assert {c["consumer"]: c["committed"] for c in listed} == {"audit": 0, "billing": 3}


def test_sse_subscribers_receive_events_as_they_are_stored(project: ProjectFolder) -> None:
    project.write(STREAMS)
    with served(project) as app:
        app.call("POST", "/api/v1/streams/orders", json={"id": 1})
        received = []

        def publish_later() -> None:
            time.sleep(0.3)  # after the subscriber is connected
            app.call("POST", "/api/v1/streams/orders", json=[{"id": 2}, {"id": 3}])

        thread = threading.Thread(target=publish_later)
        thread.start()
        for event in app.events("/api/v1/streams/orders/events?from=0", limit=3, timeout=30):
            received.append((event.id, event.json["id"]))
        thread.join()
        assert received == [("0", 1), ("1", 2), ("2", 3)]
        resumed = app.events(
            "/api/v1/streams/orders/events", headers={"Last-Event-ID": "1"}, limit=1
        )
        assert [e.json["id"] for e in resumed] == [3]


def test_stream_tokens_public_streams_and_rate_limits(project: ProjectFolder) -> None:
    project.write(STREAMS)
    with served(project) as app:
        missing = app.call("POST", "/api/v1/streams/hooks", json={"id": 1})
        assert missing.status == 401 and "token" in missing.json["error"]["message"], missing
        wrong = app.call(
            "POST", "/api/v1/streams/hooks", json={"id": 1}, headers={"X-Stream-Token": "nope"}
        )
        assert wrong.status == 401
        statuses = [
            app.call(
                "POST",
                "/api/v1/streams/hooks",
                json={"id": i},
                headers={"Authorization": "Bearer s3cret"},
            )
            for i in range(6)
        ]
        assert statuses[0].status == 200
        limited = [r for r in statuses if r.status == 429]
        assert limited and int(limited[0].headers["Retry-After"]) >= 1, statuses
        assert app.call("POST", "/api/v1/streams/public", json={"id": 1}).status == 200


def test_publishing_needs_a_write_key_when_auth_is_on(project: ProjectFolder) -> None:
    from interlace.opening import open_state
    from interlace_http.apikeys import create_api_key

    project.write(STREAMS)
    config = (
        (project.root / "config.yaml")
        .read_text()
        .replace("enabled: false}\n  rate", "enabled: true}\n  rate")
    )
    project.write({"config.yaml": config})
    store = open_state(project.load())
    reader = create_api_key(store, "reader", ["read"]).token
    writer = create_api_key(store, "writer", ["write"]).token
    store.close()
    with served(project) as app:
        anonymous = app.call("POST", "/api/v1/streams/orders", json={"id": 1})
        assert anonymous.status == 401, anonymous
        read_only = app.call(
            "POST",
            "/api/v1/streams/orders",
            json={"id": 1},
            headers={"Authorization": f"Bearer {reader}"},
        )
        assert read_only.status == 403 and "write" in read_only.json["error"]["message"]
        ok = app.call(
            "POST", "/api/v1/streams/orders", json={"id": 1}, headers={"X-API-Key": writer}
        )
        assert ok.status == 200, ok
        assert app.call("GET", "/api/v1/streams").status == 401
        listed = app.call("GET", "/api/v1/streams", headers={"X-API-Key": reader})
        assert listed.status == 200 and len(listed.json["streams"]) == 3


def test_publish_sync_from_python_goes_through_a_running_server_or_the_log(
    project: ProjectFolder, eventually: Eventually, read_rows: ReadRows
) -> None:
    from interlace_stream import publish_sync

    project.write(STREAMS)
    # no server: the log is opened for the call; the next server commits it
    result = publish_sync(
        "orders", [{"id": 1}, {"id": 2}], project=project.root, idempotency_key="k"
    )
    assert (result.accepted, result.first_offset) == (2, 0)
    again = publish_sync(
        "orders", [{"id": 1}, {"id": 2}], project=project.root, idempotency_key="k"
    )
    assert again.duplicates == 2
    with served(project) as app:
        eventually(lambda: read_rows(project, "select count(*) from main.orders") == [(2,)])
        inside = publish_sync("orders", {"id": 3}, project=project.root)
        assert inside.first_offset == 2
        eventually(lambda: app.call("GET", "/api/v1/streams/orders").json["committed_offset"] == 3)


def test_an_adapter_whose_source_is_down_shows_unhealthy_without_stopping_the_server(
    project: ProjectFolder, eventually: Eventually
) -> None:
    from click.testing import CliRunner
    from interlace_stream.cli import stream

    project.write(STREAMS)
    config = (project.root / "config.yaml").read_text() + (
        "adapters:\n"
        "  - name: prices_api\n"
        "    type: polling\n"
        "    stream: orders\n"
        "    url: http://127.0.0.1:9/prices\n"
        "    interval: 0.2\n"
        "    backoff_initial: 0.1\n"
        "    backoff_max: 0.2\n"
    )
    project.write({"config.yaml": config})
    with served(project) as app:
        adapters = eventually(
            lambda: [
                a
                for a in app.call("GET", "/api/v1/streams/orders").json["adapters"]
                if a["state"] != "healthy" and a["last_error"]
            ]
        )
        assert adapters[0]["name"] == "prices_api"
        # the server still ingests
        assert app.call("POST", "/api/v1/streams/orders", json={"id": 1}).status == 200
        listed = CliRunner().invoke(stream, ["list", "--url", app.url], catch_exceptions=False)
        assert listed.exit_code == 0, listed.output
        assert f"prices_api {adapters[0]['state']}" in listed.output, listed.output
