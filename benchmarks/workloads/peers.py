"""peers: the same DAG, upsert and SCD2 with dbt-core + dbt-duckdb, SQLMesh and dlt.

Optional (not in the default set): the first call builds a venv of the peers under the
workdir's cache from ``benchmarks/peers-requirements.txt`` (every package pinned; ``uv`` when it
is on PATH, else ``python -m venv`` and pip), which needs the package index; when the venv
cannot be built the workload says so and reports nothing else. The versions installed are
printed after the table.

Every call on every side is a fresh subprocess, timed from start to exit, and repetitions are
interleaved (raw, Interlace, dbt, SQLMesh, dlt, raw, ...). Each row is a tool's median against
raw DuckDB (``python`` running the same SQL, as in the ``process`` workload): the ``interlace
s`` column holds the named tool's seconds.

* **dag**: the ``dag`` workload's generated 200-model project, cold (fresh database, no state,
  no parse or partial-parse cache), one thread: ``interlace run -w 1``, ``dbt run --threads 1``,
  ``sqlmesh plan --auto-apply`` (``concurrent_tasks: 1``).
* **upsert**: the wide random 1M-row batch into 10M rows (:mod:`benchmarks.wide`); every tool
  first loads the 10M rows into a table it owns (untimed), the timed call upserts the batch.
* **scd2**: the second batch of the wide 1M-key dimension (10% changed, 1% gone, 1% new); the
  first batch is loaded by each tool first (untimed).

How each tool's project is written: :mod:`benchmarks.peer_projects`. Results are compared with
raw DuckDB's (row counts, sums; SCD2: rows, current and closed versions); a difference is
noted on the row, not raised (the tools differ in details, e.g. dlt's extra columns).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import peer_projects, wide
from benchmarks.core import (
    REPO_ROOT,
    Bench,
    Figure,
    copy_file,
    count_label,
    duckdb_execute,
    duckdb_row,
    median,
    reset_project_state,
    write_files,
)
from benchmarks.served import load_average
from benchmarks.workloads import dag, scd2
from benchmarks.workloads.process import (
    RAW_UPSERT,
    UPSERT_CONFIG,
    UPSERT_MODEL,
    Sides,
    dag_summary,
)

REQUIREMENTS = REPO_ROOT / "benchmarks" / "peers-requirements.txt"
PACKAGES = ("dbt-core", "dbt-duckdb", "sqlmesh", "dlt", "duckdb")
TOOLS = ("interlace", "dbt", "sqlmesh", "dlt")
# SQLMesh runs the interval after its plan's when the execution time is later
LATER = "2099-01-01"
UPSERT_CHECK = "SELECT count(*), sum(a), sum(b), sum(round(x * 100)::BIGINT) FROM {table}"
SCD2_CHECK = (
    "SELECT count(*), count(*) FILTER ({to} IS NULL), count(*) FILTER ({to} IS NOT NULL) "
    "FROM {table}"
)


# ---------------------------------------------------------------------------- the venv


def venv(bench: Bench) -> Path:
    """The peers' venv under the cache, built on first use; its folder name carries a hash of
    the requirements, so a changed pin builds a new one."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    root = bench.cache / f"peers-venv-{digest}"
    done = root / ".complete"
    if done.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    uv = shutil.which("uv")
    bench.log(f"building the peers' venv in {root} ({'uv' if uv else 'venv + pip'})")
    if uv:
        steps = [
            [uv, "venv", "--quiet", "--python", sys.executable, str(root)],
            [uv, "pip", "install", "--quiet", "--python", str(root / "bin" / "python"),
             "-r", str(REQUIREMENTS)],
        ]  # fmt: skip
    else:
        steps = [
            [sys.executable, "-m", "venv", str(root)],
            [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet",
             "-r", str(REQUIREMENTS)],
        ]  # fmt: skip
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise VenvError(f"`{' '.join(step)}` failed: {(result.stdout + result.stderr)[-1500:]}")
    done.write_text("ok\n", encoding="utf-8")
    return root


class VenvError(RuntimeError):
    """The peers' venv could not be built (no network, no index, a failed build)."""


