"""Stream adapters: bring events from brokers, HTTP APIs, folders and webhooks into streams
(and deliver a stream's events to a URL: ``webhook_out``).

Each adapter is configured in YAML under ``adapters:`` and found here by its ``type:``::

    adapters:
      - name: orders_from_rabbit
        type: message_queue
        stream: orders
        broker: amqp
        url: amqp://guest:guest@127.0.0.1:5672/
        queue: orders

``build_adapters(config["adapters"], project_dir=...)`` validates the list (errors name the
adapter and the field) and returns the adapters; each one's ``run(publisher, stop)`` runs until
``stop`` is set and ``health()`` reports on it. Broker clients are imported only when an
adapter that needs them runs (install ``interlace-stream[redis]``, ``[mqtt]``, ``[nats]``,
``[amqp]`` or ``[files]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interlace.errors import ConfigError
from pydantic import ValidationError

from interlace_stream.adapters.base import Adapter, AdapterConfig, AdapterHealth, Publisher
from interlace_stream.adapters.filesystem import FilesystemAdapter
from interlace_stream.adapters.message_queue import MessageQueueAdapter
from interlace_stream.adapters.polling import PollingAdapter
from interlace_stream.adapters.pubsub import PubSubAdapter
from interlace_stream.adapters.webhook import WebhookAdapter, webhook_router
from interlace_stream.adapters.webhook_out import WebhookOutAdapter

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from interlace.project import Project

__all__ = [
    "REGISTRY",
    "Adapter",
    "AdapterConfig",
    "AdapterConfigError",
    "AdapterHealth",
    "Publisher",
    "build_adapter",
    "build_adapters",
    "webhook_router",
]

REGISTRY: dict[str, type[Adapter]] = {
    cls.type_name: cls
    for cls in (
        WebhookAdapter,
        WebhookOutAdapter,
        PollingAdapter,
        PubSubAdapter,
        MessageQueueAdapter,
        FilesystemAdapter,
    )
}


class AdapterConfigError(ConfigError):
    """An adapter's YAML is invalid: the message names the adapter and the field."""


def build_adapter(
    raw: Any,
    *,
    project_dir: Path | None = None,
    project: Project | None = None,
    file: str | None = None,
    index: int | None = None,
) -> Adapter:
    """Validate one entry of ``adapters:`` and return its adapter (not started).

    ``project_dir`` is the project's folder: relative paths resolve against it and adapters keep
    small state files (the polling cursor) under its ``.interlace/streams/adapters``; ``file``
    names the config file in errors. ``project`` (the loaded project) gives adapters that read
    streams (``webhook_out``) the caller's environment; without it they load ``project_dir``.
    """
    label = f"adapters[{index}]" if index is not None else "adapter"
    if not isinstance(raw, dict):
        raise AdapterConfigError(
            f"{label}: expected a mapping with name, type and stream, got {type(raw).__name__}",
            file=file,
        )
    name = raw.get("name")
    if isinstance(name, str) and name:
        label = f"adapter '{name}'"
    kind = raw.get("type")
    if kind not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise AdapterConfigError(
            f"{label}: unknown type {kind!r}" if kind is not None else f"{label}: no 'type'",
            file=file,
            hint=f"type is one of: {known}",
        )
    cls = REGISTRY[kind]
    try:
        config = cls.config_model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"field '{where}': {message}" if where else message)
        raise AdapterConfigError(
            f"{label} (type {kind}): " + "; ".join(problems),
            file=file,
            hint=f"see the '{kind}' adapter in the streams documentation",
        ) from None
    return cls(config, project_dir=project_dir, project=project)


def build_adapters(
    raw: Iterable[Any],
    *,
    project_dir: Path | None = None,
    project: Project | None = None,
    file: str | None = None,
) -> list[Adapter]:
    """Validate the whole ``adapters:`` list (names must be unique) and return the adapters."""
    adapters: list[Adapter] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        adapter = build_adapter(
            item, project_dir=project_dir, project=project, file=file, index=index
        )
        if adapter.name in seen:
            raise AdapterConfigError(
                f"adapters[{index}]: the name '{adapter.name}' is used twice",
                file=file,
                hint="give every adapter its own name",
            )
        seen.add(adapter.name)
        adapters.append(adapter)
    return adapters
