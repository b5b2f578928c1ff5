"""interlace-stream: durable event streams for Interlace.

Declare a stream with :func:`stream` (or ``streams:`` in config), publish with
:func:`publish` / :func:`publish_sync` or ``POST /api/v1/streams/{name}``, read with
:func:`consume` / :func:`ack`, or let models depend on it. See docs/streams.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from interlace_stream.consumers import ack, consume
    from interlace_stream.declaration import stream
    from interlace_stream.publishing import publish, publish_sync

_LAZY = {
    "stream": "interlace_stream.declaration",
    "publish": "interlace_stream.publishing",
    "publish_sync": "interlace_stream.publishing",
    "consume": "interlace_stream.consumers",
    "ack": "interlace_stream.consumers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'interlace_stream' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = ["__version__", "ack", "consume", "publish", "publish_sync", "stream"]