def versions(root: Path) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))"
    )
    done = subprocess.run(
        [str(root / "bin" / "python"), "-c", code, *PACKAGES], capture_output=True, text=True
    )
    found: dict[str, str] = json.loads(done.stdout)
    return found


# ---------------------------------------------------------------------------- running


class Peers:
    """The peers' commands, each a subprocess with the venv's tools."""

    def __init__(self, bench: Bench, root: Path, sides: Sides) -> None:
        self.bench = bench
        self.bin = root / "bin"
        self.sides = sides
        self.env = {
            **sides.env,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
            "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1",
            "RUNTIME__DLTHUB_TELEMETRY": "false",
        }
        self.env["PATH"] = os.pathsep.join([str(self.bin), self.env.get("PATH", "")])
        self.env.pop("PYTHONPATH", None)  # nothing of this repository in the peers' processes
        self.env.pop("VIRTUAL_ENV", None)

    def dbt(self, project: Path, *args: str) -> float:
        shutil.rmtree(project / "target", ignore_errors=True)  # no partial-parse cache
        shutil.rmtree(project / "logs", ignore_errors=True)
        return self.sides.call(
            [str(self.bin / "dbt"), *args, "--project-dir", ".", "--profiles-dir", "."],
            project,
            self.env,
        )

    def sqlmesh(self, project: Path, *args: str) -> float:
        shutil.rmtree(project / ".cache", ignore_errors=True)
        return self.sides.call([str(self.bin / "sqlmesh"), *args], project, self.env)

    def sqlmesh_run_later(self, project: Path) -> float:
        """SQLMesh's run of the interval after the plan's (see peer_projects)."""
        shutil.rmtree(project / ".cache", ignore_errors=True)
        return self.python(project, "-c", peer_projects.SQLMESH_RUN_LATER, LATER)

    def python(self, cwd: Path, *args: str) -> float:
        return self.sides.call([str(self.bin / "python"), *args], cwd, self.env)


class DltPipeline:
    """One workload's dlt pipeline (:func:`benchmarks.peer_projects.dlt_project`) from tables of
    ``source``: a first load kept in ``template``, then loads that each start from its copy."""

    def __init__(
        self, peers: Peers, folder: Path, source: Path, strategy: str, template: Path
    ) -> None:
        self.peers = peers
        self.folder = folder
        self.source = source
        self.strategy = strategy
        self.template = template
        self.script = peer_projects.dlt_project(folder / "dlt")
        self.db, self.state = folder / "dlt.duckdb", folder / "dlt_pipelines"

    def first_load(self, table: str) -> None:
        """Load ``table`` into a fresh database and pipeline state, kept as the template."""
        self.db.unlink(missing_ok=True)
        shutil.rmtree(self.state, ignore_errors=True)
        self._load(table)
        self.template.mkdir(exist_ok=True)
        copy_file(self.db, self.template / "dlt.duckdb")
        shutil.copytree(self.state, self.template / "pipelines", dirs_exist_ok=True)

    def load(self, table: str) -> float:
        """Seconds of loading ``table`` on a copy of the template."""
        copy_file(self.template / "dlt.duckdb", self.db)
        shutil.rmtree(self.state, ignore_errors=True)
        shutil.copytree(self.template / "pipelines", self.state)
        return self._load(table)

    def _load(self, table: str) -> float:
        return self.peers.python(self.folder, str(self.script), str(self.source), table,
                                 str(self.db), str(self.state), self.strategy)  # fmt: skip


def run(bench: Bench) -> list[Figure]:
    try:
        root = venv(bench)
    except (VenvError, OSError, subprocess.SubprocessError) as exc:
        message = (
            "skipped: the peers' venv could not be built (it needs the package index the first "
            f"time): {exc}"
        )
        bench.log(message)
        return [Figure("peers", "skipped (no venv)", None, None, kind="info", note=message)]
    found = versions(root)
    bench.reports["peers versions"] = "peers: " + ", ".join(f"{k} {v}" for k, v in found.items())
    bench.log(bench.reports["peers versions"] + f"; load average {load_average()}")
    sides = Sides(bench)
    peers = Peers(bench, root, sides)
    figures = dag_figures(bench, sides, peers) + upsert_figures(bench, sides, peers)
    figures += scd2_figures(bench, sides, peers)
    figures[0].note = (
        figures[0].note + "; " + bench.reports["peers versions"] + f"; load after {load_average()}"
    ).lstrip("; ")
    return figures


