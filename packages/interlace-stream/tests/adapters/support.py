"""Helpers of the adapter tests: the real publisher on a temporary log, reading the log back,
running an adapter until a condition holds, and the brokers' addresses.

Also imported by ``runner.py`` (the adapter in a subprocess of its own, for kill -9 tests).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from interlace_stream.adapters import Adapter
from interlace_stream.declaration import StreamSettings
from interlace_stream.kind import StreamInfo
from interlace_stream.log import LogReader, StreamLog
from interlace_stream.publisher import Publisher
from interlace_stream.schema import StreamFields

REDIS_URL = os.environ.get("INTERLACE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("INTERLACE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
NATS_URL = os.environ.get("INTERLACE_TEST_NATS_URL", "nats://127.0.0.1:4222")
MQTT_URL = os.environ.get("INTERLACE_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
# a loopback port nothing listens on: a broker that is down
DOWN_PORT = 9  # discard; closed on test machines


def reachable(url: str) -> bool:
    """Whether something accepts TCP connections at ``url``'s host and port."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 2):
            return True
    except OSError:
        return False


def stream_info(name: str, fields: dict[str, str] | None = None) -> StreamInfo:
    """A stream as ingestion sees it: declared ``fields`` are checked (``validate``), else any
    object is taken (``evolve`` with no declared fields)."""
    settings = StreamSettings(
        fields=fields or {}, validate_schema="validate" if fields else "evolve"
    )
    return StreamInfo(
        name=name,
        settings=settings,
        fields=StreamFields.of(fields or {}),
        schema="main",
        connection="default",
        spec=cast("Any", None),  # publishing needs no model spec
    )


@asynccontextmanager
async def open_publisher(log_dir: Path, *streams: StreamInfo) -> AsyncIterator[Publisher]:
    """The real durable publisher over ``log_dir`` (one log per stream)."""
    publisher = Publisher({info.name: info for info in streams}, log_dir)
    await publisher.start()
    try:
        yield publisher
    finally:
        await publisher.close()


def stored(publisher: Publisher, stream: str) -> list[tuple[str, dict[str, Any]]]:
    """(event id, event) of every event durable in ``stream`` (while the publisher is open)."""
    writer = publisher.writers[stream]
    return [(r.event_id, json.loads(r.payload)) for r in LogReader(writer.log).read(0, 1_000_000)]


def stored_on_disk(log_dir: Path, stream: str) -> list[tuple[str, dict[str, Any]]]:
    """(event id, event) of every event in ``stream``'s log on disk (no publisher open)."""
    log = StreamLog(log_dir / stream)
    log.open()
    try:
        return [(r.event_id, json.loads(r.payload)) for r in LogReader(log).read(0, 1_000_000)]
    finally:
        log.close()


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], *, timeout: float = 15.0, what: str = ""
) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running(adapter: Adapter, publisher: Any) -> AsyncIterator[asyncio.Task[None]]:
    """``adapter.run`` in a task while the block runs; stopped (and awaited) afterwards."""
    stop = asyncio.Event()
    task = asyncio.create_task(adapter.run(publisher, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def healthy(adapter: Adapter, timeout: float = 15.0) -> None:
    """Wait until the adapter is connected to its source."""
    await eventually(
        lambda: adapter.health().state == "healthy",
        timeout=timeout,
        what=f"adapter '{adapter.name}' to connect (health: {adapter.health()})",
    )


RUNNER = Path(__file__).with_name("runner.py")


def run_in_process(
    folder: Path,
    adapter: dict[str, Any],
    *,
    expect: int,
    expect_acked: int = 0,
    fault: str | None = None,
    timeout: float = 60,
) -> dict[str, Any] | None:
    """Run ``adapter`` in a subprocess publishing into ``folder/logs`` until the stream holds
    ``expect`` events and it acked ``expect_acked`` messages; returns its report. With
    ``fault``, it must die by SIGKILL at that point (returns None)."""
    import signal
    import subprocess
    import sys

    spec_file = folder / "runner-spec.json"
    report = folder / "runner-report.json"
    report.unlink(missing_ok=True)
    spec = {
        "adapter": adapter,
        "stream": adapter["stream"],
        "log_dir": str(folder / "logs"),
        "expect": expect,
        "expect_acked": expect_acked,
        "report": str(report),
        "timeout": timeout,
    }
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "INTERLACE_STREAM_FAULT"}
    if fault is not None:
        env["INTERLACE_STREAM_FAULT"] = fault
    done = subprocess.run(
        [sys.executable, str(RUNNER), str(spec_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 30,
        check=False,
    )
    if fault is not None:
        assert done.returncode == -signal.SIGKILL, (done.returncode, done.stderr[-3000:])
        return None
    assert done.returncode == 0, done.stderr[-3000:]
    return cast("dict[str, Any]", json.loads(report.read_text(encoding="utf-8")))
