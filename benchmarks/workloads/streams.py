"""streams: durable ingestion over HTTP, the standalone stream server a real subprocess.

* **ndjson**: 4 clients (keep-alive) post NDJSON batches of 1,000 events of ~200 bytes (5
  fields) for 20 s (``--quick`` 8 s, smoke 2 s) after a 1 s warm-up; every 200 answer means the
  batch was fsync'd. Events/s (target >= 50,000), the server's mean fsync time, the client's and
  the server's CPU (percent of one core), the server's peak RSS (``VmHWM``), and the committer's
  lag at the end (it runs all along, moving events into the table).
* **single**: 50 concurrent clients post one event each per request for 15 s (``--quick`` 6 s,
  smoke 2 s): requests/s (target >= 2,000), p50 and p99 latency (p99 target <= 25 ms).
* **visible**: one event published into a quiet stream, then the time until the model that
  reads the stream (``cursor: _stream_offset``, run by the stream trigger at the default 1 s
  debounce and 200 ms commit interval) has read it: its watermark in the state store reaches
  the event's offset, which is written when its table is published. Median and worst of 5
  (smoke 2); target <= 2 s.

The log lives on the benchmark's work folder (a disk, not tmpfs); authentication and rate
limits are off (they are measured by the ``service`` workload). The machine's load average is
printed before and after; the load generator shares the 2 cores with the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.core import Bench, Figure, median, subprocess_env, write_files
from benchmarks.served import http_load, load_average

CONFIG = """\
name: stream_bench
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
streaming:
  auth: {enabled: false}
  rate_limit: {enabled: false}
"""

FILES = {
    "models/events.py": """
from interlace_stream import stream

events = stream(
    "events",
    fields={
        "id": "int64",
        "user_name": "string",
        "amount": "float64",
        "kind": "string",
        "at": "timestamp",
    },
)
""",
    "models/by_kind.sql": """-- @strategy: append
