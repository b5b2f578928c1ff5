"""The errors of streams: each knows the HTTP status it answers with.

Adapters and the HTTP endpoint catch :class:`StreamError`; ``status`` says how to answer
(404 unknown stream, 400 unreadable body, 413 too large, 422 schema violation, 503 log not
writable). Example::

    try:
        await publisher.publish("orders", events)
    except StreamUnavailable:
        ...  # do not ack the source: nothing was stored
"""

from __future__ import annotations

from typing import Any

from interlace.errors import InterlaceError


class StreamError(InterlaceError):
    """Something a publish or a stream operation refused; ``status`` is its HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None, **kwargs: Any):
        self.details = details or {}
        super().__init__(message, **kwargs)


class UnknownStream(StreamError):
    """No stream of that name is declared in the project."""

    status = 404
    code = "not_found"


class BadPayload(StreamError):
    """The body is not JSON / NDJSON of objects (names the line or index)."""

    status = 400
    code = "bad_request"


class PayloadTooLarge(StreamError):
    status = 413
    code = "payload_too_large"


class SchemaViolation(StreamError):
    """An event does not match the stream's fields (names the field and the event's index)."""

    status = 422
    code = "validation_error"


class StreamUnavailable(StreamError):
    """The durable log cannot be written (disk full, folder not writable): nothing was stored."""

    status = 503
    code = "unavailable"


class LogLocked(StreamUnavailable):
    """Another process holds the stream's log (a running stream server)."""
