"""``webhook``: receive signed webhooks at ``POST /api/v1/webhooks/{name}`` into a stream.

A sender signs the raw body with HMAC-SHA256 and a shared secret and sends the hex digest in a
header (GitHub: ``X-Hub-Signature-256: sha256=<hex>``, the default). With ``timestamp_header``
set, the signed text is ``<timestamp>.<body>`` and a request whose timestamp (Unix seconds) is
further than ``replay_window`` from now is refused, so a captured request cannot be replayed
later; ``id_header`` (e.g. GitHub's ``X-GitHub-Delivery``) de-duplicates redeliveries within the
stream's de-duplication window. The reply is 200 only after the events are durable; a sender
that sees anything else retries. The route is public: the signature is its authentication.
Example::

    adapters:
      - name: github
        type: webhook
        stream: github_events
        secret: ${GITHUB_WEBHOOK_SECRET}
        id_header: X-GitHub-Delivery

Mount the route with ``webhook_router(adapters, publisher).add_to(app)``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from typing import TYPE_CHECKING, ClassVar, Literal

from interlace_http.settings import Seconds  # noqa: TC002 (pydantic reads it at runtime)
from pydantic import BaseModel, Field, field_validator

from interlace_stream.adapters.base import (
    Adapter,
    AdapterConfig,
    Rejected,
    event_ids,
    parse_events,
)
from interlace_stream.errors import StreamError

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Iterable, Mapping

    from aiohttp import web
    from interlace_http.routing import Router

    from interlace_stream.adapters.base import Publisher

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate_env(value: str, environ: Mapping[str, str] | None = None) -> str:
    """``${VAR}`` / ``${VAR:-default}`` replaced from the environment; an unset variable without
    a default raises ValueError naming it."""
    env = os.environ if environ is None else environ

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ValueError(f"uses ${{{name}}}, which is not set: export {name}=... before starting")

    return _VAR.sub(sub, value)


def signature(secret: str, body: bytes, timestamp: str | None = None) -> str:
    """The hex HMAC-SHA256 of ``body`` (of ``<timestamp>.<body>`` when a timestamp is given).

    >>> signature("s3cret", b'{"a": 1}')[:12]
    '1a9fab6cd4b8'
    """
    message = body if timestamp is None else timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class WebhookConfig(AdapterConfig):
    """Config of an inbound ``webhook`` adapter (see the module docstring)."""

    type: Literal["webhook"] = "webhook"
    secret: str = Field(min_length=1)  # ${ENV_VAR} is read from the environment
    signature_header: str = "X-Hub-Signature-256"
    signature_prefix: str = "sha256="
    timestamp_header: str | None = None
    replay_window: Seconds = Field(default=300.0, gt=0)
    id_header: str | None = None
    id_field: str | None = None  # a field of each event that identifies it
    max_body: int = Field(default=1024 * 1024, gt=0)  # bytes

    @field_validator("secret")
    @classmethod
    def _secret_from_environment(cls, value: str) -> str:
        value = interpolate_env(value)
        if not value:
            raise ValueError("is empty (is its environment variable set to an empty value?)")
        return value


class WebhookAccepted(BaseModel):
    """What a webhook POST stored."""

    stream: str
    published: int = Field(description="Events now durable in the stream")


class WebhookAdapter(Adapter):
    """An inbound webhook endpoint (served by :func:`webhook_router`; ``run`` only reports)."""

    type_name: ClassVar[str] = "webhook"
    config_model: ClassVar[type[AdapterConfig]] = WebhookConfig
    config: WebhookConfig

    async def session(self, publisher: Publisher, stop: asyncio.Event) -> None:
        # requests arrive through the route; there is nothing to connect to
        self.mark_connected()
        await stop.wait()

    def verify(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> None:
        """Check the signature (and the timestamp's age); raise a 401 HTTPError if wrong."""
        from interlace_http.errors import HTTPError

        cfg = self.config
        timestamp = None
        if cfg.timestamp_header is not None:
            timestamp = headers.get(cfg.timestamp_header)
            if timestamp is None:
                raise HTTPError(401, f"webhook '{cfg.name}': missing {cfg.timestamp_header} header")
            try:
                sent = float(timestamp)
            except ValueError:
                raise HTTPError(
                    401, f"webhook '{cfg.name}': {cfg.timestamp_header} is not Unix seconds"
                ) from None
            age = (time.time() if now is None else now) - sent
            if abs(age) > cfg.replay_window:
                raise HTTPError(
                    401,
                    f"webhook '{cfg.name}': {cfg.timestamp_header} is {abs(age):.0f}s away from "
                    f"now, outside the replay window of {cfg.replay_window:.0f}s",
                    hint="send the current time; check the sender's clock",
                )
        given = headers.get(cfg.signature_header)
        if given is None:
            raise HTTPError(401, f"webhook '{cfg.name}': missing {cfg.signature_header} header")
        expected = cfg.signature_prefix + signature(cfg.secret, body, timestamp)
        if not hmac.compare_digest(given.strip().encode(), expected.encode()):
            raise HTTPError(
                401,
                f"webhook '{cfg.name}': the {cfg.signature_header} signature does not match",
                hint="sign the raw body with HMAC-SHA256 and the shared secret",
            )

    async def receive(self, request: web.Request, publisher: Publisher) -> WebhookAccepted:
        """Verify one request, publish its events, and say how many are now durable."""
        from interlace_http.errors import HTTPError

        cfg = self.config
        body = await _read_limited(request, cfg.max_body, cfg.name)
        try:
            self.verify(request.headers, body)
        except HTTPError:
            self.count("unauthorized")
            raise
        self.count("received")
        try:
            events = parse_events(body, where=f"webhook '{cfg.name}'")
        except Rejected as exc:
            self.reject(exc)
            raise HTTPError(400, str(exc)) from None
        delivery = request.headers.get(cfg.id_header) if cfg.id_header else None
        ids = event_ids(
            events,
            id_field=cfg.id_field,
            message_id=f"webhook:{cfg.name}:{delivery}" if delivery else None,
        )
        try:
            delivered = await self.deliver(publisher, events, ids)
        except StreamError as exc:
            self.record_error(str(exc))
            raise HTTPError(503, str(exc), hint="nothing was stored; send it again later") from None
        if not delivered:
            self.count("rejected")
            raise HTTPError(422, self._last_error or "the events do not fit the stream's schema")
        self.count("acked")
        return WebhookAccepted(stream=cfg.stream, published=len(events))


async def _read_limited(request: web.Request, limit: int, name: str) -> bytes:
    from interlace_http.errors import HTTPError

    too_large = HTTPError(413, f"webhook '{name}': the body is over {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_router(
    adapters: Iterable[Adapter] | Callable[[], Iterable[Adapter]],
    publisher: Publisher | Callable[[], Publisher],
    *,
    prefix: str = "/api/v1",
) -> Router:
    """The ``POST {prefix}/webhooks/{name}`` route of every ``webhook`` adapter in ``adapters``.
    ``adapters`` and ``publisher`` may be functions returning the current ones (a runtime that
    reloads its configuration replaces them).

    Example::

        webhook_router(build_adapters(config["adapters"]), publisher).add_to(app)
    """
    from interlace_http.errors import not_found
    from interlace_http.routing import Router

    def current() -> tuple[dict[str, WebhookAdapter], Publisher]:
        found = adapters() if callable(adapters) else adapters
        hooks = {a.name: a for a in found if isinstance(a, WebhookAdapter)}
        return hooks, publisher() if callable(publisher) else publisher

    router = Router(prefix, tags=["webhooks"])

    @router.post(
        "/webhooks/{name}",
        public=True,
        response=WebhookAccepted,
        errors=(400, 401, 404, 413, 422, 503),
    )
    async def receive_webhook(request: web.Request, name: str) -> WebhookAccepted:
        """Receive a signed webhook into its stream (200 once the events are durable).

        The body is a JSON object (one event) or an array of objects, signed with HMAC-SHA256
        (see the adapter's ``signature_header``); the route needs no API key.
        """
        hooks, target = current()
        adapter = hooks.get(name)
        if adapter is None:
            known = ", ".join(sorted(hooks)) or "none configured"
            raise not_found(f"no webhook '{name}'", hint=f"webhooks: {known}")
        return await adapter.receive(request, target)

    return router
