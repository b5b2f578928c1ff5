"""The ``pubsub`` adapter against the real Redis, Mosquitto and NATS: what is published while
the adapter listens lands in the stream; MQTT QoS 1 with a persistent session survives a kill -9
between publish and PUBACK (the broker redelivers, the stream keeps one copy)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from interlace_stream.adapters import build_adapter

from .support import (
    eventually,
    healthy,
    open_publisher,
    run_in_process,
    running,
    stored,
    stored_on_disk,
    stream_info,
)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_redis_pubsub_messages_reach_the_stream(tmp_path: Path, redis_url: str) -> None:
    channel = _name("interlace-news")

    async def scenario() -> None:
        import redis.asyncio as aioredis

        adapter = build_adapter(
            {
                "name": "news",
                "type": "pubsub",
                "stream": "news",
                "broker": "redis",
                "url": redis_url,
                "channels": [channel],
            }
        )
        client = aioredis.from_url(redis_url)
        async with open_publisher(tmp_path / "logs", stream_info("news")) as publisher:
            async with running(adapter, publisher):
                await healthy(adapter)
                for n in range(10):
                    await client.publish(channel, json.dumps({"n": n}))
                await client.publish(channel, json.dumps([{"n": 10}, {"n": 11}]))
                await eventually(lambda: adapter.counters["published"] == 12, what="12 events")
            events = stored(publisher, "news")
        await client.aclose()
        assert sorted(event["n"] for _, event in events) == list(range(12))

    asyncio.run(scenario())


def test_core_nats_messages_reach_the_stream(tmp_path: Path, nats_url: str) -> None:
    subject = _name("interlace.metrics").replace("-", ".")

    async def scenario() -> None:
        import nats

        adapter = build_adapter(
            {
                "name": "metrics",
                "type": "pubsub",
                "stream": "metrics",
                "broker": "nats",
                "url": nats_url,
                "subjects": [f"{subject}.>"],
                "id_field": "id",
            }
        )
        nc = await nats.connect(nats_url)
        async with open_publisher(tmp_path / "logs", stream_info("metrics")) as publisher:
            async with running(adapter, publisher):
                await healthy(adapter)
                for n in range(10):
                    await nc.publish(f"{subject}.cpu", json.dumps({"id": f"c{n}", "n": n}).encode())
                await nc.publish(f"{subject}.cpu", b"\xff not json")
                await nc.flush()
                await eventually(
                    lambda: (
                        adapter.counters["published"] == 10 and adapter.counters["rejected"] == 1
                    ),
                    what=f"10 events and one rejection ({adapter.health()})",
                )
            events = stored(publisher, "metrics")
        await nc.close()
        assert sorted(event["n"] for _, event in events) == list(range(10))
        assert {event_id for event_id, _ in events} == {f"c{n}" for n in range(10)}

    asyncio.run(scenario())


def _mqtt_config(url: str, topic: str, qos: int, client_id: str) -> dict[str, Any]:
    return {
        "name": "sensors",
        "type": "pubsub",
        "stream": "readings",
        "broker": "mqtt",
        "url": url,
        "topics": [f"{topic}/+"],
        "qos": qos,
        "client_id": client_id,
        "id_field": "reading",
    }


async def _mqtt_publish(url: str, topic: str, count: int, qos: int) -> None:
    import aiomqtt

    parts = urlsplit(url)
    async with aiomqtt.Client(parts.hostname or "127.0.0.1", parts.port or 1883) as client:
        for n in range(count):
            payload = json.dumps({"reading": f"r{n}", "n": n})
            await client.publish(f"{topic}/s1", payload, qos=qos)


def test_mqtt_qos0_messages_reach_the_stream(tmp_path: Path, mqtt_url: str) -> None:
    topic = _name("interlace/q0")

    async def scenario() -> None:
        adapter = build_adapter(_mqtt_config(mqtt_url, topic, 0, _name("interlace-q0")))
        async with open_publisher(tmp_path / "logs", stream_info("readings")) as publisher:
            async with running(adapter, publisher):
                await healthy(adapter)
                await _mqtt_publish(mqtt_url, topic, 10, qos=0)
                await eventually(lambda: adapter.counters["published"] == 10, what="10 events")
            events = stored(publisher, "readings")
        assert sorted(event["n"] for _, event in events) == list(range(10))

    asyncio.run(scenario())


def test_mqtt_qos1_kill_before_puback_redelivers_without_duplicates(
    tmp_path: Path, mqtt_url: str
) -> None:
    import aiomqtt

    topic = _name("interlace/q1")
    client_id = _name("interlace-q1")
    parts = urlsplit(mqtt_url)

    async def open_session() -> None:
        # the adapter's persistent session exists before anything is sent: the broker keeps
        # QoS 1 messages for it while it is offline
        async with aiomqtt.Client(
            parts.hostname or "127.0.0.1",
            parts.port or 1883,
            identifier=client_id,
            clean_session=False,
        ) as client:
            await client.subscribe(f"{topic}/+", qos=1)

    async def end_session() -> None:
        async with aiomqtt.Client(
            parts.hostname or "127.0.0.1",
            parts.port or 1883,
            identifier=client_id,
            clean_session=True,
        ):
            pass

    config = _mqtt_config(mqtt_url, topic, 1, client_id)
    asyncio.run(open_session())
    asyncio.run(_mqtt_publish(mqtt_url, topic, 10, qos=1))
    try:
        run_in_process(tmp_path, config, expect=10, fault="after_publish_before_ack")
        killed = stored_on_disk(tmp_path / "logs", "readings")
        assert killed
        report = run_in_process(tmp_path, config, expect=10, expect_acked=10)
    finally:
        asyncio.run(end_session())
    assert report is not None
    events = stored_on_disk(tmp_path / "logs", "readings")
    assert sorted(event["n"] for _, event in events) == list(range(10))
    assert {event_id for event_id, _ in events} == {f"r{n}" for n in range(10)}
    assert report["duplicates"] >= len(killed)
