"""service: ``interlace serve`` under load, each server a real subprocess on this machine.

* **load**: an aiohttp client (keep-alive, 32 concurrent connections) sends authenticated
  ``GET /api/v1/models`` to a server of ``examples/quickstart`` for 30 s (``--quick`` 10 s,
  smoke 2 s) after a 1 s warm-up: requests/s (target >= 2,000), p50 and p99 latency (p99
  target <= 20 ms), the client's and the server's CPU (percent of one core).
* **sse**: 100 clients (smoke: 10) follow ``/api/v1/events`` while the server runs a generated
  200-model project (smoke: 50 models): every client must receive every event of the run; the
  figure is the largest lag between an event's emission (its ``at``) and its arrival at a
  client, for the last event (target <= 100 ms), the largest over all events printed beside it.
* **trigger**: the quickstart run triggered over HTTP (``POST /api/v1/runs``, ``force``) and
  followed to its end with the public client (``Client.trigger_run`` and ``Client.wait``, which
  asks every 0.2 s) against
  the same run through ``interlace.run`` in this process on a copy of the project: the runs'
  recorded durations (the state store's ``finished_at - started_at``), medians of 5 interleaved
  repetitions (smoke: 1) after an untimed run on each side, target <= 1.05x.

Every server runs with its default settings except the rate limit (raised: one key sends
thousands of requests a second here) and logs at ``info`` (one access line per request) to a
file. The machine's load average is printed before and after (other work on the machine slows
both sides).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.core import REPO_ROOT, Bench, Figure, median, subprocess_env, write_files
from benchmarks.served import discovered, http_load, load_average
from benchmarks.workloads.startup import interlace_command

QUICKSTART = REPO_ROOT / "examples" / "quickstart"
CONNECTIONS = 32
SERVICE_CONFIG = """
service:
  rate_limit:
    per_key: {rate: 1000000/s, burst: 1000000}
