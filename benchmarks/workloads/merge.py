"""merge: a ``merge_by_key`` upsert of a batch (half updates, half inserts) into a large table.

The model is a SQL model over a batch table prepared in the same database file
(``select * from batch``), so the timing covers the strategy (staging, key checks, diff,
DELETE+INSERT or MERGE) and not data generation. The 10M-row target and the 1M-row batch are
built once (cached between invocations); every repetition starts from a fresh copy of that file.

Two data sets, both by default (``data="narrow"`` / ``"wide"`` picks one): the narrow one
above (sequential ids, regular values) and the wide random rows of :mod:`benchmarks.wide`
(eight columns from ``hash(i, k)``, the updated half picked at random over the table).

Raw baselines, each on its own fresh copy, connect + statements + close (checkpoint) timed:

* DELETE+INSERT in one transaction (the usual fastest upsert in DuckDB)
* MERGE INTO ... WHEN MATCHED UPDATE / WHEN NOT MATCHED INSERT

The headline ratio is against the faster of the two.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from benchmarks import wide
from benchmarks.core import (
    Bench,
    Figure,
    cached,
    check_run,
    copy_file,
    count_label,
    duckdb_execute,
    duckdb_row,
    median,
    write_files,
)

if TYPE_CHECKING:
    from pathlib import Path

CONFIG = """\
name: bench_merge
connections:
  default:
    type: duckdb
    path: data/bench.duckdb
"""

MODEL = """\
-- @strategy: merge_by_key
-- @primary_key: id
select * from batch
"""

COLUMNS = ("id", "name", "amount", "qty", "updated_at")

RAW_DELETE_INSERT = """
BEGIN TRANSACTION;
DELETE FROM target WHERE id IN (SELECT id FROM batch);
INSERT INTO target SELECT * FROM batch;
COMMIT;
"""

NARROW_SUMMARY = "SELECT count(*), round(sum(amount), 2) FROM target"


def build(path: Path, target_rows: int, batch_rows: int) -> None:
    half = batch_rows // 2
    step = max(1, target_rows // half)
    duckdb_execute(
        path,
        f"""
        CREATE TABLE target AS
        SELECT range AS id,
               'customer_' || (range % 50000)::VARCHAR AS name,
               ((range * 7919) % 100000) / 100.0 AS amount,
               (range % 100)::INTEGER AS qty,
               TIMESTAMP '2024-01-01' + to_seconds(range % 31536000) AS updated_at
        FROM range({target_rows})
        """,
        # half updates spread evenly over the table (every value changes), half new keys
        f"""
        CREATE TABLE batch AS
        SELECT id, name || '_v2' AS name, amount + 1 AS amount, qty + 1 AS qty,
               updated_at + INTERVAL 1 DAY AS updated_at
        FROM target WHERE id % {step} = 0 AND id < {step * half}
        UNION ALL
        SELECT {target_rows} + range AS id,
               'customer_' || (range % 50000)::VARCHAR AS name,
               (range % 1000) / 10.0 AS amount,
               (range % 7)::INTEGER AS qty,
               TIMESTAMP '2025-01-01' + to_seconds(range % 86400) AS updated_at
        FROM range({batch_rows - half})
        """,
    )


def merge_into_sql(columns: tuple[str, ...]) -> str:
    """``MERGE INTO target`` from ``batch`` on ``id``, every other column updated."""
    updates = ", ".join(f"{c} = b.{c}" for c in columns if c != "id")
    values = ", ".join(f"b.{c}" for c in columns)
    return f"""
MERGE INTO target AS t USING batch AS b ON t.id = b.id
WHEN MATCHED THEN UPDATE SET {updates}
WHEN NOT MATCHED THEN INSERT VALUES ({values});
"""


def run(bench: Bench) -> list[Figure]:
    target_rows = int(bench.options.get("target_rows") or bench.pick(10_000_000, 500_000, 200_000))
    batch_rows = int(bench.options.get("batch_rows") or target_rows // 10)
    data = bench.options.get("data") or "both"
    label = f"{count_label(batch_rows)} into {count_label(target_rows)}"
    figures: list[Figure] = []
    if data in ("narrow", "both"):
        bench.log(f"preparing {label}")
        prepared = cached(
            bench.cache / f"merge_{target_rows}_{batch_rows}.duckdb",
            lambda p: build(p, target_rows, batch_rows),
        )
        figures += measure(bench, label, prepared, batch_rows, COLUMNS, NARROW_SUMMARY)
    if data in ("wide", "both"):
        bench.log(f"preparing {label}, wide random rows")
        prepared = wide.prepared_upsert(bench, target_rows, batch_rows)
        figures += measure(
            bench,
            f"{label} wide",
            prepared,
            batch_rows,
            wide.UPSERT_COLUMNS,
            wide.upsert_summary_sql(),
        )
    return figures


def measure(
    bench: Bench,
    label: str,
    prepared: Path,
    batch_rows: int,
    columns: tuple[str, ...],
    summary_sql: str,
) -> list[Figure]:
    """Interleaved repetitions of the raw upserts and the Interlace run on copies of
    ``prepared`` (tables ``target`` and ``batch``)."""
    project = bench.folder("project")
    write_files(project, {"config.yaml": CONFIG, "models/target.sql": MODEL})
    db = project / "data" / "bench.duckdb"
    raw_db = bench.tmp / "raw.duckdb"
    times: dict[str, list[float]] = {"interlace": [], "delete_insert": [], "merge_into": []}
    checks: dict[str, tuple[object, ...]] = {}
    bench.log(f"{label}: {bench.reps} repetition(s)")
    raw_sql = {"delete_insert": RAW_DELETE_INSERT, "merge_into": merge_into_sql(columns)}
    for rep in range(bench.reps):
        for name, sql in raw_sql.items():
            copy_file(prepared, raw_db)
            times[name].append(bench.raw(name, partial(duckdb_execute, raw_db, sql)))
            if rep == 0:
                checks[name] = duckdb_row(raw_db, summary_sql)
        copy_file(prepared, db)
        _reset_state(project)
        seconds, result = bench.run_interlace(f"merge_by_key {label}", project)
        times["interlace"].append(seconds)
        check_run(result)
        if rep == 0:
            checks["interlace"] = duckdb_row(db, summary_sql)
            stats = result.models["target"].stats
            expected = {"inserted": batch_rows - batch_rows // 2, "updated": batch_rows // 2}
            if {k: stats.get(k) for k in expected} != expected:
                raise RuntimeError(f"merge_by_key counted {stats}, expected {expected}")
    if len(set(checks.values())) != 1:
        raise RuntimeError(f"interlace and raw upserts disagree ({label}): {checks}")
    medians = {k: median(v) for k, v in times.items()}
    fastest = min(("delete_insert", "merge_into"), key=lambda k: medians[k] or float("inf"))
    names = {"delete_insert": "DELETE+INSERT", "merge_into": "MERGE INTO"}
    return [
        Figure(
            "merge",
            f"{label} vs fastest raw ({names[fastest]})",
            medians["interlace"],
            medians[fastest],
            kind="ratio",
            target=1.3,
            samples={"interlace": times["interlace"], "raw": times[fastest]},
        ),
        *[
            Figure(
                "merge",
                f"{label} vs {names[k]}",
                medians["interlace"],
                medians[k],
                kind="info",
                samples={"raw": times[k]},
            )
            for k in ("delete_insert", "merge_into")
        ],
    ]


def _reset_state(project: Path) -> None:
    import shutil

    shutil.rmtree(project / ".interlace", ignore_errors=True)
