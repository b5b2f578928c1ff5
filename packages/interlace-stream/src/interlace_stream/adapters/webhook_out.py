"""``webhook_out``: deliver a stream's events to a URL, signed, with retries and backoff.

The adapter reads the stream as a named consumer (``consume`` / ``ack``: a durable cursor in the
state store), POSTs each batch (a JSON array; or one POST per event with ``per_event: true``)
and acknowledges it only after the receiver answered 2xx. A failed delivery is retried with
exponential backoff (``backoff_initial`` .. ``backoff_max``) until it succeeds, so delivery is
at-least-once and in order; the ``X-Interlace-Delivery`` header (``<stream>:<first>-<last>``
offsets, the same on every retry) lets the receiver drop a repeat. Bodies are signed like
inbound webhooks: the hex HMAC-SHA256 of the body (of ``<timestamp>.<body>`` with
``timestamp_header``) in ``signature_header``. Example::

    adapters:
      - name: notify_billing
        type: webhook_out
        stream: orders
        url: https://billing.example.com/hooks/orders
        secret: ${BILLING_HOOK_SECRET}
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
import uuid
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from interlace_http.settings import Seconds  # noqa: TC002 (pydantic reads it at runtime)
from pydantic import Field, field_validator

from interlace_stream.adapters.base import Adapter, AdapterConfig, safe_url, wait_for_stop
from interlace_stream.adapters.webhook import interpolate_env, signature

if TYPE_CHECKING:
    from interlace.project import Project

    from interlace_stream.adapters.base import Publisher
    from interlace_stream.consumers import ConsumedBatch

DELIVERY_HEADER = "X-Interlace-Delivery"
_THREAD_MODULES = (
    "interlace.opening",
    "interlace.project",
    "interlace_stream.consumers",
    "interlace_stream.declaration",
)


class WebhookOutConfig(AdapterConfig):
    """Config of a ``webhook_out`` adapter (see the module docstring)."""

    type: Literal["webhook_out"] = "webhook_out"
    url: str = Field(pattern=r"^https?://")
    secret: str | None = None  # ${ENV_VAR} is read from the environment; none: unsigned
    signature_header: str = "X-Hub-Signature-256"
    signature_prefix: str = "sha256="
    timestamp_header: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    consumer: str | None = None  # the cursor's name; defaults to "webhook_out:<name>"
    batch_size: int = Field(default=100, ge=1, le=10_000)
    per_event: bool = False  # one POST per event instead of a JSON array per batch
    interval: Seconds = Field(default=1.0, gt=0)  # how often to look for new events
    timeout: Seconds = Field(default=10.0, gt=0)  # per POST

    @field_validator("secret")
    @classmethod
    def _secret_from_environment(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = interpolate_env(value)
        if not value:
            raise ValueError("is empty (is its environment variable set to an empty value?)")
        return value


class WebhookOutAdapter(Adapter):
    """Delivers a stream's committed events to a URL (see the module docstring)."""

    type_name: ClassVar[str] = "webhook_out"
    config_model: ClassVar[type[AdapterConfig]] = WebhookOutConfig
    config: WebhookOutConfig

    @property
    def consumer(self) -> str:
        return self.config.consumer or f"webhook_out:{self.config.name}"

    def _project(self) -> Project:
        from interlace.project import Project, load_project

        if isinstance(self.project, Project):  # as the runtime loaded it (its environment)
            return self.project
        return load_project(self.project_dir)

    async def session(self, publisher: Publisher, stop: asyncio.Event) -> None:
        import aiohttp

        # load what the worker threads below use here, in the event loop's thread, not first
        # inside them (imports racing in several threads hit a CPython 3.11 ast bug)
        for module in _THREAD_MODULES:
            importlib.import_module(module)

        cfg = self.config
        project = await asyncio.to_thread(self._project)
        timeout = aiohttp.ClientTimeout(total=cfg.timeout)
        # one lease token for the session: each consume renews this adapter's own lease
        lease = uuid.uuid4().hex
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                self.mark_connected()
                await self._deliver_until_stopped(http, project, lease, stop)
        finally:
            await asyncio.to_thread(self._release, project, lease)

    def _release(self, project: Project, lease: str) -> None:
        """Give up this adapter's lease on its cursor (unacked events are read again)."""
        from interlace.opening import open_state

        store: Any = open_state(project)
        try:
            store.release_stream_cursor(project.env, self.config.stream, self.consumer, owner=lease)
        finally:
            store.close()

    async def _deliver_until_stopped(
        self, http: Any, project: Project, lease: str, stop: asyncio.Event
    ) -> None:
        from interlace_stream.consumers import ConsumerBusy, ack, consume

        cfg = self.config
        while not stop.is_set():
            try:
                batch = await asyncio.to_thread(
                    consume,
                    cfg.stream,
                    self.consumer,
                    cfg.batch_size,
                    project=project,
                    lease=lease,
                )
            except ConsumerBusy as exc:  # another process delivers under this name now
                self.record_error(str(exc))
                await wait_for_stop(stop, cfg.interval)
                continue
            if not batch.events:
                await wait_for_stop(stop, cfg.interval)
                continue
            self.count("received", len(batch.events))
            if not await self._deliver_batch(http, batch, stop, project):
                return  # stopping: the batch is delivered again (its lease is released)
            await asyncio.to_thread(ack, batch, project=project)
            self.count("acked", len(batch.events))

    async def _deliver_batch(
        self, http: Any, batch: ConsumedBatch, stop: asyncio.Event, project: Project
    ) -> bool:
        """POST the batch until the receiver takes it (True) or the adapter stops (False)."""
        from interlace_stream.consumers import DEFAULT_LEASE, consume
        from interlace_stream.declaration import OFFSET_COLUMN, SYSTEM_COLUMNS

        cfg = self.config
        bodies: list[tuple[str, Any]] = []
        for event in batch.events:
            offset = event.get(OFFSET_COLUMN)
            clean = {k: v for k, v in event.items() if k not in SYSTEM_COLUMNS}
            bodies.append((f"{cfg.stream}:{offset}", clean))
        if not cfg.per_event:
            last = batch.next_offset - 1
            bodies = [(f"{cfg.stream}:{batch.first_offset}-{last}", [body for _, body in bodies])]
        leased_at = time.monotonic()
        for delivery, body in bodies:
            failures = 0
            while True:
                error = await self._post(http, delivery, body)
                if error is None:
                    self.count("published", len(body) if isinstance(body, list) else 1)
                    self._last_event_at = time.time()
                    break
                failures += 1
                self.record_error(
                    f"POST {safe_url(cfg.url)} ({delivery}): {error}", state="degraded"
                )
                delay = min(cfg.backoff_max, cfg.backoff_initial * 2 ** min(failures - 1, 30))
                if await wait_for_stop(stop, delay):
                    return False
                if time.monotonic() - leased_at > DEFAULT_LEASE / 2:  # keep the batch ours
                    await asyncio.to_thread(
                        consume,
                        cfg.stream,
                        self.consumer,
                        cfg.batch_size,
                        project=project,
                        lease=batch.lease,
                    )
                    leased_at = time.monotonic()
            self.mark_connected()
        return True

    async def _post(self, http: Any, delivery: str, body: Any) -> str | None:
        """One POST; the reason it failed, or None when the receiver answered 2xx."""
        import aiohttp

        cfg = self.config
        data = json.dumps(body, separators=(",", ":"), default=str).encode()
        headers = {"Content-Type": "application/json", DELIVERY_HEADER: delivery, **cfg.headers}
        if cfg.secret is not None:
            stamp = str(int(time.time())) if cfg.timestamp_header else None
            if cfg.timestamp_header and stamp is not None:
                headers[cfg.timestamp_header] = stamp
            headers[cfg.signature_header] = cfg.signature_prefix + signature(
                cfg.secret, data, stamp
            )
        try:
            async with http.post(cfg.url, data=data, headers=headers) as reply:
                if 200 <= reply.status < 300:
                    return None
                text = await reply.text()
                return f"answered {reply.status}: {text[:200]}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"
