"""The ``message_queue`` adapter against the real RabbitMQ, NATS JetStream and Redis: messages
are acked only after they are durable in the stream; a kill -9 between publish and ack makes the
broker redeliver and the stream keeps one copy of each event."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
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


# ---------------------------------------------------------------------------- RabbitMQ
async def _amqp_publish(url: str, queue: str, bodies: Sequence[tuple[bytes, str | None]]) -> None:
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        for body, message_id in bodies:
            await channel.default_exchange.publish(
                aio_pika.Message(body, message_id=message_id), routing_key=queue
            )


async def _amqp_queue_depth(url: str, queue: str, *, delete: bool = False) -> int:
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count or 0
        if delete:
            await channel.queue_delete(queue)
        return count


def test_amqp_messages_are_acked_after_publish_and_bad_ones_rejected(
    tmp_path: Path, amqp_url: str
) -> None:
    queue = _name("interlace-orders")

    async def scenario() -> None:
        await _amqp_publish(
            amqp_url,
            queue,
            [(json.dumps({"n": n}).encode(), f"m{n}") for n in range(30)]
            + [(b"this is not json", "bad")],
        )
        adapter = build_adapter(
            {
                "name": "orders_from_rabbit",
                "type": "message_queue",
                "stream": "orders",
                "broker": "amqp",
                "url": amqp_url,
                "queue": queue,
                "prefetch": 10,
            }
        )
        async with open_publisher(tmp_path / "logs", stream_info("orders")) as publisher:
            async with running(adapter, publisher):
                await eventually(
                    lambda: adapter.counters["acked"] == 30 and adapter.counters["rejected"] == 1,
                    what=f"30 acks and 1 rejection ({adapter.health()})",
                )
            events = stored(publisher, "orders")
        assert sorted(event["n"] for _, event in events) == list(range(30))
        assert {event_id for event_id, _ in events} == {f"amqp:{queue}:m{n}" for n in range(30)}
        health = adapter.health()
        assert health.state == "healthy"
        assert "not JSON" in (health.last_error or "")
        assert health.last_event_at is not None
        # nothing is left in the queue: the good ones were acked, the bad one rejected
        assert await _amqp_queue_depth(amqp_url, queue, delete=True) == 0

    asyncio.run(scenario())


def test_amqp_kill_between_publish_and_ack_redelivers_without_duplicates(
    tmp_path: Path, amqp_url: str
) -> None:
    queue = _name("interlace-kill")
    config = {
        "name": "rabbit",
        "type": "message_queue",
        "stream": "orders",
        "broker": "amqp",
        "url": amqp_url,
        "queue": queue,
    }
    asyncio.run(
        _amqp_publish(
            amqp_url, queue, [(json.dumps({"n": n}).encode(), f"m{n}") for n in range(20)]
        )
    )
    run_in_process(tmp_path, config, expect=20, fault="after_publish_before_ack")
    killed = stored_on_disk(tmp_path / "logs", "orders")
    assert killed, "the killed adapter published nothing before dying"
    report = run_in_process(tmp_path, config, expect=20, expect_acked=20)
    assert report is not None
    events = stored_on_disk(tmp_path / "logs", "orders")
    assert sorted(event["n"] for _, event in events) == list(range(20))  # none lost, none twice
    assert report["duplicates"] >= len(killed)  # the broker redelivered what was not acked
    assert asyncio.run(_amqp_queue_depth(amqp_url, queue, delete=True)) == 0


# ---------------------------------------------------------------------------- NATS JetStream
async def _jetstream(url: str, js_stream: str, subject: str, payloads: list[bytes]) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=js_stream, subjects=[subject])
        for payload in payloads:
            await js.publish(subject, payload)
    finally:
        await nc.close()


async def _jetstream_pending(url: str, js_stream: str, durable: str, *, delete: bool) -> int:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.consumer_info(js_stream, durable)
        left = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        if delete:
            await js.delete_stream(js_stream)
        return left
    finally:
        await nc.close()


def _jetstream_config(url: str, js_stream: str, subject: str) -> dict[str, Any]:
    return {
        "name": "clicks_from_nats",
        "type": "message_queue",
        "stream": "clicks",
        "broker": "nats_jetstream",
        "url": url,
        "subject": subject,
        "durable": "interlace",
        "jetstream_stream": js_stream,
        "ack_wait": "1s",
    }


def test_jetstream_messages_are_acked_after_publish(tmp_path: Path, nats_url: str) -> None:
    js_stream = _name("INTERLACE").replace("-", "_")
    subject = f"{js_stream}.clicks"

    async def scenario() -> None:
        await _jetstream(
            nats_url, js_stream, subject, [json.dumps({"n": n}).encode() for n in range(25)]
        )
        adapter = build_adapter(_jetstream_config(nats_url, js_stream, subject))
        async with open_publisher(tmp_path / "logs", stream_info("clicks")) as publisher:
            async with running(adapter, publisher):
                await eventually(lambda: adapter.counters["acked"] == 25, what="25 acks")
            events = stored(publisher, "clicks")
        assert sorted(event["n"] for _, event in events) == list(range(25))
        assert {event_id for event_id, _ in events} == {
            f"nats:{js_stream}:{seq}" for seq in range(1, 26)
        }

        async def drained() -> bool:
            return await _jetstream_pending(nats_url, js_stream, "interlace", delete=False) == 0

        await eventually(drained, what="every message acked")
        await _jetstream_pending(nats_url, js_stream, "interlace", delete=True)

    asyncio.run(scenario())


def test_jetstream_kill_between_publish_and_ack_redelivers_without_duplicates(
    tmp_path: Path, nats_url: str
) -> None:
    js_stream = _name("INTERLACE").replace("-", "_")
    subject = f"{js_stream}.clicks"
    config = _jetstream_config(nats_url, js_stream, subject)
    asyncio.run(
        _jetstream(nats_url, js_stream, subject, [json.dumps({"n": n}).encode() for n in range(15)])
    )
    run_in_process(tmp_path, config, expect=15, fault="after_publish_before_ack")
    killed = stored_on_disk(tmp_path / "logs", "clicks")
    assert killed
    report = run_in_process(tmp_path, config, expect=15, expect_acked=15)
    assert report is not None
    events = stored_on_disk(tmp_path / "logs", "clicks")
    assert sorted(event["n"] for _, event in events) == list(range(15))
    assert report["duplicates"] >= len(killed)
    assert asyncio.run(_jetstream_pending(nats_url, js_stream, "interlace", delete=True)) == 0


# ---------------------------------------------------------------------------- Redis Streams
async def _xadd(url: str, key: str, entries: list[dict[str, str]]) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        for fields in entries:
            await client.xadd(key, fields)  # type: ignore[arg-type]
    finally:
        await client.aclose()


async def _xpending_and_delete(url: str, key: str, group: str) -> int:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        pending = await client.xpending(key, group)
        await client.delete(key)
        return int(pending["pending"])
    finally:
        await client.aclose()


def _redis_streams_config(url: str, key: str, consumer: str) -> dict[str, Any]:
    return {
        "name": "payments_from_redis",
        "type": "message_queue",
        "stream": "payments",
        "broker": "redis_streams",
        "url": url,
        "key": key,
        "group": "interlace",
        "consumer": consumer,
        "start": "all",
        "claim_idle": 0.2,
    }


def test_redis_streams_entries_are_acked_after_publish(tmp_path: Path, redis_url: str) -> None:
    key = _name("interlace:payments")

    async def scenario() -> None:
        await _xadd(redis_url, key, [{"id": f"p{n}", "amount": str(n)} for n in range(40)])
        adapter = build_adapter({**_redis_streams_config(redis_url, key, "a"), "id_field": "id"})
        async with open_publisher(tmp_path / "logs", stream_info("payments")) as publisher:
            async with running(adapter, publisher):
                await healthy(adapter)
                await eventually(lambda: adapter.counters["acked"] == 40, what="40 acks")
            events = stored(publisher, "payments")
        assert sorted(int(event["amount"]) for _, event in events) == list(range(40))
        assert {event_id for event_id, _ in events} == {f"p{n}" for n in range(40)}
        assert await _xpending_and_delete(redis_url, key, "interlace") == 0

    asyncio.run(scenario())


def test_redis_streams_kill_before_ack_is_claimed_by_another_consumer(
    tmp_path: Path, redis_url: str
) -> None:
    key = _name("interlace:kill")
    asyncio.run(_xadd(redis_url, key, [{"n": str(n)} for n in range(12)]))
    run_in_process(
        tmp_path,
        _redis_streams_config(redis_url, key, "dies"),
        expect=12,
        fault="after_publish_before_ack",
    )
    killed = stored_on_disk(tmp_path / "logs", "payments")
    assert killed
    # another consumer takes over the dead one's pending entries with XAUTOCLAIM
    report = run_in_process(
        tmp_path, _redis_streams_config(redis_url, key, "takes-over"), expect=12, expect_acked=12
    )
    assert report is not None
    events = stored_on_disk(tmp_path / "logs", "payments")
    assert sorted(int(event["n"]) for _, event in events) == list(range(12))
    assert report["duplicates"] >= len(killed)
    assert asyncio.run(_xpending_and_delete(redis_url, key, "interlace")) == 0


def test_amqp_messages_wait_in_the_queue_while_the_log_cannot_be_written(
    tmp_path: Path, amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = _name("interlace-full")

    async def scenario() -> None:
        await _amqp_publish(
            amqp_url, queue, [(json.dumps({"n": n}).encode(), f"m{n}") for n in range(5)]
        )
        adapter = build_adapter(
            {
                "name": "rabbit",
                "type": "message_queue",
                "stream": "orders",
                "broker": "amqp",
                "url": amqp_url,
                "queue": queue,
                "backoff_initial": 0.02,
                "backoff_max": 0.1,
            }
        )
        monkeypatch.setenv("INTERLACE_STREAM_LOG_FAULT", "enospc")  # the disk is full
        async with open_publisher(tmp_path / "logs", stream_info("orders")) as publisher:
            async with running(adapter, publisher):
                await eventually(lambda: adapter.counters["reconnects"] >= 2)
                health = adapter.health()
                assert health.state == "down"
                assert "cannot be written" in (health.last_error or "")
                assert adapter.counters["acked"] == 0
                monkeypatch.delenv("INTERLACE_STREAM_LOG_FAULT")  # space again
                await eventually(lambda: adapter.counters["acked"] == 5, what="the 5 messages")
                assert adapter.health().state == "healthy"
            events = stored(publisher, "orders")
        assert sorted(event["n"] for _, event in events) == list(range(5))
        assert await _amqp_queue_depth(amqp_url, queue, delete=True) == 0

    asyncio.run(scenario())


def test_redis_streams_consumer_rereads_its_own_unacked_entries_on_start(
    tmp_path: Path, redis_url: str
) -> None:
    import redis.asyncio as aioredis

    key = _name("interlace:pending")

    async def scenario() -> None:
        await _xadd(redis_url, key, [{"n": str(n)} for n in range(6)])
        client = aioredis.from_url(redis_url)
        try:
            # consumer "a" received every entry and died before acknowledging any
            await client.xgroup_create(key, "interlace", id="0")
            await client.xreadgroup("interlace", "a", {key: ">"}, count=10)
        finally:
            await client.aclose()
        config = {**_redis_streams_config(redis_url, key, "a"), "claim_idle": 3600}
        adapter = build_adapter(config)
        async with open_publisher(tmp_path / "logs", stream_info("payments")) as publisher:
            async with running(adapter, publisher):
                await eventually(lambda: adapter.counters["acked"] == 6, what="6 acks")
            events = stored(publisher, "payments")
        assert sorted(int(event["n"]) for _, event in events) == list(range(6))
        assert await _xpending_and_delete(redis_url, key, "interlace") == 0

    asyncio.run(scenario())