def _measure(
    bench: Bench,
    what: str,
    raw: Callable[[], float],
    tools: dict[str, tuple[Callable[[], float], Callable[[], Any]]],
    expected: Callable[[], Any],
    warm_up: bool = False,
    first_loads: dict[str, str] | None = None,
    short: str = "",
) -> list[Figure]:
    """Interleaved repetitions of ``raw`` and every tool's ``(run, result)``; a tool that fails
    is reported and left out of the later repetitions. A tool whose untimed first load failed
    (``first_loads``: its note) is not run: an info row ``{tool}: {short}`` says why."""
    failed = first_loads or {}
    tools = {tool: calls for tool, calls in tools.items() if tool not in failed}
    times: dict[str, list[float]] = {"raw": [], **{t: [] for t in tools}}
    notes: dict[str, str] = {}
    bench.log(f"{what}: {bench.reps} repetition(s); load {load_average()}")
    for rep in range(bench.reps + int(warm_up)):
        timed = rep >= int(warm_up)
        seconds = raw()
        if timed:
            times["raw"].append(seconds)
        want = expected() if rep == 0 else None
        for tool, (call, result) in tools.items():
            if tool in notes and notes[tool].startswith("FAILED"):
                continue
            try:
                seconds = call()
            except RuntimeError as exc:
                notes[tool] = f"FAILED: {_failure(exc)}"
                bench.log(f"{what} / {tool}: {notes[tool]}")
                continue
            if timed:
                times[tool].append(seconds)
            if rep == 0:
                got = result()
                notes[tool] = (
                    "same result as raw"
                    if got == want
                    else f"DIFFERENT result: {got} vs raw {want}"
                )
    return [
        Figure(
            "peers",
            f"{tool}: {what}",
            median(times[tool]),
            median(times["raw"]),
            kind="ratio",
            samples={tool: times[tool], "raw": times["raw"]},
            note=notes.get(tool, ""),
        )
        for tool in tools
    ] + [
        Figure("peers", f"{tool}: {short}", None, None, kind="info", note=note)
        for tool, note in failed.items()
    ]


def _first_load(first_loads: dict[str, str], tool: str, load: Callable[[], object]) -> None:
    """Run a tool's untimed first load; a failure is noted in ``first_loads``."""
    try:
        load()
    except RuntimeError as exc:
        first_loads[tool] = f"FAILED first load: {_failure(exc)}"