-- @cursor: _stream_offset
SELECT _stream_offset, kind, amount FROM events
""",
}

KINDS = ("page_view", "add_to_cart", "checkout", "refund", "search")


def _event(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "user_name": f"user-{random.randrange(1_000_000):07d}-{'x' * 60}",
        "amount": round(random.random() * 1000, 2),
        "kind": random.choice(KINDS),
        "at": f"2026-12-05T10:{n // 60 % 60:02d}:{n % 60:02d}.{n % 1_000_000:06d}",
    }


def _hook_path(folder: Path) -> str | None:
    """A dist-info declaring interlace-stream's hook, for an environment where the installed
    distribution predates its entry point (the server subprocess then finds streams)."""
    from importlib.metadata import entry_points

    if any(ep.value == "interlace_stream.hooks" for ep in entry_points(group="interlace.hooks")):
        return None
    info = folder / "interlace_stream_hook-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sh\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[interlace.hooks]\nstream = interlace_stream.hooks\n")
    return str(folder)


class StreamServer:
    """``interlace-stream serve`` of ``root`` on a free port."""

    def __init__(self, root: Path, log_file: Path, hooks: str | None) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        env = subprocess_env()
        if hooks:
            env["PYTHONPATH"] = os.pathsep.join([hooks, env["PYTHONPATH"]])
        self.log = log_file.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from interlace_stream.cli import main; main()",
                "serve",
                "--project",
                str(root),
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        import urllib.request

        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the stream server exited: {log_file.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/api/v1/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the stream server did not start within 120 s") from None
                time.sleep(0.05)

    def peak_rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def post_events(
        self, clients: int, seconds: float, content_type: str, body: Callable[[], bytes]
    ) -> dict[str, Any]:
        """``clients`` keep-alive connections posting ``body()`` to the events endpoint back to
        back for ``seconds`` after a 1 s warm-up (:func:`benchmarks.served.http_load`)."""
        return asyncio.run(
            http_load(
                method="POST",
                url=self.url + "/api/v1/streams/events",
                clients=clients,
                seconds=seconds,
                warm_up=1.0,
                headers={"Content-Type": content_type},
                body=body,
                server_pid=self.process.pid,
            )
        )

    def state(self) -> dict[str, Any]:
        import urllib.request

        with urllib.request.urlopen(self.url + "/api/v1/streams/events", timeout=30) as reply:
            found: dict[str, Any] = json.loads(reply.read())
            return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def _project(bench: Bench, name: str) -> Path:
    root = bench.folder(name)
    write_files(root, {"config.yaml": CONFIG, **FILES})
    return root


def ndjson(bench: Bench, hooks: str | None) -> list[Figure]:
    root = _project(bench, "ndjson")
    seconds = float(bench.options.get("seconds", bench.pick(20, 8, 2)))
    batches = [
        ("\n".join(json.dumps(_event(b * 1000 + i)) for i in range(1000)) + "\n").encode()
        for b in range(20)
    ]
    size = sum(len(b) for b in batches) / (20 * 1000)
    cycle = iter(range(10**12))
    server = StreamServer(root, bench.tmp / "ndjson-server.log", hooks)
    try:
        bench.log(
            f"ndjson: 4 clients, batches of 1000 events of {size:.0f} B; load {load_average()}"
        )
        result = server.post_events(
            4, seconds, "application/x-ndjson", lambda: batches[next(cycle) % 20]
        )
        state = server.state()
        peak = server.peak_rss_mb()
    finally:
        server.stop()
    if result["errors"]:
        raise RuntimeError(f"{result['errors']} NDJSON batches did not answer 200")
    events = result["rps"] * 1000
    note = (
        f"{result['requests']} batches in {result['seconds']:.1f} s, {size:.0f} B/event; fsync "
        f"{state['fsync_ms']:.2f} ms mean over {state['fsyncs']} fsyncs; committer lag at the end "
        f"{state['lag']} events; client CPU {result['client_cpu']:.0f}%, server CPU "
        f"{result['server_cpu'] or 0:.0f}% of a core; server peak RSS {peak or 0:.0f} MB; "
        f"load average after {load_average()}"
    )
    bench.log(note)
    return [
        Figure(
            "streams",
            "NDJSON x1000, durable: events/s",
            result["seconds"],
            None,
            kind="rate",
            target=50_000,
            value=events,
            note=note,
        ),
        Figure(
            "streams",
            "NDJSON x1000: p99 batch latency",
            result["seconds"],
            None,
            kind="ms",
            value=result["p99"] * 1000,
        ),
        Figure("streams", "log fsync: mean", None, None, kind="ms", value=state["fsync_ms"]),
        Figure(
            "streams",
            "server peak RSS (MB)",
            None,
            None,
            kind="mb",
            value=peak,
            note="VmHWM of the server process: the pending appends, the dedup ids and the "
            "reader's chunks are bounded",
        ),
    ]


def single(bench: Bench, hooks: str | None) -> list[Figure]:
    root = _project(bench, "single")
    seconds = float(bench.options.get("seconds", bench.pick(15, 6, 2)))
    counter = iter(range(10**12))
    server = StreamServer(root, bench.tmp / "single-server.log", hooks)
    try:
        bench.log(f"single: 50 clients, one event per POST; load {load_average()}")
        result = server.post_events(
            50, seconds, "application/json", lambda: json.dumps(_event(next(counter))).encode()
        )
        state = server.state()
    finally:
        server.stop()
    if result["errors"]:
        raise RuntimeError(f"{result['errors']} single-event POSTs did not answer 200")
    note = (
        f"{result['requests']} POSTs in {result['seconds']:.1f} s; {state['fsyncs']} fsyncs "
        f"({state['fsync_ms']:.2f} ms mean): {state['published'] / max(state['fsyncs'], 1):.1f} "
        f"events per fsync; client CPU {result['client_cpu']:.0f}%, server CPU "
        f"{result['server_cpu'] or 0:.0f}%; load average after {load_average()}"
    )
    bench.log(note)
    return [
        Figure(
            "streams",
            "single-event POSTs, 50 clients: requests/s",
            result["seconds"],
            None,
            kind="rate",
            target=2000,
            value=result["rps"],
            note=note,
        ),
        Figure(
            "streams",
            "single-event POSTs: p50 latency",
            None,
            None,
            kind="ms",
            value=result["p50"] * 1000,
        ),
        Figure(
            "streams",
            "single-event POSTs: p99 latency",
            None,
            None,
            kind="ms",
            target=25,
            value=result["p99"] * 1000,
        ),
    ]


def visible(bench: Bench, hooks: str | None) -> list[Figure]:
    import urllib.request

    from interlace.state import SQLiteStateStore

    root = _project(bench, "visible")
    repeats = int(bench.pick(5, 5, 2))
    server = StreamServer(root, bench.tmp / "visible-server.log", hooks)
    delays: list[float] = []
    try:
        for n in range(repeats):
            time.sleep(1.5)  # a quiet stream: the debounce starts fresh
            body = json.dumps(_event(n)).encode()
            request = urllib.request.Request(
                server.url + "/api/v1/streams/events",
                data=body,
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as reply:
                offset = json.loads(reply.read())["last_offset"]
            store = SQLiteStateStore(root / ".interlace" / "state.db")
            try:
                deadline = started + 30
                while True:
                    mark = store.get_watermark("dev", "by_kind")
                    if mark is not None and int(mark.value) >= offset:
                        break
                    if time.perf_counter() > deadline:
                        raise RuntimeError("the event did not reach the model within 30 s")
                    time.sleep(0.01)
            finally:
                store.close()
            delays.append(time.perf_counter() - started)
    finally:
        server.stop()
    note = f"{repeats} events: " + ", ".join(f"{d:.2f}" for d in delays) + " s"
    bench.log(note)
    return [
        Figure(
            "streams",
            "publish -> visible in a triggered model: median",
            median(delays),
            None,
            kind="seconds",
            target=2.0,
            note=note,
        ),
        Figure(
            "streams",
            "publish -> visible in a triggered model: worst",
            max(delays),
            None,
            kind="seconds",
            target=2.0,
        ),
    ]


def run(bench: Bench) -> list[Figure]:
    hooks = _hook_path(bench.tmp / "hooks")
    parts = bench.options.get("parts", ("ndjson", "single", "visible"))
    figures: list[Figure] = []
    for part in parts:
        figures += {"ndjson": ndjson, "single": single, "visible": visible}[part](bench, hooks)
    return figures
