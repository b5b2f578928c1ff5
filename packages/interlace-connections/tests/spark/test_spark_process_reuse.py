"""A long-lived process (``interlace serve``) runs many runs; each opens and closes its engines.
The Spark a spark connection starts stays up for the process, so the second run does not start
Spark again (seconds), and the process stops it when it exits."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from interlace.testing import ProjectFolder

from .conftest import require_java

CONFIG = """\
name: spark_reuse
connections:
  default:
    type: spark
    master: local[1]
    catalog: in-memory
    conf:
      spark.sql.shuffle.partitions: 2
"""

# runs in a process of its own (the test worker's Spark would be reused trivially)
TWO_RUNS = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from interlace.testing import ProjectFolder
    from interlace_connections.spark import startup

    project = ProjectFolder(Path(sys.argv[1]))
    out = {}
    for n in (1, 2):
        started = time.perf_counter()
        result = project.run(force=True)
        spark = startup.running_session()
        out[f"run{n}"] = {
            "ok": result.success,
            "rows": result.models["doubled"].rows if "doubled" in result.models else None,
            "seconds": time.perf_counter() - started,
            "session": id(spark),
            "application": spark.sparkContext.applicationId if spark is not None else None,
        }
    print(json.dumps(out))
    """
)


def test_a_second_run_in_the_same_process_reuses_spark(tmp_path: Path) -> None:
    require_java()
    project = ProjectFolder.create(tmp_path / "project", config=CONFIG)
    project.write(
        {
            "models/base.sql": "SELECT * FROM range(10) AS t(n)",
            "models/doubled.sql": "SELECT n * 2 AS n FROM base",
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", TWO_RUNS, str(project.root)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    first, second = runs["run1"], runs["run2"]
    assert first["ok"] and second["ok"], runs
    assert first["rows"] == second["rows"] == 10
    # one Spark for both runs: the same session and Spark application
    assert first["application"] is not None
    assert second["session"] == first["session"]
    assert second["application"] == first["application"]
