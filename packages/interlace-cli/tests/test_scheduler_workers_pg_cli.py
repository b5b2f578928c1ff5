"""Two `interlace serve` workers on one PostgreSQL state store (and warehouse): they share the
schedules and the run queue, no slot fires twice, a model never runs twice at once, and when a
worker is killed (SIGKILL) the other takes its run over once the lease runs out.

Each worker has its own copy of the project folder (as on two machines). The server comes from
``INTERLACE_TEST_PG_*`` (default ``127.0.0.1:5432``, user ``postgres``); every test gets a fresh
database. An unreachable server skips the tests, except in CI (``CI=true``), where it fails them.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from interlace.testing.prerequisites import require

if TYPE_CHECKING:
    from conftest import Folder

PG = {
    "host": os.environ.get("INTERLACE_TEST_PG_HOST", "127.0.0.1"),
    "port": os.environ.get("INTERLACE_TEST_PG_PORT", "5432"),
    "user": os.environ.get("INTERLACE_TEST_PG_USER", "postgres"),
    "password": os.environ.get("INTERLACE_TEST_PG_PASSWORD", ""),
    "dbname": os.environ.get("INTERLACE_TEST_PG_DATABASE", "test"),
}
LEASE = 3.0


def conninfo(dbname: str) -> str:
    return " ".join(f"{k}={v}" for k, v in {**PG, "dbname": dbname}.items() if v)


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards."""
    name = f"interlace_sched_{uuid.uuid4().hex[:12]}"
    require(
        lambda: psycopg.connect(conninfo(PG["dbname"]), connect_timeout=5).close(),
        f"the PostgreSQL test server ({conninfo(PG['dbname'])})",
        "start it (e.g. `pg_ctlcluster 15 main start`) or point INTERLACE_TEST_PG_HOST/_PORT/"
        "_USER/_PASSWORD/_DATABASE at one",
    )
    admin = psycopg.connect(conninfo(PG["dbname"]), autocommit=True, connect_timeout=5)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(conninfo(PG["dbname"]), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def config(database: str) -> str:
    params = "".join(
        f"    {key}: {PG[key]}\n" for key in ("host", "port", "user", "password") if PG[key]
    )
    return (
        "name: workers\n"
        f"connections:\n  default:\n    type: postgres\n    database: {database}\n{params}"
        f"state:\n  type: postgres\n  database: {database}\n  schema: interlace_state\n"
        + params.replace("    ", "  ")
    )


# `held` blocks its first run until the file `gate` appears in $HELD_DIR (shared by both
# workers); it writes `started-<pid>` there when it starts
HELD = """
import os
import time
from pathlib import Path

from interlace import model

@model(schedule={"cron": "0 0 1 1 *"}, strategy="append")
def held():
    shared = Path(os.environ["HELD_DIR"])
    (shared / f"started-{os.getpid()}").write_text(str(time.time()))
    deadline = time.monotonic() + 60
    while not (shared / "gate").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return [{"pid": os.getpid()}]
"""

TICKING = '-- @schedule: {every: "1s", catch_up: all, overlap: queue}\nSELECT 1 AS id\n'


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def query(database: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(conninfo(database), autocommit=True) as conn:
        return list(conn.execute(sql, params).fetchall())


def workers(project: Folder, database: str, shared: Path, files: dict[str, str]) -> list[Any]:
    """Two copies of the project, each served by its own `interlace serve`."""
    project.write({"config.yaml": config(database), **files})
    copies = [project, project.copy_to(project.root.parent / f"{project.root.name}-second")]
    processes = []
    for copy in copies:
        processes.append(
            copy.start(
                "serve",
                "--port",
                "0",
                "--lease",
                f"{LEASE:g}s",
                "--grace",
                "5s",
                env={"HELD_DIR": str(shared)},
            )
        )
    project.processes.extend(p for p in processes if p not in project.processes)
    for copy in copies:
        wait_for((copy.root / ".interlace" / "server-dev.json").exists, 60, "a worker to start")
    return processes


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, out + err
    return out + err


def test_two_workers_share_schedules_each_slot_fires_once_and_runs_never_overlap(
    project: Folder, database: str, tmp_path: Path
) -> None:
    processes = workers(project, database, tmp_path, {"models/ticking.sql": TICKING})
    owners = query(database, "SELECT count(*) FROM interlace_state.scheduler_leases")
    assert owners == [(2,)]  # both schedule: several schedulers are fine on PostgreSQL

    def done() -> int:
        rows = query(
            database,
            "SELECT count(*) FROM interlace_state.run_requests WHERE status = 'done'",
        )
        return int(rows[0][0]) >= 8

    wait_for(done, 90, "eight scheduled runs")
    for process in processes:
        stop(process)

    requests = query(
        database,
        "SELECT id, options, status FROM interlace_state.run_requests "
        "WHERE requested_by = 'schedule:ticking'",
    )
    slots = Counter(json.loads(options)["slot"] for _, options, _ in requests)
    assert slots and all(n == 1 for n in slots.values()), slots
    fired = query(
        database,
        "SELECT request_id FROM interlace_state.schedule_fires WHERE outcome = 'fired'",
    )
    assert {r for (r,) in fired} == {rid for rid, _, _ in requests}
    runs = query(
        database,
        "SELECT started_at, finished_at FROM interlace_state.model_runs "
        "WHERE model = 'ticking' AND finished_at IS NOT NULL ORDER BY started_at",
    )
    assert len(runs) >= 8
    for (_, end), (start, _) in itertools.pairwise(runs):
        assert start >= end, "two runs of ticking overlapped"
    hosts = query(database, "SELECT count(DISTINCT pid) FROM interlace_state.runs")
    assert hosts[0][0] >= 1


def test_a_killed_workers_run_is_taken_over_after_the_lease(
    project: Folder, database: str, tmp_path: Path
) -> None:
    processes = workers(project, database, tmp_path, {"models/held.py": HELD})
    result = project.interlace("schedule", "trigger", "held")
    assert result.code == 0, result
    started = wait_for(lambda: list(tmp_path.glob("started-*")), 60, "the run to start")
    victim = int(started[0].name.split("-")[1])
    survivor = next(p for p in processes if p.pid != victim)
    killed_at = time.time()
    os.kill(victim, signal.SIGKILL)
    for process in processes:
        if process.pid == victim:
            process.communicate(timeout=30)

    def taken_over() -> float | None:
        others = [p for p in tmp_path.glob("started-*") if p.name != f"started-{victim}"]
        return float(others[0].read_text()) if others else None

    resumed = wait_for(taken_over, 60, "the other worker to take the run over")
    assert resumed - killed_at <= LEASE + 1.5, f"take-over took {resumed - killed_at:.2f} s"
    (tmp_path / "gate").write_text("")

    def finished() -> Any:
        rows = query(
            database,
            "SELECT status, options, run_ids FROM interlace_state.run_requests "
            "WHERE requested_by LIKE 'cli:%%'",
        )
        return rows[0] if rows and rows[0][0] in ("done", "failed") else None

    status, options, run_ids = wait_for(finished, 60, "the taken-over run to finish")
    stop(survivor)
    assert status == "done" and json.loads(options)["takeovers"] == 1
    assert query(database, "SELECT pid FROM main.held") == [(survivor.pid,)]
    assert any(r.endswith("-t1") for r in json.loads(run_ids))
