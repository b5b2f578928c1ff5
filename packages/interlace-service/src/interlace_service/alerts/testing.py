"""Testing helpers for alerts: an HTTP receiver on loopback that records what it is sent (and
can be told to fail first), an SMTP server (aiosmtpd, a test dependency) that keeps the mail,
and a project whose ``fragile`` model fails on demand.

Example::

    receiver = Receiver(fail_first=2).start()       # answers 500, 500, then 200
    section = (
        f"channels: {{ops: {{type: webhook, url: '{receiver.url}/hook'}}}}\n"
        "rules: [{events: [run_failed], channels: [ops]}]"
    )
    folder = ProjectFolder.create(tmp_path, config=alerts_config(section)).write(MODELS)
    (folder.root / "broken").write_text("")
    folder.run()
    assert len(receiver.received()) == 3
"""

from __future__ import annotations

import json
import socket
import textwrap
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import TYPE_CHECKING, Any

from aiohttp import web
from interlace_http.testing import ServedApp

if TYPE_CHECKING:
    from collections.abc import Iterable

BASE_CONFIG = """\
name: shop
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
"""

# `fragile` fails while the file `broken` exists in the project folder
FRAGILE = """
from pathlib import Path

from interlace import model

ROOT = Path(__file__).parent.parent

@model
def fragile():
    if (ROOT / "broken").exists():
        raise ConnectionError("the upstream API is down")
    return [{"id": 1}]
"""

MODELS = {
    "models/orders.sql": "SELECT 1 AS id, 10.0 AS amount",
    "models/fragile.py": FRAGILE,
}


def alerts_config(body: str) -> str:
    """The base config with an ``alerts:`` section (``body`` is indented YAML under it)."""
    return BASE_CONFIG + "alerts:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP endpoint on loopback that records every POST; ``fail_first`` answers 500 that
    many times before answering 200."""

    fail_first: int = 0
    requests: list[Received] = field(default_factory=list)
    _served: ServedApp | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._served = ServedApp(app).start()
        return self

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.requests.append(Received(request.path, dict(request.headers), body, time.time()))
            failing = self.fail_first > 0
            if failing:
                self.fail_first -= 1
        if failing:
            return web.Response(status=500, text="receiver down for maintenance")
        return web.Response(text="ok")

    @property
    def url(self) -> str:
        assert self._served is not None
        return self._served.url

    def close(self) -> None:
        if self._served is not None:
            self._served.close()

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.requests)


@dataclass
class Mailbox:
    """An SMTP server on loopback (aiosmtpd) keeping every message it accepts."""

    messages: list[tuple[str, list[str], Message]] = field(default_factory=list)
    port: int = 0
    _controller: Any = None

    def start(self) -> Mailbox:
        from aiosmtpd.controller import Controller

        mailbox = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                mailbox.messages.append(
                    (
                        envelope.mail_from,
                        list(envelope.rcpt_tos),
                        message_from_bytes(envelope.content),
                    )
                )
                return "250 Message accepted for delivery"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def close(self) -> None:
        if self._controller is not None:
            self._controller.stop()


def free_port() -> int:
    """A loopback port nothing listens on (taken and let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kinds(requests: Iterable[Received]) -> list[str]:
    """The ``X-Interlace-Event`` of each request."""
    return [r.headers.get("X-Interlace-Event", "") for r in requests]
