"""scheduler: the cost and the punctuality of the scheduler, and the take-over of a dead worker.

* **idle**: 10,000 hourly schedules (named schedules in the config, each selecting one of 10
  models, all at the same minute of the hour, half an hour away) in one project; the scheduler's
  loop (:meth:`Scheduler.run`, the one ``interlace serve`` runs) runs in this process for 60 s
  (``--quick`` 20 s, smoke 3 s) while no slot is due. The figure is the process's CPU time over
  that window in milliseconds per second (target <= 20 ms/s, i.e. 2% of one core); the time to
  read the 10,000 schedules at start is printed beside it.
* **burst**: 100 schedules due at the same instant (``every: 5s``): the largest delay between
  the slot and the commit of a fire, over all 100 (target <= 2 s).
* **on time**: one schedule every second for 10 slots (smoke 3): the largest delay between a
  slot and the commit of its fire (target <= 1 s).
* **take-over**: two ``interlace serve`` workers on one PostgreSQL state store (and warehouse);
  the worker running a run is killed with SIGKILL; the figure is the time from the kill until
  the other worker starts the run again (target <= lease + 1 s; lease 30 s, ``--quick`` 5 s,
  smoke 3 s). Needs the PostgreSQL server of ``INTERLACE_TEST_PG_*`` (default
  ``127.0.0.1:5432``, user ``postgres``); without one the figure says so and has no value.

The state store of the first three is SQLite (one scheduler per store). The machine's load
average is printed before and after.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.core import Bench, Figure, subprocess_env, write_files
from benchmarks.served import load_average
from benchmarks.workloads.startup import interlace_command

if TYPE_CHECKING:
    from interlace_service.scheduler import Scheduler

CONFIG = "name: sched\nconnections:\n  default:\n    type: duckdb\n    path: data/{env}.duckdb\n"


def _project(root: Path, schedules: list[str]) -> Path:
    files = {f"models/m{i}.sql": f"SELECT {i} AS id\n" for i in range(10)}
    files["config.yaml"] = CONFIG + "schedules:\n" + "".join(schedules)
    write_files(root, files)
    return root


def _scheduler(root: Path, **kwargs: Any) -> Scheduler:
    from interlace.project import load_project
    from interlace.state import SQLiteStateStore
    from interlace_service.scheduler import Scheduler

    project = load_project(root)
    store = SQLiteStateStore(root / ".interlace" / "state.db")
    return Scheduler(store, project, **kwargs)


def _loop_for(scheduler: Scheduler, seconds: float) -> None:
    async def main() -> None:
        stopping = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stopping.set)
        await scheduler.run(stopping)

    asyncio.run(main())


def idle(bench: Bench) -> Figure:
    count = int(bench.options.get("schedules", 10_000))
    window = float(bench.pick(60.0, 20.0, 3.0))
    minute = (dt.datetime.now(dt.UTC).minute + 30) % 60
    root = _project(
        bench.folder("idle"),
        [f"  s{i:05}: {{select: m{i % 10}, cron: '{minute} * * * *'}}\n" for i in range(count)],
    )
    started = time.perf_counter()
    scheduler = _scheduler(root)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    scheduler.start()  # reads the 10,000 schedules and plans each one's next slot
    start_s = time.perf_counter() - started
    cpu, wall = time.process_time(), time.perf_counter()
    _loop_for(scheduler, window)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    scheduler.stop()
    scheduler.store.close()
    per_second = cpu / wall * 1000
    bench.log(
        f"idle: project loaded in {load_s:.1f} s, {count} schedules planned in {start_s:.1f} s; "
        f"{per_second:.2f} CPU ms/s"
    )
    return Figure(
        "scheduler",
        f"idle, {count:,} hourly schedules (CPU per second)",
        None,
        None,
        kind="ms",
        target=20.0,
        value=per_second,
        note=f"{per_second / 10:.2f}% of one core over {wall:.0f} s; project load {load_s:.1f} s "
        f"(its YAML), scheduler start {start_s:.1f} s",
    )


def _fire_delays(bench: Bench, name: str, schedules: list[str], slots: int) -> list[float]:
    """Run the loop until ``slots`` slots fired; the delay of each fire's commit after its
    slot (seconds)."""
    root = _project(bench.folder(name), schedules)
    delays: list[float] = []
    done = threading.Event()
    wanted = slots

    def observe(kind: str, data: dict[str, Any]) -> None:
        if kind == "schedule.fired":
            delays.append(time.time() - data["slot"].timestamp())
            if len(delays) >= wanted:
                done.set()

    scheduler = _scheduler(root, observers=[observe])
    scheduler.start()

    async def main() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(scheduler.run(stopping))
        deadline = time.monotonic() + 120
        while not done.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stopping.set()
        await task

    asyncio.run(main())
    scheduler.stop()
    scheduler.store.close()
    if len(delays) < slots:
        raise RuntimeError(f"{name}: only {len(delays)} of {slots} slots fired within 120 s")
    return delays


def burst(bench: Bench) -> Figure:
    count = 100
    delays = _fire_delays(
        bench,
        "burst",
        [f"  b{i:03}: {{select: m{i % 10}, every: 5s, overlap: queue}}\n" for i in range(count)],
        count,
    )
    worst = max(delays)
    return Figure(
        "scheduler",
        f"burst, {count} slots due at one instant (last fire)",
        worst,
        None,
        kind="seconds",
        target=2.0,
        note=f"first after {min(delays) * 1000:.0f} ms",
    )


def on_time(bench: Bench) -> Figure:
    slots = int(bench.pick(10, 10, 3))
    delays = _fire_delays(
        bench, "on_time", ["  tick: {select: m0, every: 1s, overlap: queue}\n"], slots
    )
    return Figure(
        "scheduler",
        "on time, one slot (worst delay)",
        max(delays),
        None,
        kind="seconds",
        target=1.0,
        note=f"median {sorted(delays)[len(delays) // 2] * 1000:.0f} ms over {slots} slots",
    )


PG = {
    "host": os.environ.get("INTERLACE_TEST_PG_HOST", "127.0.0.1"),
    "port": os.environ.get("INTERLACE_TEST_PG_PORT", "5432"),
    "user": os.environ.get("INTERLACE_TEST_PG_USER", "postgres"),
    "password": os.environ.get("INTERLACE_TEST_PG_PASSWORD", ""),
    "dbname": os.environ.get("INTERLACE_TEST_PG_DATABASE", "test"),
}

HELD = """
import os
import time
from pathlib import Path

