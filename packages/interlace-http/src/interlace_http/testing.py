"""Testing helpers: serve an aiohttp app on a loopback port from a background thread and call it
from plain synchronous test code (no event loop in the test).

Example::

    with ServedApp(app) as served:
        reply = served.call("POST", "/api/v1/runs", json={"select": ["orders"]})
        assert reply.status == 202, reply
        for event in served.events("/api/v1/events?run_id=" + reply.json["id"], until="run.completed"):
            ...
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web

from interlace_http.sse_reader import read_blocks

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from types import TracebackType


@dataclass
class Reply:
    """One HTTP response: status, headers, body (text and, when it is JSON, parsed)."""

    status: int
    headers: Mapping[str, str]
    text: str
    json: Any = None

    def __repr__(self) -> str:
        return f"HTTP {self.status}\n{self.text[:2000]}"


@dataclass
class SentEvent:
    """One server-sent event as a client receives it."""

    event: str | None
    id: str | None
    data: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return jsonlib.loads(self.data)


class ServedApp:
    """``app`` served on ``127.0.0.1`` (a free port) by a thread of its own."""

    def __init__(self, app: web.Application, *, shutdown_timeout: float = 5.0) -> None:
        self.app = app
        self.shutdown_timeout = shutdown_timeout
        self.loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=60)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, shutdown_timeout=self.shutdown_timeout)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(timeout=60)
            self._runner = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ calling it

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> Reply:
        """One request; a 4xx/5xx is returned like any other reply, never raised."""
        body: bytes | None = None
        sent = dict(headers or {})
        if json is not None:
            body = jsonlib.dumps(json).encode()
            sent.setdefault("Content-Type", "application/json")
        elif data is not None:
            body = data.encode() if isinstance(data, str) else data
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return _reply(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return _reply(error.code, dict(error.headers), error.read())

    def events(
        self,
        path: str,
        *,
        until: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 120,
        limit: int | None = None,
    ) -> Iterator[SentEvent]:
        """Read the event stream at ``path``: yield events until one of type ``until`` (which is
        yielded too), ``limit`` events, or ``timeout`` seconds without an end."""
        request = urllib.request.Request(self.url + path, headers=dict(headers or {}))
        deadline = time.monotonic() + timeout
        count = 0
        with urllib.request.urlopen(request, timeout=timeout) as response:

            def lines() -> Iterator[bytes]:
                while time.monotonic() < deadline:
                    raw: bytes = response.readline()
                    if not raw:
                        return
                    yield raw
                raise TimeoutError(f"no {until or 'end of the stream'} within {timeout} s")

            for block in read_blocks(lines()):
                if block.data is None:
                    continue
                fields = block.fields
                event = SentEvent(fields.get("event"), fields.get("id"), block.data, fields)
                yield event
                count += 1
                if (until is not None and event.event == until) or count == limit:
                    return


def _reply(status: int, headers: dict[str, str], raw: bytes) -> Reply:
    text = raw.decode("utf-8", errors="replace")
    parsed = None
    if "json" in headers.get("Content-Type", ""):
        try:
            parsed = jsonlib.loads(text)
        except ValueError:
            parsed = None
    return Reply(status, headers, text, parsed)
