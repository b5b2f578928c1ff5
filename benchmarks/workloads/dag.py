"""dag: per-model overhead of a large project of small SQL models.

A generated project of N SQL models in layers; each model joins or aggregates 1-3 parents from
earlier layers over ~1k-row tables, and a few root models generate their table with ``range()``.

* full run: ``interlace.run_sync`` on a fresh DuckDB file and state store, against the same
  ``CREATE TABLE ... AS`` statements run in topological order on one raw DuckDB connection
  (connect, N statements, close). Reported as per-model overhead (interlace - raw) / N.
* no-op re-run: a second ``run_sync`` right after the full run; change detection must skip every
  model (roots declare ``@cache: {strategy: if_exists}``, so nothing reads outside data).
* load: ``interlace.load_project`` (config, SQL headers, sqlglot parse, dependency graph).
"""

from __future__ import annotations

import random
from functools import partial
from typing import TYPE_CHECKING

from benchmarks.core import Bench, Figure, check_run, median, reset_project_state, write_files

if TYPE_CHECKING:
    from pathlib import Path

ROOTS = 4
ROWS = 1000
CONFIG = """\
name: bench_dag
connections:
  default:
    type: duckdb
    path: data/bench.duckdb
"""


def generate(n: int, seed: int = 42) -> list[tuple[str, str, list[str]]]:
    """``(name, select, parents)`` for ``n`` models in topological order (roots first)."""
    rng = random.Random(seed)
    models: list[tuple[str, str, list[str]]] = []
    primes = [7919, 104729, 1299709, 15485863]
    for r in range(ROOTS):
        sql = (
            f"select range as id, (range * {primes[r]}) % 97 as k, "
            f"((range * {primes[(r + 1) % ROOTS]}) % 1000)::double as v from range({ROWS})"
        )
        models.append((f"root_{r}", sql, []))
    rest = n - ROOTS
    layers = max(2, round(rest**0.5 / 1.5))  # 200 -> 9 layers of ~22, 1000 -> 21 of ~47
    per_layer = -(-rest // layers)
    built: list[list[str]] = [[m[0] for m in models]]
    index = 0
    for _layer in range(layers):
        names: list[str] = []
        for _ in range(per_layer):
            if index >= rest:
                break
            name = f"m_{index:04d}"
            index += 1
            # parents: mostly from the previous layer, sometimes further up
            count = rng.choice((1, 2, 2, 3))
            pool_prev = built[-1]
            pool_all = [m for lyr in built for m in lyr]
            parents: list[str] = []
            while len(parents) < count:
                candidate = rng.choice(pool_prev if rng.random() < 0.6 else pool_all)
                if candidate not in parents:
                    parents.append(candidate)
                if len(parents) >= len(set(pool_all)):
                    break
            models.append((name, _select(parents, rng.random()), parents))
            names.append(name)
        built.append(names)
    return models


def _select(parents: list[str], pick: float) -> str:
    if len(parents) == 1:
        (p,) = parents
        if pick < 0.5:
            return f"select id, (k * 3 + 1) % 97 as k, v * 0.5 + k as v from {p}"
        return f"select id, k, v - avg(v) over (partition by k) + 500 as v from {p}"
    if len(parents) == 2:
        a, b = parents
        return (
            f"select a.id, b.k, (a.v + b.v) / 2 as v\nfrom {a} as a\njoin {b} as b on a.id = b.id"
        )
    a, b, c = parents
    return (
        f"select a.id, a.k, (a.v + b.v) / 2 + coalesce(c.s, 0) / 10000 as v\n"
        f"from {a} as a\njoin {b} as b on a.id = b.id\n"
        f"left join (select k, sum(v) as s from {c} group by k) as c on c.k = b.k"
    )


def write_project(root: Path, models: list[tuple[str, str, list[str]]]) -> None:
    files = {"config.yaml": CONFIG}
    for i, (name, sql, parents) in enumerate(models):
        if not parents:
            files[f"models/roots/{name}.sql"] = (
                "-- @cache: {strategy: if_exists}\n"
                f"-- @description: generated root {name}\n{sql}\n"
            )
        else:
            files[f"models/group_{i // 100:02d}/{name}.sql"] = f"-- a generated model\n{sql}\n"
    write_files(root, files)


def raw_run(db: Path, models: list[tuple[str, str, list[str]]]) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    try:
        for name, sql, _ in models:
            con.execute(f"CREATE TABLE main.{name} AS {sql}")
    finally:
        con.close()


def run(bench: Bench) -> list[Figure]:
    from interlace import load_project

    sizes = bench.options.get("models") or bench.pick((200, 1000), (200,), (50,))
    figures: list[Figure] = []
    for n in sizes:
        models = generate(n)
        project = bench.folder(f"project_{n}")
        write_project(project, models)
        raw_dir = bench.folder(f"raw_{n}")
        full_i: list[float] = []
        full_r: list[float] = []
        noop: list[float] = []
        load: list[float] = []
        bench.log(f"{n} models: {bench.reps} repetition(s)")
        for rep in range(bench.reps):
            db = raw_dir / f"raw_{rep}.duckdb"
            full_r.append(bench.raw(f"full {n}", partial(raw_run, db, models)))
            db.unlink()
            reset_project_state(project)
            seconds, result = bench.run_interlace(f"full run, {n} models", project)
            full_i.append(seconds)
            check_run(result)
            seconds, result = bench.run_interlace(f"no-op re-run, {n} models", project)
            noop.append(seconds)
            check_run(result, expect="skipped")
            load.append(bench.interlace(f"load, {n} models", partial(load_project, project)))
        samples = {"interlace": full_i, "raw": full_r}
        figures.append(
            Figure(
                "dag",
                f"full run, {n} models",
                median(full_i),
                median(full_r),
                kind="per_model",
                target=5.0,
                n=n,
                samples=samples,
            )
        )
        figures.append(
            Figure(
                "dag",
                f"no-op re-run, {n} models",
                median(noop),
                None,
                kind="seconds",
                target=1.0 if n >= 1000 else None,
                samples={"interlace": noop},
            )
        )
        figures.append(
            Figure(
                "dag",
                f"load_project, {n} models",
                median(load),
                None,
                kind="seconds",
                target=1.0 if n >= 1000 else None,
                samples={"interlace": load},
            )
        )
    return figures
