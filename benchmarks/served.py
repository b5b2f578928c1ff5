"""Helpers of the workloads that measure a served process (service, streams, web UI)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def discovered(process: subprocess.Popen[Any], root: Path, log: Path) -> dict[str, Any]:
    """The discovery file (``url``, ``token``) of ``interlace serve`` started in ``root``, once
    it is written; its log's end when the process exits first or does not start in 120 s."""
    discovery = root / ".interlace" / "server-dev.json"
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"interlace serve exited: {log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError("interlace serve did not start within 120 s")
        try:
            info: dict[str, Any] = json.loads(discovery.read_text())
            return info
        except (OSError, ValueError):
            time.sleep(0.05)


def latency_figures(latencies: list[float], errors: int, wall: float) -> dict[str, Any]:
    """Count, rate and p50/p99 of the request ``latencies`` (seconds) of a ``wall``-second
    load."""
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "errors": errors,
        "seconds": wall,
        "rps": count / wall,
        "p50": latencies[count // 2] if count else 0.0,
        "p99": latencies[min(count - 1, int(count * 0.99))] if count else 0.0,
    }


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages, for the notes of a figure."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def http_load(
    *,
    method: str,
    url: str,
    clients: int,
    seconds: float,
    warm_up: float,
    headers: dict[str, str],
    body: Callable[[], bytes] | None = None,
    server_pid: int | None = None,
) -> dict[str, Any]:
    """``clients`` keep-alive connections each sending ``method url`` (with ``body()`` as the
    request body, if given) back to back: ``warm_up`` seconds unrecorded, then ``seconds``
    recorded. Returns :func:`latency_figures` of the answers that were 200 (any other status
    counts as an error), and the client's and the server's CPU as percent of one core."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def client(until: float, record: bool) -> None:
            nonlocal errors
            while time.perf_counter() < until:
                started = time.perf_counter()
                data = body() if body is not None else None
                async with session.request(method, url, data=data) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                        continue
                if record:
                    latencies.append(time.perf_counter() - started)

        def server_cpu() -> float | None:
            return None if server_pid is None else process_cpu_seconds(server_pid)

        until = time.perf_counter() + warm_up
        await asyncio.gather(*(client(until, False) for _ in range(clients)))
        cpu0, server0, wall0 = time.process_time(), server_cpu(), time.perf_counter()
        until = wall0 + seconds
        await asyncio.gather(*(client(until, True) for _ in range(clients)))
        wall = time.perf_counter() - wall0
        cpu, server1 = time.process_time() - cpu0, server_cpu()
    return {
        **latency_figures(latencies, errors, wall),
        "client_cpu": 100 * cpu / wall,
        "server_cpu": None
        if server0 is None or server1 is None
        else 100 * (server1 - server0) / wall,
    }
