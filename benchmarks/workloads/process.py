"""process: whole processes, the ``interlace`` command against a raw Python process.

Every timed call on both sides is a fresh subprocess, timed from before it is started to after
it has exited, so interpreter start, imports, project loading and the state store count. The
raw side is ``python raw.py DB STATEMENTS.json``: import duckdb, connect, execute the same SQL,
close. Repetitions are interleaved (raw, Interlace, raw, Interlace, ...), medians are reported,
and bytecode is compiled (one untimed warm-up call of each kind first; see
:func:`benchmarks.core.subprocess_env`). Variants:

* **dag, cold**: the ``dag`` workload's generated 200-model project, ``interlace run -w 1`` and
  ``interlace run`` (default ``executor.max_workers``) on a fresh database with no
  ``.interlace/`` folder (no state, no parse cache), against the same ``CREATE TABLE ... AS``
  statements in one raw process. Per-model overhead (interlace - raw) / 200, target <= 3 ms
  (1 worker).
* **dag no-op re-run**: ``interlace run`` of 1000 models right after a full run: every model is
  skipped (target <= 0.5 s). Raw column: ``python`` that imports duckdb, opens the file and
  closes it.
* **info, no cache**: ``interlace info --no-check`` on 1000 models with no ``.interlace/`` folder
  (every SQL file parsed; target <= 1 s). Raw column: ``python -c "import duckdb"``.
* **upsert, wide**: a ``merge_by_key`` model ``select * from batch`` over the wide random rows
  of :mod:`benchmarks.wide` (1M into 10M) against DELETE of matching keys + INSERT of the batch
  in one transaction (target <= 1.3x), and the peak RSS of both (``ru_maxrss`` of a child
  started through ``/bin/sh``, target <= 1.5x raw).
* **scd2, wide**: the second batch into a ``scd_type_2`` dimension of 1M keys (10% changed, 1%
  deleted, 1% new; the first load an untimed Interlace run) against the hand-written SQL of the
  ``scd2`` workload (target <= 1.3x).
* **start to first model**: from starting ``interlace run`` to the moment its first model (a
  Python model) reads the clock, against starting ``python`` to the moment it has imported
  duckdb (target <= raw + 0.15 s).

``python -X importtime`` of ``interlace run`` on the start-up project prints the slowest modules
on the run path after the table. Both sides' results are compared (table counts and sums) and a
disagreement fails the workload.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import wide
from benchmarks.core import (
    Bench,
    Figure,
    copy_file,
    count_label,
    duckdb_row,
    median,
    reset_project_state,
    subprocess_env,
    write_files,
)
from benchmarks.served import load_average
from benchmarks.workloads import dag, scd2, startup
from benchmarks.workloads.startup import interlace_command

RAW_SCRIPT = """\
import json, sys
import duckdb

con = duckdb.connect(sys.argv[1])
try:
    with open(sys.argv[2], encoding="utf-8") as statements:
        for statement in json.load(statements):
            con.execute(statement)
finally:
    con.close()
"""

# the raw side of "start to first model": the interpreter and the engine, then the clock
RAW_STAMP = "import duckdb, sys, time; open(sys.argv[1], 'w').write(repr(time.time()))"

FIRST_MODEL = """\
import os
import time

from interlace import model


@model
def first_model():
    stamp = time.time()
    with open(os.environ["BENCH_FIRST_MODEL_STAMP"], "w", encoding="utf-8") as out:
        out.write(repr(stamp))
    return [{"id": 1, "started": stamp}]
"""

FIRST_SQL = "select id, started from first_model\n"

# ru_maxrss of one whole side, in a child of /bin/sh (see _peak_rss)
RSS_CHILD = """\
import json, resource, runpy, sys

out, side, *args = sys.argv[1:]
if side == "interlace":
    sys.argv = ["interlace", *args]
    from interlace_cli.main import main
    try:
        main()
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise
else:
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with open(out, "w", encoding="utf-8") as result:
    json.dump({"maxrss_mb": peak}, result)
