"""Two runs at once never write one table at once (DuckDB: the second waits for the file).

Each run is a whole process, started together with the other, as two people (or a cron job
and a person) would start them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest
from interlace.errors import RunCancelledError
from interlace.locks import PROCESS_LOCKS, LockTimeoutError, LockWait

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

SOURCE = """
import datetime as dt
import json
import time
from pathlib import Path

import pyarrow as pa
from interlace import model

SCHEMA = pa.schema([("id", pa.int64()), ("updated_at", pa.timestamp("us")), ("v", pa.string())])

@model
def raw_events():
    time.sleep(float((Path(__file__).parent.parent / "delay").read_text()))
    rows = json.loads((Path(__file__).parent.parent / "events.json").read_text())
    for row in rows:
        row["updated_at"] = dt.datetime.fromisoformat(row["updated_at"])
    return pa.Table.from_pylist(rows, schema=SCHEMA)
"""

MODELS = {
    "models/raw_events.py": SOURCE,
    "models/merged.sql": """
        -- @strategy: merge_by_key
        -- @primary_key: id
        -- @cursor: updated_at
        SELECT id, updated_at, v FROM raw_events
    """,
    "models/history.sql": """
        -- @strategy: scd_type_2
        -- @primary_key: id
        SELECT id, v FROM raw_events
    """,
    "models/appended.sql": """
        -- @strategy: append
        -- @cursor: updated_at
        SELECT id, updated_at, v FROM raw_events
    """,
}

RUN = """
import json, sys
import interlace
result = interlace.run_sync(sys.argv[1])
print(json.dumps({"status": result.status, "error": result.error,
                  "models": {n: [m.status, m.error] for n, m in result.models.items()}}))
"""


HOLD = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
connection.close()
"""


def events(first: int, last: int, day: int, value: str = "a") -> list[dict[str, object]]:
    stamp = f"2024-01-{day:02d} 00:00:00"
    return [{"id": i, "updated_at": stamp, "v": value} for i in range(first, last)]


def start_run(root: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUN, str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> dict[str, object]:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def check_exact_rows(project: ProjectDir) -> None:
    """5,000 keys, then 5,000 new keys and 1,000 changed ones, whatever the runs did."""
    assert project.sql("SELECT count(*), count(DISTINCT id) FROM merged") == [(10_000, 10_000)]
    assert project.sql("SELECT count(*) FROM merged WHERE v = 'b'") == [(1_000,)]
    assert project.sql("SELECT count(*), count(DISTINCT id) FROM history WHERE is_current") == [
        (10_000, 10_000)
    ]
    assert project.sql("SELECT count(*) FROM history") == [(11_000,)]
    assert project.sql("SELECT count(*), count(DISTINCT (id, updated_at)) FROM appended") == [
        (11_000, 11_000)
    ]


@pytest.fixture
def concurrent_project(make_project: MakeProject) -> ProjectDir:
    project = make_project(MODELS)
    project.write({"delay": "0", "events.json": json.dumps(events(0, 5_000, 1))})
    project.run_ok()
    # 5,000 new keys arrive, 1,000 keys change
    arrived = events(0, 1_000, 2, "b") + events(1_000, 5_000, 1) + events(5_000, 10_000, 2)
    project.write({"delay": "1", "events.json": json.dumps(arrived)})
    return project


def test_two_runs_started_together_on_duckdb_both_succeed_with_exact_rows(
    concurrent_project: ProjectDir,
) -> None:
    first, second = start_run(concurrent_project.root), start_run(concurrent_project.root)
    results = [finish(first), finish(second)]
    assert all(r["status"] == "success" for r in results), results
    check_exact_rows(concurrent_project)
    # the second run waited for the file, then found the tables built and skipped them
    skipped = [r for r in results if r["models"]["merged"][0] == "skipped"]  # type: ignore[index]
    assert len(skipped) == 1, results


def test_two_runs_in_one_process_take_turns_on_each_table(
    concurrent_project: ProjectDir,
) -> None:
    """The service runs several runs in one process: they share DuckDB's database instance,
    so the process-wide locks keep them apart, and the second re-decides after waiting."""
    concurrent_project.write({"delay": "0.5"})
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(concurrent_project.run())) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert [r.status for r in results] == ["success", "success"], [r.error for r in results]
    check_exact_rows(concurrent_project)


def test_a_database_file_held_by_another_process_is_waited_for_then_times_out(
    make_project: MakeProject,
) -> None:
    project = make_project({"models/one.sql": "SELECT 1 AS id"})
    project.run_ok()
    events_seen = []
    holder = subprocess.Popen(  # another process holds the file open (as a running run does)
        [sys.executable, "-c", HOLD, str(project.db_path())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        from interlace.api import run_sync

        result = None
        with pytest.raises(LockTimeoutError) as info:
            result = run_sync(project.root, lock_timeout=0.3, on_event=events_seen.append)
        assert result is None
        assert "is locked by another run" in info.value.message
        assert "waited 0.3 s" in info.value.message
        waiting = [e for e in events_seen if e.type == "lock.waiting"]
        assert waiting and "database file" in waiting[0].target  # type: ignore[attr-defined]

        with pytest.raises(LockTimeoutError, match="--no-wait was given"):
            run_sync(project.root, lock_timeout=0)
    finally:
        holder.communicate(timeout=60)  # closing its stdin lets it go
    assert project.run_ok().models["one"].status in ("success", "skipped")


def test_lock_wait_stops_when_the_run_is_cancelled() -> None:
    wait = LockWait(timeout=60)
    key = ("test", "cancel", "me")
    with PROCESS_LOCKS.hold(key, "table x", LockWait()):
        threading.Timer(0.1, wait.cancelled.set).start()
        with pytest.raises(RunCancelledError), PROCESS_LOCKS.hold(key, "table x", wait):
            pass


def test_cli_like_script_output_names_the_holder_while_waiting(make_project: MakeProject) -> None:
    """A waiting run says who holds the lock (the progress line of `interlace run`)."""
    project = make_project({"models/one.sql": "SELECT 1 AS id"})
    project.run_ok()
    script = textwrap.dedent(
        """
        import sys
        import interlace
        def show(event):
            if event.type == "lock.waiting":
                print("waiting:", event.target, "held by", event.holder, flush=True)
        result = interlace.run_sync(sys.argv[1], on_event=show, lock_timeout=60)
        print(result.status, flush=True)
        """
    )
    holder = duckdb.connect(str(project.db_path()))
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(project.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("waiting:"), line + process.stderr.read()  # type: ignore[union-attr]
        assert "database file" in line and "pid" in line
    finally:
        holder.close()  # the waiting run goes on at once
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert out.strip().splitlines()[-1] == "success"
