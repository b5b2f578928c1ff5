"""``pubsub``: subscribe to Redis pub/sub channels, MQTT topics or core NATS subjects.

Delivery guarantees:

- Redis pub/sub (``broker: redis``), core NATS (``broker: nats``) and MQTT at QoS 0 are
  **at-most-once**: the broker never redelivers, so a message that arrives while the adapter is
  stopped, disconnected or failing to publish is lost. Use ``message_queue`` when that matters.
- MQTT at QoS 1 (``qos: 1``) uses a persistent session (a fixed client id and
  ``clean_session: false``) and acknowledges each message (PUBACK) only after ``publish``
  returned: the broker redelivers unacknowledged messages after a reconnect, so delivery is
  **at-least-once**, de-duplicated by ``id_field`` (MQTT 3.1.1 messages carry no stable id of
  their own). Example::

    adapters:
      - name: sensors
        type: pubsub
        stream: readings
        broker: mqtt
        url: mqtt://127.0.0.1:1883
        topics: ["sensors/+/reading"]
        qos: 1
        id_field: reading_id
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, model_validator

from interlace_stream.adapters.base import (
    Adapter,
    AdapterConfig,
    Publisher,
    Received,
    Rejected,
    event_ids,
    next_or_stop,
    parse_events,
    safe_url,
)
from interlace_stream.adapters.nats_client import connect as connect_nats

if TYPE_CHECKING:
    from typing import Self

    from nats.aio.msg import Msg


class PubSubConfig(AdapterConfig):
    """Config of a ``pubsub`` adapter (see the module docstring)."""

    type: Literal["pubsub"] = "pubsub"
    broker: Literal["redis", "mqtt", "nats"]
    url: str = Field(min_length=1)
    id_field: str | None = None  # a field of each event that identifies it
    batch_size: int = Field(default=100, ge=1, le=10_000)
    # redis: channels and/or glob patterns
    channels: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    # mqtt
    topics: list[str] = Field(default_factory=list)
    qos: Literal[0, 1] = 0
    client_id: str | None = None  # defaults to "interlace-<adapter name>"
    # nats
    subjects: list[str] = Field(default_factory=list)
    queue_group: str | None = None  # share the subjects' messages among several adapters

    @model_validator(mode="after")
    def _broker_keys(self) -> Self:
        if self.broker == "redis" and not (self.channels or self.patterns):
            raise ValueError("broker 'redis' needs 'channels' or 'patterns'")
        if self.broker == "mqtt" and not self.topics:
            raise ValueError("broker 'mqtt' needs 'topics'")
        if self.broker == "nats" and not self.subjects:
            raise ValueError("broker 'nats' needs 'subjects'")
        return self


class PubSubAdapter(Adapter):
    """Subscribes to Redis pub/sub, MQTT or core NATS and publishes what arrives."""

    type_name: ClassVar[str] = "pubsub"
    config_model: ClassVar[type[AdapterConfig]] = PubSubConfig
    config: PubSubConfig

    async def session(self, publisher: Publisher, stop: asyncio.Event) -> None:
        if self.config.broker == "redis":
            await self._redis(publisher, stop)
        elif self.config.broker == "mqtt":
            await self._mqtt(publisher, stop)
        else:
            await self._nats(publisher, stop)

    def _received(self, message: Any, payload: bytes, where: str) -> Received[Any] | None:
        self.count("received")
        try:
            events = parse_events(payload, where=where)
        except Rejected as exc:
            self.reject(exc)
            return None
        ids = event_ids(events, id_field=self.config.id_field, message_id=None)
        return Received(message, events, ids)

    # ------------------------------------------------------------------ Redis pub/sub
    async def _redis(self, publisher: Publisher, stop: asyncio.Event) -> None:
        import redis.asyncio as aioredis

        cfg = self.config
        client = aioredis.from_url(cfg.url, socket_connect_timeout=5)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            if cfg.channels:
                await pubsub.subscribe(*cfg.channels)
            if cfg.patterns:
                await pubsub.psubscribe(*cfg.patterns)
            self.mark_connected()
            while not stop.is_set():
                message = await pubsub.get_message(timeout=0.2)
                batch: list[Received[Any]] = []
                while message is not None:
                    where = f"channel '{message['channel'].decode(errors='replace')}'"
                    item = self._received(message, message["data"], where)
                    if item is not None:
                        batch.append(item)
                    if len(batch) >= cfg.batch_size:
                        break
                    message = await pubsub.get_message(timeout=0)
                if batch:
                    await self.deliver_messages(publisher, batch)
        finally:
            await pubsub.aclose()
            await client.aclose()

    # ------------------------------------------------------------------ MQTT
    async def _mqtt(self, publisher: Publisher, stop: asyncio.Event) -> None:
        import aiomqtt

        cfg = self.config
        parts = urlsplit(cfg.url)
        tls = parts.scheme in ("mqtts", "ssl")
        persistent = cfg.qos >= 1
        client = aiomqtt.Client(
            parts.hostname or "127.0.0.1",
            parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            identifier=cfg.client_id or f"interlace-{cfg.name}",
            clean_session=not persistent,
            tls_params=aiomqtt.TLSParameters() if tls else None,
            timeout=10,
            # memory stays bounded: at QoS 0 what does not fit is dropped (at-most-once); at
            # QoS 1 the broker sends no more than its in-flight window until we acknowledge
            max_queued_incoming_messages=None if persistent else cfg.batch_size * 10,
        )
        if persistent:
            # PUBACK only after publish returned (aiomqtt does not expose this option itself)
            client._client.manual_ack_set(True)
        async with client:
            for topic in cfg.topics:
                await client.subscribe(topic, qos=cfg.qos)
            self.mark_connected()
            inbox: asyncio.Queue[aiomqtt.Message] = asyncio.Queue(maxsize=cfg.batch_size * 10)

            async def pump() -> None:
                async for message in client.messages:
                    await inbox.put(message)

            reader = asyncio.create_task(pump())
            try:
                while not stop.is_set():
                    first = await next_or_stop(inbox, stop, timeout=0.5)
                    if first is None:
                        if reader.done():
                            reader.result()  # raises the broker's error
                            raise ConnectionError(f"MQTT connection to {safe_url(cfg.url)} ended")
                        continue
                    messages = [first]
                    while len(messages) < cfg.batch_size and not inbox.empty():
                        messages.append(inbox.get_nowait())
                    batch = []
                    for message in messages:
                        raw = message.payload
                        payload = (
                            bytes(raw) if isinstance(raw, bytes | bytearray) else str(raw).encode()
                        )
                        item = self._received(message, payload, f"topic '{message.topic}'")
                        if item is not None:
                            batch.append(item)
                    good, _ = await self.deliver_messages(publisher, batch)
                    if persistent:
                        for message in messages:  # rejected ones too: they can never succeed
                            client._client.ack(message.mid, message.qos)
                        self.count("acked", len(good))
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader

    # ------------------------------------------------------------------ core NATS
    async def _nats(self, publisher: Publisher, stop: asyncio.Event) -> None:

        cfg = self.config
        nc = await connect_nats(cfg.url)
        try:
            # bounded: when full, nats-py's own pending limits apply (a slow consumer drops)
            inbox: asyncio.Queue[Msg] = asyncio.Queue(maxsize=cfg.batch_size * 10)

            async def on_message(message: Msg) -> None:
                await inbox.put(message)

            for subject in cfg.subjects:
                await nc.subscribe(subject, queue=cfg.queue_group or "", cb=on_message)
            await nc.flush()
            self.mark_connected()
            while not stop.is_set():
                first = await next_or_stop(inbox, stop, timeout=0.5)
                if first is None:
                    if nc.is_closed or not nc.is_connected:
                        raise ConnectionError(f"NATS connection to {safe_url(cfg.url)} closed")
                    continue
                messages = [first]
                while len(messages) < cfg.batch_size and not inbox.empty():
                    messages.append(inbox.get_nowait())
                batch = []
                for message in messages:
                    item = self._received(message, message.data, f"subject '{message.subject}'")
                    if item is not None:
                        batch.append(item)
                await self.deliver_messages(publisher, batch)
        finally:
            await nc.close()
