"""Ctrl-C and kill -9 during `interlace run`: the next run converges (SPEC §6.1)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Folder

# `slow` touches started.flag, then yields SLOW_ROWS rows at 20 per second (3 rows by default)
SLOW_PROJECT = {
    "models/slow.py": """
        import os
        import time
        from pathlib import Path

        from interlace import model


        @model
        def fast():
            return [{"id": 1}]


        @model
        def slow():
            Path("started.flag").touch()
            for i in range(int(os.environ.get("SLOW_ROWS", "3"))):
                time.sleep(0.05)
                yield {"id": i}
    """,
    "models/after.sql": """
        -- @name: after_slow
        select count(*) as n from slow
    """,
}


def wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 300) -> None:
    """Wait until ``path`` exists (the slow model is running), failing if the run ended."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the run ended early ({process.returncode}):\n{out}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the slow model never started")
        time.sleep(0.05)


def leftovers(project: Folder) -> list[str]:
    """Staging tables and run schemas that only a run in progress should have."""
    names = [
        name
        for name in project.relations()
        if name.split(".")[1].startswith("__il_stage_") or name.startswith("__il_run_")
    ]
    schemas = project.sql("SELECT schema_name FROM information_schema.schemata")
    return names + [s for (s,) in schemas if s.startswith("__il_run_")]


def test_ctrl_c_cancels_the_run_with_exit_130_and_the_next_run_converges(
    project: Folder,
) -> None:
    project.write(SLOW_PROJECT)
    process = project.start("run", env={"SLOW_ROWS": "60"})
    wait_for(project.root / "started.flag", process)
    time.sleep(0.3)

    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=300)

    assert process.returncode == 130, (stdout, stderr)
    assert "cancelled" in stdout + stderr
    assert "Traceback (most recent call last)" not in stdout + stderr
    assert "after_slow" not in [line.split()[1] for line in stdout.splitlines() if "✓" in line]

    again = project.interlace("run")

    assert again.code == 0, again
    assert project.count("main.slow") == 3
    assert project.sql("SELECT n FROM main.after_slow") == [(3,)]
    assert leftovers(project) == []


def test_second_ctrl_c_stops_at_once(project: Folder) -> None:
    project.write(SLOW_PROJECT)
    process = project.start("run", env={"SLOW_ROWS": "6000"})  # 5 minutes if left alone
    wait_for(project.root / "started.flag", process)

    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    stdout, stderr = process.communicate(timeout=300)

    assert process.returncode == 130, (stdout, stderr)
    assert time.monotonic() - started < 60, "the second Ctrl-C did not stop the run"
    assert "Ctrl-C again" in stdout + stderr

    again = project.interlace("run")

    assert again.code == 0, again
    assert project.count("main.slow") == 3
    assert leftovers(project) == []


def test_kill_9_mid_run_leaves_the_published_tables_and_the_next_run_converges(
    project: Folder,
) -> None:
    project.write(SLOW_PROJECT)
    first = project.interlace("run")
    assert first.code == 0, first
    (project.root / "started.flag").unlink()

    process = project.start("run", "--force", env={"SLOW_ROWS": "6000"})
    wait_for(project.root / "started.flag", process)
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=300)

    assert process.returncode == -signal.SIGKILL
    assert project.count("main.slow") == 3, "the killed run changed a published table"

    again = project.interlace("run", "--force", env={"SLOW_ROWS": "5"})

    assert again.code == 0, again
    assert project.count("main.slow") == 5
    assert project.sql("SELECT n FROM main.after_slow") == [(5,)]
    assert leftovers(project) == []


def test_next_run_removes_what_a_killed_run_left_behind(project: Folder) -> None:
    project.write(SLOW_PROJECT)
    first = project.interlace("run")
    assert first.code == 0, first
    # what a run killed between staging and publishing leaves in the database
    con = duckdb.connect(str(project.db()))
    try:
        con.execute("CREATE TABLE main.__il_stage_slow_deadbeef AS SELECT 42 AS id")
        con.execute("CREATE SCHEMA __il_run_0123456789ab")
        con.execute("CREATE TABLE __il_run_0123456789ab.fast AS SELECT 1 AS id")
    finally:
        con.close()
    assert len(leftovers(project)) == 3

    again = project.interlace("run", "--force")

    assert again.code == 0, again
    assert leftovers(project) == []
    assert project.count("main.slow") == 3


def run_statuses(project: Folder) -> list[tuple[str, str | None]]:
    """``(status, error)`` of every run in the state store, oldest first."""
    con = sqlite3.connect(project.root / ".interlace" / "state.db")
    try:
        return con.execute("SELECT status, error FROM runs ORDER BY started_at").fetchall()
    finally:
        con.close()


def test_sigterm_cancels_the_run_records_it_cancelled_and_exits_143(project: Folder) -> None:
    project.write(SLOW_PROJECT)
    process = project.start("run", env={"SLOW_ROWS": "6000"})  # 5 minutes if left alone
    wait_for(project.root / "started.flag", process)
    time.sleep(0.3)

    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    stdout, stderr = process.communicate(timeout=300)

    assert process.returncode == 143, (stdout, stderr)
    assert time.monotonic() - started < 60, "SIGTERM did not stop the running model"
    assert "terminated (SIGTERM)" in stdout + stderr
    assert "Traceback (most recent call last)" not in stdout + stderr
    assert run_statuses(project) == [("cancelled", "run cancelled")]

    again = project.interlace("run")

    assert again.code == 0, again
    assert project.count("main.slow") == 3
    assert leftovers(project) == []


# 002 creates a table, says it started (COPY writes a file at once), then runs for hours
SLOW_MIGRATIONS = {
    "migrations/001_create_audit.up.sql": "CREATE TABLE audit (id INTEGER);\n",
    "migrations/002_backfill.up.sql": """
        CREATE TABLE backfill (id INTEGER);
        INSERT INTO backfill VALUES (1);
        COPY (SELECT 1 AS started) TO 'started.csv';
        CREATE TABLE total AS SELECT sum(a.range * b.range) AS s
        FROM range(1000000) AS a, range(1000000) AS b;
    """,
    "migrations/003_index.up.sql": "CREATE TABLE later (id INTEGER);\n",
}


def test_ctrl_c_during_migrate_rolls_back_the_migration_in_flight_and_exits_130(
    project: Folder,
) -> None:
    project.write(SLOW_MIGRATIONS)
    process = project.start("migrate")
    wait_for(project.root / "started.csv", process)

    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    stdout, stderr = process.communicate(timeout=300)
    listed = project.interlace("migrate", "--list")

    assert process.returncode == 130, (stdout, stderr)
    assert time.monotonic() - started < 60, "Ctrl-C did not interrupt the migration"
    output = stdout + stderr
    assert "Traceback (most recent call last)" not in output
    assert "RuntimeError" not in output and "Query interrupted" not in output, output
    assert "✓ up   001_create_audit" in stdout
    assert (
        "interrupted: 1 migration(s) applied; migration 002_backfill "
        "(migrations/002_backfill.up.sql) was rolled back; 1 later migration(s) not run"
    ) in stderr, output
    tables = {name.split(".")[1] for name in project.relations()}
    assert tables == {"audit"}, "the interrupted migration was not rolled back"
    states = [line.split()[:3] for line in listed.stdout.splitlines()[2:]]
    assert states == [
        ["001", "create_audit", "applied"],
        ["002", "backfill", "pending"],
        ["003", "index", "pending"],
    ], listed