def _failure(exc: Exception) -> str:
    """The last lines of a failed command's output, on one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " | ".join(lines[-2:])[-400:]


# ---------------------------------------------------------------------------- dag


def dag_figures(bench: Bench, sides: Sides, peers: Peers) -> list[Figure]:
    n = int(bench.options.get("dag_models") or bench.pick(200, 200, 20))
    models = dag.generate(n)
    names = [m[0] for m in models]
    folder = bench.folder("dag")
    raw_db = folder / "raw.duckdb"
    statements = sides.statements(
        "peers_dag", [f"CREATE TABLE main.{name} AS {sql}" for name, sql, _ in models]
    )
    il = folder / "interlace"
    dag.write_project(il, models)
    dbt_dir, dbt_db = folder / "dbt", folder / "dbt.duckdb"
    peer_projects.dbt_project(dbt_dir, dbt_db, dag=models)
    mesh_dir, mesh_db = folder / "sqlmesh", folder / "mesh.duckdb"
    peer_projects.sqlmesh_project(mesh_dir, mesh_db, dag=models)

    def raw() -> float:
        raw_db.unlink(missing_ok=True)
        return sides.raw(raw_db, statements)

    def interlace() -> float:
        reset_project_state(il)
        return sides.interlace(il, "run", "-w", "1")

    def dbt() -> float:
        dbt_db.unlink(missing_ok=True)
        return peers.dbt(dbt_dir, "run", "--threads", "1")

    def sqlmesh() -> float:
        mesh_db.unlink(missing_ok=True)
        return peers.sqlmesh(mesh_dir, "plan", "--auto-apply", "--no-prompts")

    return _measure(
        bench,
        f"dag {n} models cold, 1 worker",
        raw,
        {
            "interlace": (interlace, lambda: dag_summary(il / "data" / "bench.duckdb", names)),
            "dbt": (dbt, lambda: dag_summary(dbt_db, names)),
            "sqlmesh": (sqlmesh, lambda: dag_summary(mesh_db, [f"bench.{x}" for x in names])),
        },
        lambda: dag_summary(raw_db, names),
        warm_up=True,
    )


# ---------------------------------------------------------------------------- upsert


def upsert_figures(bench: Bench, sides: Sides, peers: Peers) -> list[Figure]:
    target_rows = int(
        bench.options.get("target_rows") or bench.pick(10_000_000, 1_000_000, 200_000)
    )
    batch_rows = int(bench.options.get("batch_rows") or target_rows // 10)
    prepared = wide.prepared_upsert(bench, target_rows, batch_rows)
    folder = bench.folder("upsert")
    templates = bench.folder("upsert_templates")
    raw_db = folder / "raw.duckdb"
    statements = sides.statements("peers_upsert", [RAW_UPSERT])
    il = folder / "interlace"
    write_files(il, {"config.yaml": UPSERT_CONFIG, "models/target.sql": UPSERT_MODEL})
    # dbt upserts into the existing `target` of a copy of the prepared file
    dbt_dir, dbt_db = folder / "dbt", folder / "dbt.duckdb"
    peer_projects.dbt_project(dbt_dir, dbt_db, kind="upsert")
    # SQLMesh: a plan loads `target` into its model (untimed), then the source is the batch
    mesh_dir, mesh_db = folder / "sqlmesh", folder / "mesh.duckdb"
    peer_projects.sqlmesh_project(mesh_dir, mesh_db, kind="upsert")
    mesh_template = templates / "mesh.duckdb"
    # dlt: the first load of `target` (untimed), then the batch
    pipeline = DltPipeline(peers, folder, prepared, "upsert", templates / "dlt")
    bench.log(f"upsert {batch_rows} into {target_rows}: the peers' first loads (untimed)")
    first_loads: dict[str, str] = {}

    def sqlmesh_first_load() -> None:
        copy_file(prepared, mesh_db)
        duckdb_execute(mesh_db, "CREATE VIEW main.upsert_source AS SELECT * FROM main.target")
        peers.sqlmesh(mesh_dir, "plan", "--auto-apply", "--no-prompts")
        duckdb_execute(
            mesh_db, "CREATE OR REPLACE VIEW main.upsert_source AS SELECT * FROM main.batch"
        )
        copy_file(mesh_db, mesh_template)

    _first_load(first_loads, "sqlmesh", sqlmesh_first_load)
    _first_load(first_loads, "dlt", lambda: pipeline.first_load("main.target"))

    def interlace() -> float:
        copy_file(prepared, il / "data" / "bench.duckdb")
        shutil.rmtree(il / ".interlace", ignore_errors=True)
        return sides.interlace(il, "run")

    def dbt() -> float:
        copy_file(prepared, dbt_db)
        return peers.dbt(dbt_dir, "run", "--threads", "1")

    def sqlmesh() -> float:
        copy_file(mesh_template, mesh_db)
        return peers.sqlmesh_run_later(mesh_dir)

    def check(db: Path, table: str) -> Callable[[], Any]:
        return lambda: duckdb_row(db, UPSERT_CHECK.format(table=table))

    tools = {
        "interlace": (interlace, check(il / "data" / "bench.duckdb", "main.target")),
        "dbt": (dbt, check(dbt_db, "main.target")),
        "sqlmesh": (sqlmesh, check(mesh_db, "bench.target")),
        "dlt": (lambda: pipeline.load("main.batch"), check(pipeline.db, "bench.target")),
    }
    return _measure(
        bench,
        f"upsert wide {count_label(batch_rows)} into {count_label(target_rows)}",
        partial(sides.raw_from, prepared, raw_db, statements),
        tools,
        check(raw_db, "main.target"),
        first_loads=first_loads,
        short="upsert",
    )


# ---------------------------------------------------------------------------- scd2


def scd2_figures(bench: Bench, sides: Sides, peers: Peers) -> list[Figure]:
    rows = int(bench.options.get("rows") or bench.pick(1_000_000, 100_000, 20_000))
    source = wide.prepared_scd2(bench, rows)
    folder = bench.folder("scd2")
    templates = bench.folder("scd2_templates")
    il_template = scd2.first_load(bench, source)  # Interlace's first load (untimed)
    il = folder / "interlace"
    raw_db = folder / "raw.duckdb"
    statements = sides.statements(
        "peers_scd2", [scd2.raw_sql("2030-01-01 00:00:00", wide.SCD2_TRACKED)]
    )
    dbt_dir, dbt_db = folder / "dbt", folder / "dbt.duckdb"
    peer_projects.dbt_project(dbt_dir, dbt_db, kind="scd2")
    mesh_dir, mesh_db = folder / "sqlmesh", folder / "mesh.duckdb"
    peer_projects.sqlmesh_project(mesh_dir, mesh_db, kind="scd2")
    pipeline = DltPipeline(peers, folder, source, "scd2", templates / "dlt")
    bench.log(f"scd2 {rows} keys: the peers' first loads (untimed)")
    first_loads: dict[str, str] = {}
    second = "CREATE OR REPLACE VIEW main.source AS SELECT * FROM main.batch2"
    loads: list[tuple[str, Path, Callable[[], float]]] = [
        ("dbt", dbt_db, lambda: peers.dbt(dbt_dir, "snapshot", "--threads", "1")),
        ("sqlmesh", mesh_db, lambda: peers.sqlmesh(mesh_dir, "plan", "--auto-apply",
                                                   "--no-prompts")),
    ]  # fmt: skip

    def first_load(tool: str, db: Path, load: Callable[[], float]) -> None:
        copy_file(source, db)
        load()
        duckdb_execute(db, second)
        copy_file(db, templates / f"{tool}.duckdb")

    for tool, db, load in loads:
        _first_load(first_loads, tool, partial(first_load, tool, db, load))
    _first_load(first_loads, "dlt", lambda: pipeline.first_load("main.batch1"))

    def dbt() -> float:
        copy_file(templates / "dbt.duckdb", dbt_db)
        return peers.dbt(dbt_dir, "snapshot", "--threads", "1")

    def sqlmesh() -> float:
        copy_file(templates / "sqlmesh.duckdb", mesh_db)
        return peers.sqlmesh_run_later(mesh_dir)

    def check(db: Path, table: str, valid_to: str) -> Callable[[], Any]:
        return lambda: duckdb_row(db, SCD2_CHECK.format(table=table, to=valid_to))

    tools: dict[str, tuple[Callable[[], float], Callable[[], Any]]] = {
        "interlace": (
            partial(sides.interlace_from, il_template, il, "run"),
            check(il / "data" / "bench.duckdb", "main.dim", "valid_to"),
        ),
        "dbt": (dbt, check(dbt_db, "main.dim", "dbt_valid_to")),
        "sqlmesh": (sqlmesh, check(mesh_db, "bench.dim", "valid_to")),
        "dlt": (
            lambda: pipeline.load("main.batch2"),
            check(pipeline.db, "bench.dim", "_dlt_valid_to"),
        ),
    }
    return _measure(
        bench,
        f"scd2 wide {count_label(rows)} keys, 2nd batch",
        partial(sides.raw_from, il_template / "data" / "bench.duckdb", raw_db, statements),
        tools,
        check(raw_db, "main.dim", "valid_to"),
        first_loads=first_loads,
        short="scd2",
    )
