"""What every adapter shares: its config base, health, the reconnect loop and the publish step.

An adapter reads events from a source (a broker, an HTTP API, a folder, inbound webhooks) and
hands them to a :class:`Publisher`; it acknowledges its source only after ``publish`` returned,
that is after the events are fsync'd in the stream's durable log. When its source is
unreachable, :meth:`Adapter.run` retries with exponential backoff and reports ``down`` in
:meth:`Adapter.health`; it never raises out of ``run()``.

A subclass implements :meth:`Adapter.session`: connect, consume until ``stop`` is set, and
raise when the connection breaks (the base class then backs off and calls it again). Example::

    adapter = build_adapter({"name": "orders_in", "type": "pubsub", "stream": "orders",
                             "broker": "redis", "url": "redis://127.0.0.1:6379/0",
                             "channels": ["orders"]})
    stop = asyncio.Event()
    task = asyncio.create_task(adapter.run(publisher, stop))
    ...
    stop.set(); await task
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar
from uuid import uuid4

from interlace_http.settings import Seconds
from pydantic import BaseModel, ConfigDict, Field

from interlace_stream.errors import SchemaViolation

logger = logging.getLogger("interlace_stream.adapters")

T = TypeVar("T")
M = TypeVar("M")
HealthState = Literal["healthy", "degraded", "down"]

# Testing hook: ``INTERLACE_STREAM_FAULT=after_publish_before_ack`` (or ``after_receive``)
# kills the adapter's process with SIGKILL at that point, so reliability tests can prove that
# the source redelivers what was not acknowledged.
FAULT_ENV = "INTERLACE_STREAM_FAULT"


class Publisher(Protocol):
    """What adapters publish through: ``publish`` returns once the events are durable.

    ``ids`` (one per event) let the stream drop redeliveries it has already stored. It raises
    :class:`~interlace_stream.errors.StreamError` subclasses (``UnknownStream``,
    ``SchemaViolation``, ``StreamUnavailable``).
    """

    async def publish(
        self, stream: str, events: list[dict[str, Any]], *, ids: list[str] | None = None
    ) -> object: ...


class AdapterConfig(BaseModel):
    """The keys every adapter has (validated from YAML, unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    type: str
    stream: str = Field(min_length=1)
    # reconnect backoff: the first wait, doubled after each failure up to ``backoff_max``
    backoff_initial: Seconds = Field(default=0.5, gt=0)
    backoff_max: Seconds = Field(default=30.0, gt=0)


@dataclass(frozen=True)
class AdapterHealth:
    """A snapshot of an adapter: ``state`` is healthy, degraded (working but the last attempt
    failed, or still connecting) or down (its source is unreachable; it keeps retrying)."""

    name: str
    type: str
    stream: str
    state: HealthState
    last_error: str | None
    last_error_at: float | None
    last_event_at: float | None
    counters: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The snapshot as JSON-ready values (times as Unix seconds)."""
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "state": self.state,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "last_event_at": self.last_event_at,
            "counters": dict(self.counters),
        }


class Rejected(Exception):
    """A message that can never be published (not JSON, not an object): the adapter drops it
    from its source (dead-letters it where the broker can) instead of retrying it forever."""


# the distribution extra that brings each broker client an adapter imports when it runs
CLIENT_EXTRAS = {
    "watchfiles": "files",
    "redis": "redis",
    "aiomqtt": "mqtt",
    "nats": "nats",
    "aio_pika": "amqp",
}


def _describe(exc: Exception) -> str:
    """What an adapter's health says of a failed session: the error, and for a broker client
    that is not installed, what to install (it stays down until then)."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        extra = CLIENT_EXTRAS.get(exc.name.partition(".")[0])
        if extra is not None:
            return (
                f"the client library '{exc.name}' is not installed: "
                f"pip install 'interlace-stream[{extra}]'"
            )
    return f"{type(exc).__name__}: {exc}".strip()


def fault_point(name: str) -> None:
    """Kill this process with SIGKILL when ``INTERLACE_STREAM_FAULT`` names this point."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def parse_events(payload: bytes | str, *, where: str) -> list[dict[str, Any]]:
    """The events in a message: a JSON object is one event, a JSON array several.

    Raises :class:`Rejected` (naming ``where``) for anything else.
    """
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected(f"{where}: not JSON ({exc})") from None
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise Rejected(f"{where}: expected a JSON object or an array of objects")


@dataclass
class Received(Generic[M]):
    """One message of a source: the source's handle (to ack it), its events and their ids."""

    message: M
    events: list[dict[str, Any]]
    ids: list[str] | None


def event_ids(
    events: list[dict[str, Any]], *, id_field: str | None, message_id: str | None
) -> list[str] | None:
    """One de-duplication id per event: the ``id_field`` of each event when configured, else
    the source's message id (suffixed ``:<index>`` when one message holds several events), else
    None (the stream cannot tell a redelivery from a new event; with ``id_field``, an event
    without it gets a fresh id).

    >>> event_ids([{"id": 7}, {"n": 1}], id_field="id", message_id="amqp:q:m1")
    ['7', 'amqp:q:m1:1']
    >>> event_ids([{"n": 1}, {"n": 2}], id_field=None, message_id="redis:k:1-0")
    ['redis:k:1-0:0', 'redis:k:1-0:1']
    """
    if id_field is not None:
        ids = []
        for index, event in enumerate(events):
            value = event.get(id_field)
            if value is None or value == "":
                if message_id is None:  # this event cannot be recognised if it comes again
                    value = uuid4().hex
                else:
                    value = message_id if len(events) == 1 else f"{message_id}:{index}"
            ids.append(str(value))
        return ids
    if message_id is None:
        return None
    if len(events) == 1:
        return [message_id]
    return [f"{message_id}:{index}" for index in range(len(events))]


def safe_url(url: object) -> str:
    """``url`` fit for logs and health: no password, no query string (it may hold a token).

    >>> safe_url("amqp://guest:secret@rabbit:5672/vhost?heartbeat=10")
    'amqp://guest:***@rabbit:5672/vhost'
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(str(url))
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


async def wait_for_stop(stop: asyncio.Event, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``stop``; True when it is set."""
    try:
        await asyncio.wait_for(stop.wait(), timeout)
    except TimeoutError:
        return False
    return True


async def next_or_stop(
    queue: asyncio.Queue[T], stop: asyncio.Event, timeout: float | None = None
) -> T | None:
    """The next item of ``queue``, or None when ``stop`` is set (or ``timeout`` passed)."""
    if not queue.empty():
        return queue.get_nowait()
    getter = asyncio.ensure_future(queue.get())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait(
            {getter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        stopper.cancel()
        if not getter.done():
            getter.cancel()
    if getter in done:
        return getter.result()
    if getter.done() and not getter.cancelled():  # finished while we were cancelling
        return getter.result()
    return None


class Adapter(ABC):
    """Base class of adapters: a validated ``config``, health bookkeeping and ``run()``."""

    type_name: ClassVar[str]
    config_model: ClassVar[type[AdapterConfig]]

    def __init__(
        self, config: AdapterConfig, *, project_dir: Path | None = None, project: Any = None
    ) -> None:
        self.config = config
        # the loaded project (its environment) when the caller has it; adapters that read the
        # project's streams (webhook_out) load it from ``project_dir`` otherwise
        self.project = project
        # relative paths of the config resolve against the project's folder
        if project_dir is None:
            project_dir = project.root if project is not None else Path.cwd()
        self.project_dir: Path = project_dir
        self._state: HealthState = "down"
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._last_event_at: float | None = None
        self._failures = 0
        self.counters: dict[str, int] = {
            "received": 0,
            "published": 0,
            "acked": 0,
            "rejected": 0,
            "reconnects": 0,
        }

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def state_dir(self) -> Path:
        """Where this project's adapters keep small state files (a polling cursor)."""
        return self.project_dir / ".interlace" / "streams" / "adapters"

    def read_state(self, path: Path, remedy: str) -> Any:
        """The JSON of a state file of this adapter; None before it was first written. A file
        that is not JSON is an error naming it, the adapter and ``remedy``."""
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise ValueError(
                f"adapter '{self.config.name}': its state file '{path}' is not JSON ({exc}); "
                f"{remedy}"
            ) from None

    def write_state(self, path: Path, value: Any) -> None:
        """Write a state file atomically: a temporary file, fsync, rename, fsync the folder (a
        crash leaves the old file or the new, whole)."""
        folder = path.parent
        folder.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(value, handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    # ------------------------------------------------------------------ health
    def health(self) -> AdapterHealth:
        """The adapter's state, last error, last event time and counters."""
        return AdapterHealth(
            name=self.config.name,
            type=self.type_name,
            stream=self.config.stream,
            state=self._state,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            last_event_at=self._last_event_at,
            counters=dict(self.counters),
        )

    def mark_connected(self) -> None:
        """The source is reachable: healthy again, and the backoff starts over."""
        self._state = "healthy"
        self._failures = 0

    def record_error(self, message: str, *, state: HealthState = "degraded") -> None:
        self._last_error = message
        self._last_error_at = time.time()
        self._state = state
        logger.warning("adapter '%s': %s", self.config.name, message)

    def count(self, counter: str, n: int = 1) -> None:
        self.counters[counter] = self.counters.get(counter, 0) + n

    # ------------------------------------------------------------------ publishing
    async def deliver(
        self, publisher: Publisher, events: list[dict[str, Any]], ids: list[str] | None
    ) -> bool:
        """Publish ``events`` (durable when it returns True): the caller acks its source after.

        A schema violation returns False (the caller drops or dead-letters the message: it can
        never succeed); any other error propagates, so the session reconnects and the source
        redelivers.
        """
        fault_point("after_receive")
        try:
            await publisher.publish(self.config.stream, events, ids=ids)
        except SchemaViolation as exc:
            self.record_error(str(exc), state=self._state)
            return False
        self.count("published", len(events))
        self._last_event_at = time.time()
        fault_point("after_publish_before_ack")
        return True

    async def deliver_messages(
        self, publisher: Publisher, received: list[Received[M]]
    ) -> tuple[list[M], list[M]]:
        """Publish the events of several messages at once (one fsync); returns the messages to
        ack and those to drop. When the batch violates the schema, each message is published
        on its own so only the bad ones are dropped."""
        if not received:
            return [], []
        events: list[dict[str, Any]] = []
        ids: list[str] = []
        any_id = False
        for item in received:
            events.extend(item.events)
            if item.ids is None:  # no stable id: a fresh one (such events are never de-duplicated)
                ids.extend(uuid4().hex for _ in item.events)
            else:
                ids.extend(item.ids)
                any_id = True
        if await self.deliver(publisher, events, ids if any_id else None):
            return [item.message for item in received], []
        good: list[M] = []
        bad: list[M] = []
        for item in received:
            if len(received) > 1 and await self.deliver(publisher, item.events, item.ids):
                good.append(item.message)
            else:
                bad.append(item.message)
                self.count("rejected")
        return good, bad

    def reject(self, exc: Rejected) -> None:
        """Count a message that can never be published."""
        self.count("rejected")
        self.record_error(str(exc), state=self._state)

    # ------------------------------------------------------------------ the loop
    @abstractmethod
    async def session(self, publisher: Publisher, stop: asyncio.Event) -> None:
        """Connect and consume until ``stop`` is set; raise when the source fails."""

    async def run(self, publisher: Publisher, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, reconnecting with exponential backoff; never raises
        (except on cancellation)."""
        while not stop.is_set():
            try:
                await self.session(publisher, stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the source failed: report, back off, reconnect
                self._failures += 1
                self.count("reconnects")
                self.record_error(_describe(exc), state="down")
                delay = min(
                    self.config.backoff_max,
                    self.config.backoff_initial * 2 ** min(self._failures - 1, 30),
                )
                await wait_for_stop(stop, delay * random.uniform(0.8, 1.2))
            else:
                if not stop.is_set():  # the session ended by itself: start it again
                    await wait_for_stop(stop, self.config.backoff_initial)
