"""Two runs at once on PostgreSQL: each target is locked in the server (an advisory lock keyed
by database, schema and table), the waiter decides again, and every table stays exact.

Before the lock, two runs started together after 5,000 new keys left duplicate merge keys,
two current SCD2 rows per key and duplicated append rows, and both exited 0.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest
from interlace_connections.postgres.engine import advisory_key

if TYPE_CHECKING:
    from conftest import PgProject

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


def events(first: int, last: int, day: int, value: str = "a") -> list[dict[str, object]]:
    stamp = f"2024-01-{day:02d} 00:00:00"
    return [{"id": i, "updated_at": stamp, "v": value} for i in range(first, last)]


@pytest.fixture
def arrived(pg_project: PgProject) -> PgProject:
    pg_project.write(MODELS)
    pg_project.write({"delay": "0", "events.json": json.dumps(events(0, 5_000, 1))})
    pg_project.run_ok()
    # 5,000 new keys arrive, 1,000 keys change
    rows = events(0, 1_000, 2, "b") + events(1_000, 5_000, 1) + events(5_000, 10_000, 2)
    pg_project.write({"delay": "1", "events.json": json.dumps(rows)})
    return pg_project


def test_two_runs_started_together_write_every_table_exactly_once(arrived: PgProject) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RUN, str(arrived.root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["status"] for r in results] == ["success", "success"], results

    assert arrived.sql("SELECT count(*), count(DISTINCT id) FROM main.merged") == [(10_000, 10_000)]
    assert arrived.sql("SELECT count(*) FROM main.merged WHERE v = 'b'") == [(1_000,)]
    assert arrived.sql(
        "SELECT count(*), count(DISTINCT id) FROM main.history WHERE is_current"
    ) == [(10_000, 10_000)]
    assert arrived.sql("SELECT count(*) FROM main.history") == [(11_000,)]
    assert arrived.sql("SELECT count(*), count(DISTINCT (id, updated_at)) FROM main.appended") == [
        (11_000, 11_000)
    ]
    # and the next merge works (no "MERGE command cannot affect row a second time")
    arrived.write({"delay": "0", "events.json": json.dumps(events(0, 10_000, 3, "c"))})
    arrived.run_ok()
    assert arrived.sql("SELECT count(*), count(DISTINCT v) FROM main.merged") == [(10_000, 1)]


BLOCKING = """
import os
import time
from pathlib import Path

from interlace import model

ROOT = Path(__file__).parent.parent

def hold():
    (ROOT / f"inside-{os.getpid()}").write_text("")
    deadline = time.time() + 120
    while not (ROOT / "release").exists() and time.time() < deadline:
        time.sleep(0.01)

@model(strategy="merge_by_key", primary_key="id", cursor="updated_at")
def merged(raw_events):
    hold()
    return raw_events

@model(strategy="scd_type_2", primary_key="id")
def history(raw_events):
    hold()
    return raw_events.select("id", "v")

@model(strategy="append", cursor="updated_at")
def appended(raw_events):
    hold()
    return raw_events
"""

WATCH = """
import json, sys, threading
import interlace
lock = threading.Lock()  # events come from several worker threads: one whole line each
def show(event):
    if event.type == "lock.waiting":
        with lock:
            print(json.dumps([event.model, event.target, event.holder]), flush=True)
result = interlace.run_sync(sys.argv[1], on_event=show)
print(json.dumps({"status": result.status,
                  "models": {n: [m.status, m.skip_reason] for n, m in result.models.items()}}))
"""


def test_a_second_run_waits_for_the_tables_the_first_is_writing(
    arrived: PgProject, tmp_path: Any
) -> None:
    """Both runs reach the same three models; the second waits for each (saying who holds
    it), then finds them built and skips them: no row is written twice."""
    for name in ("merged.sql", "history.sql", "appended.sql"):
        (arrived.root / "models" / name).unlink()
    arrived.write({"models/blocking.py": BLOCKING, "delay": "0"})
    first = subprocess.Popen(
        [sys.executable, "-c", WATCH, str(arrived.root)], stdout=subprocess.PIPE, text=True
    )
    root = arrived.root
    deadline = time.time() + 60
    while not list(root.glob("inside-*")) and time.time() < deadline:
        time.sleep(0.01)  # until the first run is inside a model
    second = subprocess.Popen(
        [sys.executable, "-c", WATCH, str(root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert second.stdout is not None
        waiting = set()
        for _ in range(3):
            ready, _, _ = select.select([second.stdout], [], [], 60)
            assert ready, "the second run never waited for a lock"
            waiting.add(json.loads(second.stdout.readline())[0])
        assert waiting == {"merged", "history", "appended"}
    finally:
        (root / "release").write_text("")
    out_first, _ = first.communicate(timeout=120)
    out_second, _ = second.communicate(timeout=120)
    one = json.loads(out_first.strip().splitlines()[-1])
    two = json.loads(out_second.strip().splitlines()[-1])
    assert one["status"] == two["status"] == "success", (one, two)
    for name in ("merged", "history", "appended"):
        assert one["models"][name][0] == "success"
        status, reason = two["models"][name]
        assert status == "skipped" and "built meanwhile by another run" in reason
    assert arrived.sql("SELECT count(*), count(DISTINCT id) FROM main.merged") == [(10_000, 10_000)]
    assert arrived.sql(
        "SELECT count(*), count(DISTINCT id) FROM main.history WHERE is_current"
    ) == [(10_000, 10_000)]
    assert arrived.sql("SELECT count(*) FROM main.appended") == [(11_000,)]


def test_a_locked_target_fails_its_model_after_the_timeout_naming_the_holder(
    arrived: PgProject, pg_connect: Any
) -> None:
    arrived.write({"delay": "0"})
    key = advisory_key("main", "merged")
    holder = pg_connect(arrived.database)
    try:
        holder.execute("SET application_name = 'nightly-job'")
        holder.execute("SELECT pg_advisory_lock(%s)", (key,))
        result = arrived.run(lock_timeout=0)  # --no-wait
        merged = result.models["merged"]
        assert merged.status == "failed" and merged.error_type == "LockTimeoutError"
        assert merged.error is not None
        assert "table main.merged is locked by another run (nightly-job" in merged.error
        assert "--no-wait was given" in merged.error
        # models that do not collide ran
        assert result.models["history"].status == "success"
        assert result.models["appended"].status == "success"

        waited = arrived.run(["merged"], lock_timeout=0.5)
        assert waited.models["merged"].error is not None
        assert "waited 0.5 s" in waited.models["merged"].error
    finally:
        holder.close()  # the server releases the lock with the session
    arrived.run_ok(["merged"])
    assert arrived.sql("SELECT count(*), count(DISTINCT id) FROM main.merged") == [(10_000, 10_000)]
