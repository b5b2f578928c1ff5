"""Helpers of the workloads that measure a served process (service, streams, web UI)."""

from __future__ import annotations

import json
import subprocess
import time
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
