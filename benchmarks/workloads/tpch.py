"""tpch: the 22 TPC-H queries as SQL models, against the same queries as CTAS by hand.

Data comes from DuckDB's tpch extension (``CALL dbgen(sf=...)``; installed offline from the
``duckdb-extension-tpch`` wheel, see :mod:`benchmarks.tpch_ext`) and is generated once per scale
factor (cached). Every repetition starts from a fresh copy of that database file.

* Interlace: ``run_sync`` of a project with one SQL model per query (``q01`` .. ``q22``, the text
  of ``tpch_queries()``); the tables they read are not models, so they are read as they are.
* Raw: ``CREATE TABLE qNN AS <query>`` for the 22 queries in order, on one connection.

Scale factor: 1 (full), 0.1 (``--quick``), 0.01 (smoke); ``sf=`` overrides.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from benchmarks import tpch_ext
from benchmarks.core import (
    Bench,
    Figure,
    cached,
    check_run,
    copy_file,
    median,
    reset_project_state,
    write_files,
)

if TYPE_CHECKING:
    from pathlib import Path

CONFIG = """\
name: bench_tpch
connections:
  default:
    type: duckdb
    path: data/bench.duckdb
"""


def prepare(bench: Bench, sf: float) -> tuple[Path, list[tuple[int, str]]]:
    queries_file = bench.cache / "tpch_queries.json"

    def build(path: Path) -> None:
        found = tpch_ext.generate(path, sf)
        queries_file.write_text(json.dumps(found), encoding="utf-8")

    db = cached(bench.cache / f"tpch_sf{sf:g}.duckdb", build)
    if not queries_file.exists():
        con = tpch_ext.connect()
        try:
            queries_file.write_text(json.dumps(tpch_ext.queries(con)), encoding="utf-8")
        finally:
            con.close()
    found = [(int(n), str(q)) for n, q in json.loads(queries_file.read_text(encoding="utf-8"))]
    if len(found) != 22:
        raise RuntimeError(f"tpch_queries() returned {len(found)} queries, expected 22")
    return db, found


def body(sql: str) -> str:
    return sql.strip().rstrip(";").strip()


def raw_run(db: Path, queries: list[tuple[int, str]]) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    try:
        for n, sql in queries:
            con.execute(f"CREATE TABLE q{n:02d} AS {body(sql)}")
    finally:
        con.close()


def counts(db: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_name SIMILAR TO 'q[0-9]+' ORDER BY 1"
            ).fetchall()
        ]
        return {n: int(con.execute(f"SELECT count(*) FROM {n}").fetchone()[0]) for n in names}  # type: ignore[index]
    finally:
        con.close()


def run(bench: Bench) -> list[Figure]:
    sf = float(bench.options.get("sf") or bench.pick(1, 0.1, 0.01))
    bench.log(f"preparing TPC-H SF {sf:g}")
    prepared, queries = prepare(bench, sf)
    project = bench.folder("project")
    files = {"config.yaml": CONFIG}
    for n, sql in queries:
        files[f"models/q{n:02d}.sql"] = f"-- @description: TPC-H query {n}\n{body(sql)}\n"
    write_files(project, files)
    db = project / "data" / "bench.duckdb"
    raw_db = bench.tmp / "raw.duckdb"
    times: dict[str, list[float]] = {"interlace": [], "raw": []}
    checks: dict[str, dict[str, int]] = {}
    bench.log(f"{bench.reps} repetition(s)")
    for rep in range(bench.reps):
        copy_file(prepared, raw_db)
        times["raw"].append(bench.raw("tpch", lambda: raw_run(raw_db, queries)))
        if rep == 0:
            checks["raw"] = counts(raw_db)
        reset_project_state(project)
        copy_file(prepared, db)
        seconds, result = bench.run_interlace(f"22 TPC-H queries, SF {sf:g}", project)
        times["interlace"].append(seconds)
        check_run(result)
        if rep == 0:
            checks["interlace"] = counts(db)
    if checks["raw"] != checks["interlace"] or len(checks["raw"]) != 22:
        raise RuntimeError(f"interlace and raw TPC-H results differ in row counts: {checks}")
    return [
        Figure(
            "tpch",
            f"22 queries as models, SF {sf:g}",
            median(times["interlace"]),
            median(times["raw"]),
            kind="ratio",
            target=1.1,
            samples=times,
        )
    ]
