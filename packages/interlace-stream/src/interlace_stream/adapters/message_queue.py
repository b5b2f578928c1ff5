"""``message_queue``: consume a durable queue and ack each message after it is in the stream.

Brokers: RabbitMQ (``amqp``, aio-pika), NATS JetStream (``nats_jetstream``, a durable pull
consumer) and Redis Streams (``redis_streams``, a consumer group). All three are at-least-once:
a message is acknowledged only after ``publish`` returned (the events are fsync'd), so a crash
before the ack makes the broker deliver it again, and the stream drops the copy by its id (the
``id_field`` of the event when configured, else the broker's message id: AMQP ``message_id``,
the JetStream stream sequence, the Redis entry id). Example::

    adapters:
      - name: orders_from_rabbit
        type: message_queue
        stream: orders
        broker: amqp
        url: amqp://guest:guest@127.0.0.1:5672/
        queue: orders
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from interlace_http.settings import Seconds  # noqa: TC002 (pydantic reads it at runtime)
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

    from aio_pika.abc import AbstractIncomingMessage

# which keys each broker needs
_REQUIRED: dict[str, tuple[str, ...]] = {
    "amqp": ("queue",),
    "nats_jetstream": ("subject", "durable"),
    "redis_streams": ("key", "group"),
}


class MessageQueueConfig(AdapterConfig):
    """Config of a ``message_queue`` adapter (see the module docstring for an example)."""

    type: Literal["message_queue"] = "message_queue"
    broker: Literal["amqp", "nats_jetstream", "redis_streams"]
    url: str = Field(min_length=1)
    # a field of each event that identifies it (de-duplicates redeliveries); else the broker's id
    id_field: str | None = None
    batch_size: int = Field(default=100, ge=1, le=10_000)
    # amqp
    queue: str | None = None
    prefetch: int = Field(default=200, ge=1)
    declare: bool = True  # declare the queue (durable) when missing; False: it must exist
    # nats_jetstream
    subject: str | None = None
    durable: str | None = None
    jetstream_stream: str | None = None  # the JetStream stream; found from the subject if unset
    ack_wait: Seconds = Field(default=30.0, gt=0)  # seconds before an unacked message comes again
    # redis_streams
    key: str | None = None
    group: str | None = None
    consumer: str | None = None  # this consumer's name in the group; defaults to the adapter name
    start: Literal["new", "all"] = "new"  # where a new group starts reading
    payload_field: str | None = None  # an entry field holding the event as JSON; else all fields
    claim_idle: Seconds = Field(default=60.0, gt=0)  # claim other consumers' entries idle this long

    @model_validator(mode="after")
    def _broker_keys(self) -> Self:
        missing = [key for key in _REQUIRED[self.broker] if getattr(self, key) is None]
        if missing:
            raise ValueError(f"broker '{self.broker}' needs {', '.join(repr(m) for m in missing)}")
        return self


class MessageQueueAdapter(Adapter):
    """Consumes RabbitMQ, NATS JetStream or Redis Streams, acking after durable publish."""

    type_name: ClassVar[str] = "message_queue"
    config_model: ClassVar[type[AdapterConfig]] = MessageQueueConfig
    config: MessageQueueConfig

    async def session(self, publisher: Publisher, stop: asyncio.Event) -> None:
        if self.config.broker == "amqp":
            await self._amqp(publisher, stop)
        elif self.config.broker == "nats_jetstream":
            await self._jetstream(publisher, stop)
        else:
            await self._redis_streams(publisher, stop)

    def _ids(self, events: list[dict[str, Any]], message_id: str | None) -> list[str] | None:
        return event_ids(events, id_field=self.config.id_field, message_id=message_id)

    # ------------------------------------------------------------------ RabbitMQ
    async def _amqp(self, publisher: Publisher, stop: asyncio.Event) -> None:
        import aio_pika

        cfg = self.config
        assert cfg.queue is not None
        connection = await aio_pika.connect(cfg.url, timeout=10)
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=cfg.prefetch)
            queue = await channel.declare_queue(cfg.queue, durable=True, passive=not cfg.declare)
            # at most ``prefetch`` messages: the broker sends no more until some are acked
            inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
            await queue.consume(inbox.put, no_ack=False)
            self.mark_connected()
            while not stop.is_set():
                first = await next_or_stop(inbox, stop, timeout=0.5)
                if first is None:
                    if connection.is_closed or channel.is_closed:
                        raise ConnectionError(f"connection to {safe_url(cfg.url)} closed")
                    continue
                batch = [first]
                while len(batch) < cfg.batch_size and not inbox.empty():
                    batch.append(inbox.get_nowait())
                received: list[Received[AbstractIncomingMessage]] = []
                for message in batch:
                    self.count("received")
                    try:
                        events = parse_events(
                            message.body,
                            where=f"queue '{cfg.queue}' message {message.message_id or message.delivery_tag}",
                        )
                    except Rejected as exc:
                        self.reject(exc)
                        await message.reject(requeue=False)  # to the dead-letter exchange, if any
                        continue
                    message_id = (
                        f"amqp:{cfg.queue}:{message.message_id}" if message.message_id else None
                    )
                    received.append(Received(message, events, self._ids(events, message_id)))
                good, bad = await self.deliver_messages(publisher, received)
                for message in bad:
                    await message.reject(requeue=False)
                for message in good:
                    await message.ack()
                self.count("acked", len(good))

    # ------------------------------------------------------------------ NATS JetStream
    async def _jetstream(self, publisher: Publisher, stop: asyncio.Event) -> None:
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js.api import AckPolicy, ConsumerConfig

        cfg = self.config
        assert cfg.subject is not None and cfg.durable is not None
        nc = await connect_nats(cfg.url)
        try:
            js = nc.jetstream()
            subscription = await js.pull_subscribe(
                cfg.subject,
                durable=cfg.durable,
                stream=cfg.jetstream_stream,
                config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=cfg.ack_wait),
            )
            self.mark_connected()
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(cfg.batch_size, timeout=0.5)
                except NatsTimeout:
                    if nc.is_closed or not nc.is_connected:
                        raise ConnectionError(f"connection to {safe_url(cfg.url)} closed") from None
                    continue
                received: list[Received[Any]] = []
                for message in messages:
                    self.count("received")
                    sequence = message.metadata.sequence.stream
                    try:
                        events = parse_events(
                            message.data, where=f"subject '{message.subject}' sequence {sequence}"
                        )
                    except Rejected as exc:
                        self.reject(exc)
                        await message.term()  # never redelivered
                        continue
                    message_id = f"nats:{message.metadata.stream}:{sequence}"
                    received.append(Received(message, events, self._ids(events, message_id)))
                good, bad = await self.deliver_messages(publisher, received)
                for message in bad:
                    await message.term()
                for message in good:
                    await message.ack()
                self.count("acked", len(good))
        finally:
            await nc.close()

    # ------------------------------------------------------------------ Redis Streams
    async def _redis_streams(self, publisher: Publisher, stop: asyncio.Event) -> None:
        import redis.asyncio as aioredis
        from redis.exceptions import ResponseError

        cfg = self.config
        assert cfg.key is not None and cfg.group is not None
        consumer = cfg.consumer or cfg.name
        client = aioredis.from_url(cfg.url, socket_connect_timeout=5)
        try:
            try:
                await client.xgroup_create(
                    cfg.key, cfg.group, id="$" if cfg.start == "new" else "0", mkstream=True
                )
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            self.mark_connected()
            own_pending = True  # first re-read what this consumer got but never acked
            last_claim = float("-inf")  # claim at start, then every claim_idle
            while not stop.is_set():
                entries: list[tuple[bytes, dict[bytes, bytes]]] = []
                if time.monotonic() - last_claim >= cfg.claim_idle:
                    # entries of a consumer that died before acking them
                    last_claim = time.monotonic()
                    claimed = await client.xautoclaim(
                        cfg.key,
                        cfg.group,
                        consumer,
                        min_idle_time=int(cfg.claim_idle * 1000),
                        start_id="0-0",
                        count=cfg.batch_size,
                    )
                    entries = list(claimed[1])
                if not entries and own_pending:
                    reply = await client.xreadgroup(
                        cfg.group, consumer, {cfg.key: "0"}, count=cfg.batch_size
                    )
                    entries = _entries(reply)
                    own_pending = bool(entries)
                if not entries:
                    reply = await client.xreadgroup(
                        cfg.group, consumer, {cfg.key: ">"}, count=cfg.batch_size, block=200
                    )
                    entries = _entries(reply)
                entries = [(entry_id, fields) for entry_id, fields in entries if fields is not None]
                if entries:
                    await self._redis_batch(publisher, client, entries)
        finally:
            await client.aclose()

    async def _redis_batch(
        self, publisher: Publisher, client: Any, entries: list[tuple[bytes, dict[bytes, bytes]]]
    ) -> None:
        cfg = self.config
        received: list[Received[bytes]] = []
        dropped: list[bytes] = []
        for entry_id, fields in entries:
            self.count("received")
            where = f"stream key '{cfg.key}' entry {entry_id.decode()}"
            try:
                events = self._entry_events(fields, where)
            except Rejected as exc:
                self.reject(exc)
                dropped.append(entry_id)
                continue
            message_id = f"redis:{cfg.key}:{entry_id.decode()}"
            received.append(Received(entry_id, events, self._ids(events, message_id)))
        good, bad = await self.deliver_messages(publisher, received)
        if good or bad or dropped:
            await client.xack(cfg.key, cfg.group, *good, *bad, *dropped)
        self.count("acked", len(good))

    def _entry_events(self, fields: dict[bytes, bytes], where: str) -> list[dict[str, Any]]:
        if self.config.payload_field is not None:
            payload = fields.get(self.config.payload_field.encode())
            if payload is None:
                raise Rejected(f"{where}: no field '{self.config.payload_field}'")
            return parse_events(payload, where=where)
        try:
            return [{k.decode(): v.decode() for k, v in fields.items()}]
        except UnicodeDecodeError as exc:
            raise Rejected(f"{where}: not UTF-8 ({exc})") from None


def _entries(reply: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """The entries of an XREADGROUP reply on one key."""
    return list(reply[0][1]) if reply else []
