"""Server-sent events: a ``text/event-stream`` response to write events to.

Example::

    stream = await EventStream.open(request)
    await stream.send({"run_id": "r1"}, event="run.completed", id=42)
    await stream.comment("keep-alive")
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


def last_event_id(request: web.Request, fallback: str | None = None) -> int:
    """The id a reconnecting client saw last (``Last-Event-ID``, else ``fallback`` such as a
    query parameter); 0 when none or not a number."""
    value = request.headers.get("Last-Event-ID") or fallback or ""
    try:
        return max(int(value.strip()), 0)
    except ValueError:
        return 0


def encode_event(data: Any, *, event: str | None = None, id: int | str | None = None) -> bytes:
    """The bytes of one event on the wire; ``data`` is sent as JSON unless it is a string."""
    text = data if isinstance(data, str) else json.dumps(data, default=str)
    lines = []
    if id is not None:
        lines.append(f"id: {id}")
    if event is not None:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in text.split("\n"))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


class EventStream:
    """An open event stream; see the module docstring."""

    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response

    @classmethod
    async def open(cls, request: web.Request, *, retry_ms: int = 3000) -> EventStream:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # proxies: pass each event on at once
            }
        )
        await response.prepare(request)
        stream = cls(response)
        await stream._write(f"retry: {retry_ms}\n\n")
        return stream

    async def send(
        self, data: Any, *, event: str | None = None, id: int | str | None = None
    ) -> None:
        """One event; ``data`` is sent as JSON unless it is already a string."""
        await self.send_encoded(encode_event(data, event=event, id=id))

    async def send_encoded(self, frames: bytes) -> None:
        """Events already encoded with :func:`encode_event` (one or several, concatenated): a
        server fanning one event out to many clients encodes it once."""
        await self.response.write(frames)

    async def comment(self, text: str) -> None:
        """A comment line (clients ignore it; it keeps idle connections open)."""
        await self._write(f": {text}\n\n")

    async def _write(self, text: str) -> None:
        await self.response.write(text.encode("utf-8"))