"""


class Server:
    """``interlace serve --port 0 --no-ui`` in ``root``; its URL and key from the discovery
    file it writes."""

    def __init__(self, root: Path, log_file: Path) -> None:
        self.root = root
        self.log = log_file.open("w")
        env = subprocess_env()
        self.process = subprocess.Popen(
            [*interlace_command(), "serve", "--port", "0", "--no-ui", "--no-scheduler"],
            cwd=root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        info = discovered(self.process, root, log_file)
        self.url: str = info["url"]
        self.headers = {"Authorization": f"Bearer {info['token']}"}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def copy_quickstart(target: Path) -> Path:
    shutil.copytree(
        QUICKSTART, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("data", ".interlace")
    )
    with (target / "config.yaml").open("a") as config:
        config.write(SERVICE_CONFIG)
    return target


# ---------------------------------------------------------------------------- load


def load(bench: Bench) -> list[Figure]:
    project = copy_quickstart(bench.folder("quickstart"))
    seconds = float(bench.options.get("seconds", bench.pick(30, 10, 2)))
    server = Server(project, bench.tmp / "load-server.log")
    try:
        bench.log(f"load: {CONNECTIONS} connections, {seconds:g} s; load average {load_average()}")
        result = asyncio.run(
            http_load(
                method="GET",
                url=server.url + "/api/v1/models",
                clients=CONNECTIONS,
                seconds=seconds,
                warm_up=1.0,
                headers=server.headers,
                server_pid=server.process.pid,
            )
        )
    finally:
        server.stop()
    if result["errors"]:
        raise RuntimeError(f"{result['errors']} requests did not answer 200")
    server_cpu = result["server_cpu"]
    note = (
        f"{result['requests']} requests in {result['seconds']:.1f} s over {CONNECTIONS} "
        f"keep-alive connections; client CPU {result['client_cpu']:.0f}% of a core, server CPU "
        + ("?" if server_cpu is None else f"{server_cpu:.0f}%")
        + f"; load average after {load_average()}"
    )
    bench.log(note)
    return [
        Figure(
            "service",
            "GET /api/v1/models: requests/s",
            result["seconds"],
            None,
            kind="rate",
            target=2000,
            value=result["rps"],
            note=note,
        ),
        Figure(
            "service",
            "GET /api/v1/models: p50 latency",
            result["seconds"],
            None,
            kind="ms",
            value=result["p50"] * 1000,
        ),
        Figure(
            "service",
            "GET /api/v1/models: p99 latency",
            result["seconds"],
            None,
            kind="ms",
            target=20,
            value=result["p99"] * 1000,
        ),
    ]


# ---------------------------------------------------------------------------- SSE


def generated_project(root: Path, n: int) -> Path:
    """``n`` SQL models in layers, each reading one or two earlier ones."""
    files = {
        "config.yaml": "name: bench_sse\nconnections:\n  default:\n    type: duckdb\n"
        "    path: data/bench.duckdb\n" + SERVICE_CONFIG
    }
    for i in range(n):
        if i < 4:
            sql = f"select range as id, range % 7 as k from range({1000 * (i + 1)})"
        else:
            first, second = f"m_{(i * 7919) % (i - 1):04d}", f"m_{i - 1:04d}"
            sql = (
                f"select a.id, a.k from {first} a join {second} b using (id)"
                if i % 3
                else f"select id, k from {second}"
            )
        files[f"models/m_{i:04d}.sql"] = f"-- @name: m_{i:04d}\n{sql}\n"
    write_files(root, files)
    return root


async def _follow(
    server: Server, clients: int, trigger: dict[str, Any]
) -> tuple[str, list[list[tuple[int, float, float, str]]]]:
    """Connect ``clients`` SSE clients, trigger the run, and collect per client
    ``(event id, emitted at, received at, type)`` until its run ended. A client only stamps
    and keeps the bytes as they arrive (the JSON is read afterwards), so its own parsing does
    not count as lag."""
    import aiohttp

    raw: list[list[tuple[bytes, float]]] = [[] for _ in range(clients)]
    connected = asyncio.Event()
    ready = 0
    ends = (b"event: run.ended\n",)  # the request's last event: its end is recorded
    timeout = aiohttp.ClientTimeout(total=600, sock_read=120)
    connector = aiohttp.TCPConnector(limit=clients + 4)
    async with aiohttp.ClientSession(
        connector=connector, headers=server.headers, timeout=timeout
    ) as session:

        async def client(number: int) -> None:
            nonlocal ready
            mine = raw[number]
            async with session.get(server.url + "/api/v1/events") as response:
                if response.status != 200:
                    raise RuntimeError(f"SSE client got {response.status}")
                ready += 1
                if ready == clients:
                    connected.set()
                buffer = b""
                async for chunk in response.content.iter_any():
                    now = time.time()
                    buffer += chunk
                    *frames, buffer = buffer.split(b"\n\n")
                    for frame in frames:
                        mine.append((frame, now))
                        if frame.startswith(b"id:") and any(end in frame for end in ends):
                            return

        tasks = [asyncio.create_task(client(i)) for i in range(clients)]
        await asyncio.wait_for(connected.wait(), 60)
        async with session.post(server.url + "/api/v1/runs", json=trigger) as response:
            body = await response.json()
            if response.status != 202:
                raise RuntimeError(f"trigger answered {response.status}: {body}")
        await asyncio.gather(*tasks)
    received: list[list[tuple[int, float, float, str]]] = []
    for frames in raw:
        events = []
        for frame, now in frames:
            data = [line[5:].strip() for line in frame.split(b"\n") if line.startswith(b"data:")]
            if data:
                event = json.loads(b"\n".join(data))
                events.append((event["id"], event["at"], now, event["type"]))
        received.append(events)
    return body["id"], received


def sse(bench: Bench) -> list[Figure]:
    n = int(bench.options.get("models", bench.pick(200, 200, 50)))
    clients = int(bench.options.get("clients", bench.pick(100, 100, 10)))
    project = generated_project(bench.folder("sse"), n)
    server = Server(project, bench.tmp / "sse-server.log")
    try:
        bench.log(f"sse: {clients} clients, {n} models; load average {load_average()}")
        run_id, received = asyncio.run(_follow(server, clients, {"force": True}))
    finally:
        server.stop()
    from interlace.state import SQLiteStateStore

    store = SQLiteStateStore(project / ".interlace" / "state.db")
    try:
        expected = {e.id for e in store.events(0, run_id, 100_000)}
    finally:
        store.close()
    last_lags, all_lags = [], []
    for events in received:
        ids = {event_id for event_id, _at, _now, _type in events}
        missing = expected - ids
        if missing:
            raise RuntimeError(f"an SSE client missed {len(missing)} of {len(expected)} events")
        of_run = [e for e in events if e[0] in expected]
        all_lags += [now - at for _id, at, now, _type in of_run]
        last_lags.append(of_run[-1][2] - of_run[-1][1])
    worst_last, worst = max(last_lags) * 1000, max(all_lags) * 1000
    note = (
        f"{clients} clients x {len(expected)} events of a {n}-model run, every client got "
        f"every event; largest lag of any event {worst:.0f} ms, median "
        f"{(median(all_lags) or 0) * 1000:.1f} ms; load average after {load_average()}"
    )
    bench.log(note)
    return [
        Figure(
            "service",
            f"SSE: {clients} clients, last event of a {n}-model run",
            None,
            None,
            kind="ms",
            target=100,
            value=worst_last,
            note=note,
        )
    ]


# ---------------------------------------------------------------------------- trigger


def _recorded(root: Path, run_id: str) -> float:
    from interlace.state import SQLiteStateStore

    store = SQLiteStateStore(root / ".interlace" / "state.db")
    try:
        record = store.get_run(run_id)
    finally:
        store.close()
    if record is None or record.finished_at is None or record.status != "success":
        raise RuntimeError(f"run {run_id} did not succeed: {record}")
    return record.finished_at - record.started_at


def _http_run(server: Server) -> str:
    """Trigger a forced run and wait for its end as a user's program does: with the public
    client (:class:`interlace_service.client.Client`, which asks for the status every 0.2 s)."""
    from interlace_service.client import Client

    client = Client(server.url, api_key=server.headers["Authorization"].removeprefix("Bearer "))
    run = client.wait(client.trigger_run(force=True).id)
    if run.status != "success":
        raise RuntimeError(f"the triggered run ended {run.status}: {run.error}")
    return run.id


def trigger(bench: Bench) -> list[Figure]:
    import interlace

    reps = int(bench.options.get("trigger_reps", bench.pick(5, 5, 1)))
    served = copy_quickstart(bench.folder("served"))
    local = copy_quickstart(bench.folder("local"))
    for root in (served, local):  # raw data and first builds, untimed
        result = interlace.run_sync(root)
        if result.status != "success":
            raise RuntimeError(f"the quickstart run failed: {result.error}")
    server = Server(served, bench.tmp / "trigger-server.log")
    over_http, in_process = [], []
    try:
        if bench.size != "smoke":  # untimed: the server's first run imports the models
            _http_run(server)
        bench.log(f"trigger: {reps} interleaved repetition(s); load average {load_average()}")
        for _ in range(reps):
            over_http.append(_recorded(served, _http_run(server)))
            result = interlace.run_sync(local, force=True)
            in_process.append(_recorded(local, result.run_id))
    finally:
        server.stop()
    return [
        Figure(
            "service",
            "quickstart run triggered over HTTP vs interlace.run",
            median(over_http),
            median(in_process),
            target=1.05,
            samples={"interlace": over_http, "raw": in_process},
            note="raw = the same run through interlace.run in-process; recorded durations; "
            f"load average after {load_average()}",
        )
    ]


def run(bench: Bench) -> list[Figure]:
    parts = bench.options.get("parts", ("load", "sse", "trigger"))
    figures: list[Figure] = []
    for part in parts:
        figures += {"load": load, "sse": sse, "trigger": trigger}[part](bench)
    return figures