from interlace import model

@model(schedule={"cron": "0 0 1 1 *"}, strategy="append")
def held():
    shared = Path(os.environ["HELD_DIR"])
    (shared / f"started-{os.getpid()}").write_text(str(time.time()))
    deadline = time.monotonic() + 600
    while not (shared / "gate").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return [{"pid": os.getpid()}]
"""


def _conninfo(dbname: str) -> str:
    return " ".join(f"{k}={v}" for k, v in {**PG, "dbname": dbname}.items() if v)


def take_over(bench: Bench) -> Figure:
    import psycopg

    lease = float(bench.options.get("lease", bench.pick(30.0, 5.0, 3.0)))
    variant = f"take-over after a worker dies (lease {lease:g} s)"
    try:
        admin = psycopg.connect(_conninfo(PG["dbname"]), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        return Figure(
            "scheduler", variant, None, None, kind="seconds", note=f"no PostgreSQL: {exc}"
        )
    database = f"interlace_bench_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    processes: list[subprocess.Popen[bytes]] = []
    shared = bench.folder("take_over_shared")
    try:
        params = "".join(
            f"    {key}: {PG[key]}\n" for key in ("host", "port", "user", "password") if PG[key]
        )
        config = (
            f"name: workers\nconnections:\n  default:\n    type: postgres\n"
            f"    database: {database}\n{params}"
            f"state:\n  type: postgres\n  database: {database}\n  schema: interlace_state\n"
            + params.replace("    ", "  ")
        )
        roots = []
        for name in ("worker_a", "worker_b"):
            root = bench.folder(name)
            write_files(root, {"config.yaml": config, "models/held.py": HELD})
            roots.append(root)
        env = subprocess_env({"HELD_DIR": str(shared)})
        for root in roots:
            processes.append(
                subprocess.Popen(
                    [
                        *interlace_command(),
                        "serve",
                        "--port",
                        "0",
                        "--no-ui",
                        "--lease",
                        f"{lease:g}s",
                    ],
                    cwd=root,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        _wait(lambda: all((r / ".interlace" / "server-dev.json").exists() for r in roots), 120)
        subprocess.run(
            [*interlace_command(), "schedule", "trigger", "held"],
            cwd=roots[0],
            env=env,
            check=True,
            capture_output=True,
        )
        first = _wait(lambda: list(shared.glob("started-*")), 120)
        victim = int(first[0].name.split("-")[1])
        killed = time.time()
        os.kill(victim, signal.SIGKILL)
        resumed = _wait(
            lambda: [p for p in shared.glob("started-*") if p.name != f"started-{victim}"],
            lease * 3 + 30,
        )
        seconds = float(resumed[0].read_text()) - killed
        (shared / "gate").write_text("")
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(_conninfo(PG["dbname"]), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return Figure(
        "scheduler",
        variant,
        seconds,
        None,
        kind="seconds",
        target=lease + 1.0,
        note="kill -9 to the run started again on the other worker",
    )


def _wait(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError(f"timed out after {timeout:g} s")


def run(bench: Bench) -> list[Figure]:
    bench.log(f"load average before: {load_average()}")
    figures = [idle(bench), burst(bench), on_time(bench), take_over(bench)]
    bench.log(f"load average after: {load_average()}")
    for figure in figures:
        figure.note = (figure.note + f"; load {load_average()}").lstrip("; ")
    return figures
