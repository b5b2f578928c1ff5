"""An adapter whose broker is down retries with backoff and reports ``down`` in its health,
without raising out of ``run()``; it stops promptly when asked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from interlace_stream.adapters import build_adapter

from .support import DOWN_PORT, eventually, open_publisher, running, stream_info

DOWN: dict[str, dict[str, Any]] = {
    "amqp": {
        "type": "message_queue",
        "broker": "amqp",
        "url": f"amqp://guest:guest@127.0.0.1:{DOWN_PORT}/",
        "queue": "q",
    },
    "nats_jetstream": {
        "type": "message_queue",
        "broker": "nats_jetstream",
        "url": f"nats://127.0.0.1:{DOWN_PORT}",
        "subject": "s",
        "durable": "d",
    },
    "redis_streams": {
        "type": "message_queue",
        "broker": "redis_streams",
        "url": f"redis://127.0.0.1:{DOWN_PORT}/0",
        "key": "k",
        "group": "g",
    },
    "redis": {
        "type": "pubsub",
        "broker": "redis",
        "url": f"redis://127.0.0.1:{DOWN_PORT}/0",
        "channels": ["c"],
    },
    "mqtt": {
        "type": "pubsub",
        "broker": "mqtt",
        "url": f"mqtt://127.0.0.1:{DOWN_PORT}",
        "topics": ["t"],
        "qos": 1,
    },
    "nats": {
        "type": "pubsub",
        "broker": "nats",
        "url": f"nats://127.0.0.1:{DOWN_PORT}",
        "subjects": ["s"],
    },
    "polling": {"type": "polling", "url": f"http://127.0.0.1:{DOWN_PORT}/items"},
}


@pytest.mark.parametrize("source", sorted(DOWN))
def test_a_source_that_is_down_is_retried_and_reported_down(tmp_path: Path, source: str) -> None:
    async def scenario() -> None:
        adapter = build_adapter(
            {
                "name": f"{source}_down",
                "stream": "events",
                "backoff_initial": 0.02,
                "backoff_max": 0.1,
                **DOWN[source],
            },
            project_dir=tmp_path,
        )
        async with open_publisher(tmp_path / "logs", stream_info("events")) as publisher:
            async with running(adapter, publisher) as task:
                await eventually(
                    lambda: adapter.counters["reconnects"] >= 3,
                    what=f"three reconnect attempts ({adapter.health()})",
                )
                assert not task.done()  # run() never raises out
                health = adapter.health()
                assert health.state == "down"
                assert health.last_error
            assert task.exception() is None  # and it stopped when asked

    asyncio.run(scenario())