"""

UPSERT_CONFIG = """\
name: bench_process_upsert
connections:
  default:
    type: duckdb
    path: data/bench.duckdb
"""

UPSERT_MODEL = """\
-- @strategy: merge_by_key
-- @primary_key: id
select * from batch
"""

RAW_UPSERT = """
BEGIN TRANSACTION;
DELETE FROM target WHERE id IN (SELECT id FROM batch);
INSERT INTO target SELECT * FROM batch;
COMMIT;
"""


class Sides:
    """Starts the two sides as subprocesses and times them."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.env = subprocess_env()
        self.cli = interlace_command()
        self.script = bench.tmp / "raw.py"
        self.script.write_text(RAW_SCRIPT, encoding="utf-8")

    def call(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
        started = time.perf_counter()
        done = subprocess.run(
            args, cwd=cwd, env=env or self.env, capture_output=True, text=True, timeout=1800
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(args)}` in {cwd} exited {done.returncode}:\n"
                f"{(done.stdout + done.stderr)[-3000:]}"
            )
        return elapsed

    def interlace(self, project: Path, *args: str, env: dict[str, str] | None = None) -> float:
        return self.call([*self.cli, *args], project, env)

    def statements(self, name: str, statements: list[str]) -> Path:
        path = self.bench.tmp / f"{name}.json"
        path.write_text(json.dumps(statements), encoding="utf-8")
        return path

    def raw(self, db: Path, statements: Path) -> float:
        return self.call([sys.executable, str(self.script), str(db), str(statements)], db.parent)

    def raw_from(self, prepared: Path, db: Path, statements: Path) -> float:
        """:meth:`raw` on ``db``, a fresh copy of the database file ``prepared``."""
        copy_file(prepared, db)
        return self.raw(db, statements)

    def interlace_from(self, template: Path, project: Path, *args: str) -> float:
        """:meth:`interlace` in ``project``, a fresh copy of the project folder ``template``."""
        shutil.rmtree(project, ignore_errors=True)
        shutil.copytree(template, project)
        return self.interlace(project, *args)

    def python(self, *args: str) -> float:
        return self.call([sys.executable, *args], self.bench.tmp)


def run(bench: Bench) -> list[Figure]:
    sides = Sides(bench)
    before = load_average()
    bench.log(f"load average before: {before}")
    figures: list[Figure] = []
    figures += start_to_first_model(bench, sides)
    figures += dag_cold(bench, sides)
    figures += dag_noop_and_info(bench, sides)
    figures += upsert_wide(bench, sides)
    figures += scd2_wide(bench, sides)
    after = load_average()
    bench.log(f"load average after: {after}")
    figures[0].note += f"; load average (1, 5, 15 min) before {before}, after {after}"
    return figures


# ---------------------------------------------------------------------------- start-up


def start_to_first_model(bench: Bench, sides: Sides) -> list[Figure]:
    project = bench.folder("first_model")
    write_files(
        project,
        {
            "config.yaml": "name: first_model\nconnections:\n  default:\n    type: duckdb\n"
            "    path: data/bench.duckdb\n",
            "models/first_model.py": FIRST_MODEL,
            "models/after_first.sql": FIRST_SQL,
        },
    )
    stamp = bench.tmp / "first-model.stamp"
    env = {**sides.env, "BENCH_FIRST_MODEL_STAMP": str(stamp)}

    def interlace_once() -> float:
        reset_project_state(project)
        spawned = time.time()
        sides.interlace(project, "run", env=env)
        return float(stamp.read_text()) - spawned

    def raw_once() -> float:
        spawned = time.time()
        sides.python("-c", RAW_STAMP, str(stamp))
        return float(stamp.read_text()) - spawned

    # untimed warm-up of both: compiles the run path's bytecode, fills the page cache
    interlace_once()
    raw_once()
    times: dict[str, list[float]] = {"interlace": [], "raw": []}
    bench.log(f"start to first model: {bench.reps} repetition(s)")
    for _ in range(bench.reps):
        times["raw"].append(raw_once())
        times["interlace"].append(interlace_once())
    reset_project_state(project)
    bench.reports["process imports"] = import_report(sides, project, env)
    i, r = median(times["interlace"]), median(times["raw"])
    return [
        Figure(
            "process",
            "start to first model (Python model)",
            i,
            r,
            kind="info",
            samples=times,
            note="raw = `python` until `import duckdb` is done",
        ),
        Figure(
            "process",
            "start to first model: interlace - raw",
            None,
            None,
            kind="ms",
            target=150,
            value=None if i is None or r is None else (i - r) * 1000,
        ),
    ]


IMPORT_CHILD = startup.IMPORT_CHILD


def import_report(sides: Sides, project: Path, env: dict[str, str], top: int = 15) -> str:
    """The slowest imports of ``interlace run`` on ``project`` (``python -X importtime``)."""
    from benchmarks.core import shorten_paths

    reset_project_state(project)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IMPORT_CHILD, "run"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    reset_project_state(project)
    if done.returncode != 0:
        return f"(python -X importtime failed: {done.stderr[-2000:]})"
    return shorten_paths(
        "===== process: slowest imports of `interlace run` (first-model project, "
        "-X importtime) =====\n" + startup._imports(done.stderr, top=top)
    )


# ---------------------------------------------------------------------------- dag


def dag_summary(db: Path, names: list[str]) -> tuple[int, int]:
    """Rows over every model table and the sum of their rounded value sums."""
    parts = " UNION ALL ".join(
        f"SELECT count(*) AS c, round(sum(v)) AS s FROM {name}" for name in names
    )
    row = duckdb_row(db, f"SELECT sum(c), sum(s) FROM ({parts})")
    return int(row[0]), int(row[1])


def dag_cold(bench: Bench, sides: Sides) -> list[Figure]:
    n = int(bench.options.get("dag_models") or bench.pick(200, 200, 20))
    models = dag.generate(n)
    names = [m[0] for m in models]
    project = bench.folder(f"dag_{n}")
    dag.write_project(project, models)
    statements = sides.statements(
        f"dag_{n}", [f"CREATE TABLE main.{name} AS {sql}" for name, sql, _ in models]
    )
    raw_db = bench.folder(f"dag_{n}_raw") / "raw.duckdb"
    db = project / "data" / "bench.duckdb"
    variants = {"1 worker": ("run", "-w", "1"), "default workers": ("run",)}
    times: dict[str, list[float]] = {"raw": [], **{k: [] for k in variants}}
    bench.log(f"dag {n} models cold: {bench.reps} repetition(s); load {load_average()}")
    for rep in range(bench.reps + 1):  # the first is an untimed warm-up
        raw_db.unlink(missing_ok=True)
        seconds = sides.raw(raw_db, statements)
        if rep:
            times["raw"].append(seconds)
        expected = dag_summary(raw_db, names) if rep == 0 else None
        for key, args in variants.items():
            reset_project_state(project)
            seconds = sides.interlace(project, *args)
            if rep:
                times[key].append(seconds)
            elif dag_summary(db, names) != expected:
                raise RuntimeError(
                    f"dag {n} ({key}): interlace and raw tables disagree: "
                    f"{dag_summary(db, names)} != {expected}"
                )
    return [
        Figure(
            "process",
            f"dag {n} models cold, {key}",
            median(times[key]),
            median(times["raw"]),
            kind="per_model",
            target=3.0 if key == "1 worker" else None,
            n=n,
            samples={"interlace": times[key], "raw": times["raw"]},
            note=""
            if key == "1 worker"
            else f"default executor.max_workers on {os.cpu_count()} cores",
        )
        for key in variants
    ]


def dag_noop_and_info(bench: Bench, sides: Sides) -> list[Figure]:
    n = int(bench.options.get("noop_models") or bench.pick(1000, 1000, 50))
    models = dag.generate(n)
    project = bench.folder(f"dag_{n}_noop")
    dag.write_project(project, models)
    info_project = bench.folder(f"dag_{n}_info")
    dag.write_project(info_project, models)
    bench.log(f"dag {n} models: full run (untimed), then no-op re-runs and info")
    sides.interlace(project, "run")
    db = project / "data" / "bench.duckdb"
    opened = "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"
    times: dict[str, list[float]] = {"noop": [], "info": [], "raw_open": [], "raw_import": []}
    for rep in range(bench.reps + 1):  # the first is an untimed warm-up
        raw_open = sides.python("-c", opened, str(db))
        noop = sides.interlace(project, "run")
        raw_import = sides.python("-c", "import duckdb")
        shutil.rmtree(info_project / ".interlace", ignore_errors=True)
        info = sides.interlace(info_project, "info", "--no-check")
        if rep:
            for key, value in (
                ("noop", noop),
                ("info", info),
                ("raw_open", raw_open),
                ("raw_import", raw_import),
            ):
                times[key].append(value)
    skipped = _last_run_all_skipped(project)
    if not skipped:
        raise RuntimeError(f"the no-op re-run of {n} models ran models: {skipped}")
    return [
        Figure(
            "process",
            f"dag {n} models no-op re-run",
            median(times["noop"]),
            median(times["raw_open"]),
            kind="seconds",
            target=0.5 if n >= 1000 else None,
            samples={"interlace": times["noop"], "raw": times["raw_open"]},
            note="raw = `python` importing duckdb, opening and closing the file",
        ),
        Figure(
            "process",
            f"info --no-check, {n} models, no cache",
            median(times["info"]),
            median(times["raw_import"]),
            kind="seconds",
            target=1.0 if n >= 1000 else None,
            samples={"interlace": times["info"], "raw": times["raw_import"]},
            note="raw = `python -c 'import duckdb'`",
        ),
    ]


def _last_run_all_skipped(project: Path) -> bool:
    """Whether the project's newest recorded run skipped every model (its state store)."""
    import sqlite3

    store = project / ".interlace"
    files = sorted(store.glob("*.db")) + sorted(store.glob("*.sqlite"))
    if not files:
        raise RuntimeError(f"no state store found in {store}")
    con = sqlite3.connect(files[0])
    try:
        row = con.execute(
            "SELECT models, skipped FROM runs ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    return bool(row) and row[0] > 0 and row[0] == row[1]


# ---------------------------------------------------------------------------- upsert


def upsert_wide(bench: Bench, sides: Sides) -> list[Figure]:
    target_rows = int(
        bench.options.get("target_rows") or bench.pick(10_000_000, 1_000_000, 200_000)
    )
    batch_rows = int(bench.options.get("batch_rows") or target_rows // 10)
    label = f"upsert wide {count_label(batch_rows)} into {count_label(target_rows)}"
    bench.log(f"preparing {label}")
    prepared = wide.prepared_upsert(bench, target_rows, batch_rows)
    project = bench.folder("upsert")
    write_files(project, {"config.yaml": UPSERT_CONFIG, "models/target.sql": UPSERT_MODEL})
    db = project / "data" / "bench.duckdb"
    raw_db = bench.folder("upsert_raw") / "raw.duckdb"
    statements = sides.statements("upsert", [RAW_UPSERT])

    def interlace() -> float:
        copy_file(prepared, db)
        shutil.rmtree(project / ".interlace", ignore_errors=True)
        return sides.interlace(project, "run")

    figure = _against_raw(
        bench,
        label,
        partial(sides.raw_from, prepared, raw_db, statements),
        interlace,
        lambda: {
            "raw": duckdb_row(raw_db, wide.upsert_summary_sql()),
            "interlace": duckdb_row(db, wide.upsert_summary_sql()),
        },
        note="raw = DELETE of matching keys + INSERT of the batch in one transaction, "
        "in its own python process",
    )
    bench.log("peak RSS of the upsert (subprocesses)")
    copy_file(prepared, raw_db)
    rss_raw = _peak_rss(
        bench, sides, "raw", raw_db.parent, [str(sides.script), str(raw_db), str(statements)]
    )
    copy_file(prepared, db)
    shutil.rmtree(project / ".interlace", ignore_errors=True)
    rss_i = _peak_rss(bench, sides, "interlace", project, ["run"])
    return [
        figure,
        Figure(
            "process",
            f"{label}: peak RSS, interlace / raw",
            None,
            None,
            kind="factor",
            target=1.5,
            value=rss_i / rss_raw,
            note=f"ru_maxrss: interlace {rss_i:.0f} MB, raw {rss_raw:.0f} MB",
        ),
    ]


def _against_raw(
    bench: Bench,
    label: str,
    raw: Callable[[], float],
    interlace: Callable[[], float],
    results: Callable[[], dict[str, Any]],
    note: str,
    what: str = "",
) -> Figure:
    """Interleaved repetitions of ``raw`` and ``interlace`` (each prepares its copy and times
    its process); after the first, ``results()`` (each side's result by side) must agree, else
    the workload fails (``what`` names the compared values). The ratio figure, target 1.3x."""
    times: dict[str, list[float]] = {"interlace": [], "raw": []}
    bench.log(f"{label}: {bench.reps} repetition(s); load {load_average()}")
    for rep in range(bench.reps):
        times["raw"].append(raw())
        times["interlace"].append(interlace())
        if rep == 0:
            checks = results()
            if checks["raw"] != checks["interlace"]:
                raise RuntimeError(f"{label}: interlace and raw disagree{what}: {checks}")
    return Figure(
        "process",
        label,
        median(times["interlace"]),
        median(times["raw"]),
        kind="ratio",
        target=1.3,
        samples=times,
        note=note,
    )


def _peak_rss(bench: Bench, sides: Sides, side: str, cwd: Path, args: list[str]) -> float:
    """``ru_maxrss`` (MB) of one side run in a child of ``/bin/sh``.

    Linux carries the peak RSS of the image an ``exec`` replaces into the new image's
    ``ru_maxrss``: a child exec'd straight from this (large) process would report at least this
    process's RSS. ``sh`` forks the interpreter from its own tiny image instead."""
    out = bench.tmp / f"rss-{side}.json"
    command = [sys.executable, "-c", RSS_CHILD, str(out), side, *args]
    done = subprocess.run(
        ["/bin/sh", "-c", '"$0" "$@"; exit $?', *command],
        cwd=cwd,
        env=sides.env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"peak RSS child ({side}) failed:\n{done.stderr[-3000:]}")
    return float(json.loads(out.read_text())["maxrss_mb"])


# ---------------------------------------------------------------------------- scd2


def scd2_wide(bench: Bench, sides: Sides) -> list[Figure]:
    rows = int(bench.options.get("rows") or bench.pick(1_000_000, 100_000, 20_000))
    label = f"scd2 wide {count_label(rows)} keys, 2nd batch"
    bench.log(f"preparing {label}")
    source = wide.prepared_scd2(bench, rows)
    template = scd2.first_load(bench, source)
    project = bench.tmp / "scd2_project"
    raw_db = bench.folder("scd2_raw") / "raw.duckdb"
    statements = sides.statements("scd2", [scd2.raw_sql("2030-01-01 00:00:00", wide.SCD2_TRACKED)])

    return [
        _against_raw(
            bench,
            label,
            partial(sides.raw_from, template / "data" / "bench.duckdb", raw_db, statements),
            partial(sides.interlace_from, template, project, "run"),
            lambda: {
                "raw": scd2.summary(raw_db),
                "interlace": scd2.summary(project / "data" / "bench.duckdb"),
            },
            note="10% changed, 1% deleted, 1% new; raw = the scd2 workload's SQL in its own "
            "python process",
            what=" (rows, current, closed, hashes)",
        )
    ]
