"""ingest: Python models that hand Interlace Arrow data.

* table: the model returns a 10M-row ``pyarrow.Table`` (built once, before timing, and shared
  through :mod:`benchmarks.shared`, so the timing is the ingest, not the data generation).
  Raw = ``CREATE TABLE ... AS SELECT * FROM <that table>`` on a raw DuckDB connection.
* generator: the model yields the same 10M rows as Arrow record batches made on the fly.
  Raw = ``CREATE TABLE ... AS`` from a ``RecordBatchReader`` over the same generator.
  The peak RSS of this case is measured in a subprocess (``ru_maxrss``), for Interlace and raw.

Both sides write to a fresh DuckDB file; connect + write + close are timed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from benchmarks import shared
from benchmarks.core import (
    REPO_ROOT,
    Bench,
    Figure,
    check_run,
    median,
    reset_project_state,
    subprocess_env,
    write_files,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pyarrow as pa

BATCH_ROWS = 100_000
CONFIG = """\
name: bench_ingest
connections:
  default:
    type: duckdb
    path: data/bench.duckdb
"""

MODELS = '''\
from interlace import model

from benchmarks import shared
from benchmarks.workloads.ingest import batches


@model
def events_table():
    """The prepared Arrow table, returned whole."""
    return shared.DATA["table"]


@model
def events_batches():
    """The same rows, yielded batch by batch as they are made."""
    yield from batches(shared.ROWS)
'''


def _template(rows: int) -> list[Any]:
    import numpy as np
    import pyarrow as pa

    idx = np.arange(rows)
    labels = np.array([f"label_{i:03d}" for i in range(1000)], dtype=object)
    return [
        pa.array((idx % 1000).astype(np.int32)),
        pa.array(((idx * 7919) % 100000) / 100.0),
        pa.array(labels[idx % 1000], type=pa.string()),
    ]


SCHEMA_NAMES = ["id", "grp", "amount", "label"]


def batches(rows: int, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """``rows`` rows as record batches; only the id column is new per batch (cheap to make)."""
    import numpy as np
    import pyarrow as pa

    template = _template(min(rows, batch_rows))
    start = 0
    while start < rows:
        n = min(batch_rows, rows - start)
        ids = pa.array(np.arange(start, start + n, dtype=np.int64))
        cols = template if n == len(template[0]) else [c.slice(0, n) for c in template]
        yield pa.RecordBatch.from_arrays([ids, *cols], names=SCHEMA_NAMES)
        start += n


def schema() -> pa.Schema:
    return next(batches(1)).schema


def raw_table(db: Path, table: pa.Table) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    try:
        con.register("__src", table)
        con.execute("CREATE TABLE events_table AS SELECT * FROM __src")
    finally:
        con.close()


def raw_batches(db: Path, rows: int) -> None:
    import duckdb
    import pyarrow as pa

    con = duckdb.connect(str(db))
    try:
        reader = pa.RecordBatchReader.from_batches(schema(), batches(rows))
        con.register("__src", reader)
        con.execute("CREATE TABLE events_batches AS SELECT * FROM __src")
    finally:
        con.close()


def count(db: Path, table: str) -> int:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])
    finally:
        con.close()


def run(bench: Bench) -> list[Figure]:
    import pyarrow as pa

    rows = int(bench.options.get("rows") or bench.pick(10_000_000, 500_000, 200_000))
    n = f"{rows // 1_000_000}M" if rows >= 1_000_000 else f"{rows // 1000}k"
    bench.log(f"building a {n}-row Arrow table")
    shared.ROWS = rows
    shared.DATA["table"] = pa.Table.from_batches(list(batches(rows)))
    project = bench.folder("project")
    write_files(project, {"config.yaml": CONFIG, "models/events.py": MODELS})
    raw_dir = bench.folder("raw")
    times: dict[str, list[float]] = {k: [] for k in ("i_table", "r_table", "i_gen", "r_gen")}
    bench.log(f"{bench.reps} repetition(s)")
    try:
        for rep in range(bench.reps):
            db = raw_dir / f"t{rep}.duckdb"
            times["r_table"].append(
                bench.raw("table", lambda db=db: raw_table(db, shared.DATA["table"]))
            )
            if count(db, "events_table") != rows:
                raise RuntimeError("raw table ingest lost rows")
            db.unlink()
            db = raw_dir / f"g{rep}.duckdb"
            times["r_gen"].append(bench.raw("generator", lambda db=db: raw_batches(db, rows)))
            db.unlink()
            for model, key in (("events_table", "i_table"), ("events_batches", "i_gen")):
                reset_project_state(project)
                seconds, result = bench.run_interlace(
                    f"{model} ({n} rows)", project, select=[model]
                )
                times[key].append(seconds)
                check_run(result)
                if result.models[model].rows != rows:
                    raise RuntimeError(f"{model} wrote {result.models[model].rows} rows")
    finally:
        shared.DATA.clear()
    bench.log("peak RSS of the generator case (subprocesses)")
    rss_i = _rss_child(bench, "interlace", project, rows)
    rss_r = _rss_child(bench, "raw", raw_dir, rows)
    figures = [
        Figure(
            "ingest",
            f"Arrow table, {n} rows",
            median(times["i_table"]),
            median(times["r_table"]),
            kind="ratio",
            target=1.2,
            samples={"interlace": times["i_table"], "raw": times["r_table"]},
        ),
        Figure(
            "ingest",
            f"generator of Arrow batches, {n} rows",
            median(times["i_gen"]),
            median(times["r_gen"]),
            kind="ratio",
            target=1.2,
            samples={"interlace": times["i_gen"], "raw": times["r_gen"]},
        ),
        Figure(
            "ingest",
            f"generator peak RSS, {n} rows (interlace)",
            None,
            None,
            kind="mb",
            target=600.0 if rows >= 10_000_000 else None,
            value=rss_i["maxrss_mb"],
            note=f"raw DuckDB CTAS from the same generator peaks at {rss_r['maxrss_mb']:.0f} MB; "
            f"a bare interpreter with duckdb+pyarrow imported at {rss_r['baseline_mb']:.0f} MB",
        ),
    ]
    return figures


def _rss_child(bench: Bench, side: str, folder: Path, rows: int) -> dict[str, float]:
    if side == "interlace":
        reset_project_state(folder)
    env = subprocess_env()
    # Through /bin/sh, which forks the interpreter: Linux carries the RSS of the process image an
    # exec replaces into ru_maxrss, so a child exec'd straight from this (large) process would
    # report at least this process's own RSS. sh's image is tiny.
    command = [sys.executable, "-m", "benchmarks.workloads.ingest", side, str(folder), str(rows)]
    completed = subprocess.run(
        ["/bin/sh", "-c", '"$0" "$@"; exit $?', *command],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"RSS subprocess ({side}) failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _child(side: str, folder: str, rows: int) -> None:
    """Subprocess entry: run the generator case once and print its peak RSS as JSON."""
    import resource
    import time
    from pathlib import Path

    import duckdb  # noqa: F401  (the baseline includes the engine and Arrow)
    import pyarrow  # noqa: F401

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    if side == "interlace":
        import interlace

        shared.ROWS = rows
        result = interlace.run_sync(folder, select=["events_batches"])
        check_run(result)
    else:
        db = Path(folder) / "rss.duckdb"
        raw_batches(db, rows)
        db.unlink()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    hwm = None
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) / 1024
    except OSError:
        pass
    print(
        json.dumps(
            {"maxrss_mb": peak, "vmhwm_mb": hwm, "baseline_mb": baseline, "seconds": seconds}
        )
    )


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]))
