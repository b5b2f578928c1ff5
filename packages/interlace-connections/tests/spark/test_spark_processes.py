"""Several processes on one Spark project with the embedded Derby metastore (the Hive catalog
under the project's folder): kill -9 during a write leaves the published view on the old
version and the next run cleans up; a second process gets an error naming the fix.

Each step is a real ``interlace`` process with its own Spark; every wait polls with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from interlace.testing import ProjectFolder

from .conftest import require_java

INTERLACE = str(Path(sys.executable).parent / "interlace")

CONFIG = """\
name: spark_processes
connections:
  default:
    type: spark
    master: local[1]
    conf:
      spark.sql.shuffle.partitions: 2
"""

SOURCE = "SELECT * FROM (VALUES {rows}) AS t(id, v)"
MERGED = "-- @strategy: merge_by_key\n-- @primary_key: id\nSELECT id, v FROM src{where}"
# a statement that takes minutes inside Spark: the write is under way when the test kills it
SLOW = " WHERE coalesce(reflect('java.lang.Thread', 'sleep', CAST(600000 AS BIGINT)), 'x') = 'x'"

INSPECT = """
import json, sys
from interlace.opening import open_engines
from interlace.testing import ProjectFolder

project = ProjectFolder(sys.argv[1])

def state():
    engine = open_engines(project.load(), ["default"])["default"]
    session = engine.session()
    try:
        view = session.view_query("main", "m") or ""
        names = sorted(n for s, n, k in engine.list_relations("m__v%"))
        rows = session.fetch_all("SELECT id, v FROM main.m ORDER BY id")
    finally:
        session.close()
    return {"view": view, "versions": names, "rows": [list(r) for r in rows]}

before = state()
result = project.run()
after = state()
print(json.dumps({"before": before, "status": result.status, "after": after}))
"""


def poll(what: str, check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g}s waiting for {what}")
        time.sleep(0.2)  # polling interval, not a fixed wait


def versions_on_disk(root: Path) -> list[str]:
    folder = root / "spark" / "warehouse" / "main.db"
    return sorted(p.name for p in folder.glob("m__v*")) if folder.is_dir() else []


def gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_kill_during_a_write_and_a_second_process(tmp_path: Path) -> None:
    require_java()
    root = tmp_path / "project"
    project = ProjectFolder.create(root, config=CONFIG).write(
        {
            "models/src.sql": SOURCE.format(rows="(1, 'a'), (2, 'b')"),
            "models/m.sql": MERGED.format(where=""),
        }
    )
    first = subprocess.run(
        [INTERLACE, "run"], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert first.returncode == 0, first.stdout + first.stderr
    published = versions_on_disk(root)
    assert len(published) == 1

    project.write({"models/m.sql": MERGED.format(where=SLOW)})
    writer = subprocess.Popen(
        [INTERLACE, "run"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the JVM dies with it
    )
    try:
        # the new version (a copy of the published one) exists: the batch is being written
        poll("the run to start writing m", lambda: len(versions_on_disk(root)) == 2, 240)

        second = subprocess.run(
            [INTERLACE, "run"], cwd=root, capture_output=True, text=True, timeout=300
        )
        output = second.stdout + second.stderr
        assert second.returncode != 0
        assert "another process holds the embedded Derby metastore" in output
        assert "Spark Connect" in output and "hive.metastore.uris" in output
        assert "Traceback" not in output
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait(timeout=60)
    poll("the killed run's JVM to exit", lambda: gone(writer.pid), 60)

    project.write(
        {
            "models/src.sql": SOURCE.format(rows="(1, 'a'), (2, 'B'), (3, 'c')"),
            "models/m.sql": MERGED.format(where=""),
        }
    )
    inspect = subprocess.run(
        [sys.executable, "-c", INSPECT, str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert inspect.returncode == 0, inspect.stderr[-3000:]
    found: dict[str, Any] = json.loads(inspect.stdout.strip().splitlines()[-1])
    before, after = found["before"], found["after"]
    # the kill left the view on the old version, and an unpublished one beside it
    assert published[0] in before["view"]
    assert before["rows"] == [[1, "a"], [2, "b"]]
    assert len(before["versions"]) == 2
    leftover = next(n for n in before["versions"] if n != published[0])
    # the next run dropped the leftover and published a new version on top of the old one
    assert found["status"] == "success"
    assert leftover not in after["versions"]
    assert after["versions"][0] == published[0]  # kept: one version older than the published
    assert after["versions"][-1] in after["view"]
    assert after["rows"] == [[1, "a"], [2, "B"], [3, "c"]]
