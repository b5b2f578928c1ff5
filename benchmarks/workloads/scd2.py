"""scd2: a second batch into a ``scd_type_2`` dimension (``delete_mode: soft``).

The dimension has 1M keys. The second batch changes 10% of them, drops 1% (soft delete: their
current version is closed) and adds 1% new keys. The first load is an Interlace run (not timed),
so both sides start from the same table (valid_from / valid_to / is_current / _scd_hash);
every repetition starts from a fresh copy of that database and state.

Two data sets, both by default (``data="narrow"`` / ``"wide"`` picks one): the regular one
built here and the wide random dimension of :mod:`benchmarks.wide` (``id, name, city, score,
amount`` from ``hash(i, k)``, one random tracked column changed per changed key).

The model is a SQL model over a view ``source`` that points at the second batch, so the timing
covers the strategy, not data generation. Raw = the hand-written version in one transaction:
find new and changed keys (column-by-column comparison with the current versions), close their
current versions and those of deleted keys, insert the new versions.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from benchmarks import wide
from benchmarks.core import (
    Bench,
    Figure,
    cached,
    check_run,
    copy_file,
    duckdb_execute,
    duckdb_row,
    median,
    write_files,
)

if TYPE_CHECKING:
    from pathlib import Path

CONFIG = """\
name: bench_scd2
connections:
  default:
    type: duckdb
    path: data/bench.duckdb
"""

MODEL = """\
-- @strategy: scd_type_2
-- @primary_key: id
-- @delete_mode: soft
select * from source
"""

TRACKED = ("name", "city", "segment", "score")
NULL_MARK = "\u2400"  # what Interlace hashes for NULL (interlace.strategies.scd_type_2)


def build(path: Path, rows: int) -> None:
    """Two batches: ``batch1`` (the first load) and ``batch2`` (10% changed, 1% gone, 1% new)."""
    duckdb_execute(
        path,
        f"""
        CREATE TABLE batch1 AS
        SELECT range AS id,
               'name_' || (range % 100000)::VARCHAR AS name,
               'city_' || (range % 500)::VARCHAR AS city,
               ['retail', 'smb', 'enterprise'][1 + range % 3] AS segment,
               ((range * 7919) % 10000) / 100.0 AS score
        FROM range({rows})
        """,
        # ids ending in 0 change (10%), ids % 100 == 1 disappear (1%), 1% new ids appended
        f"""
        CREATE TABLE batch2 AS
        SELECT id, name,
               CASE WHEN id % 10 = 0 THEN city || '_moved' ELSE city END AS city,
               segment,
               CASE WHEN id % 10 = 0 THEN score + 1 ELSE score END AS score
        FROM batch1 WHERE id % 100 <> 1
        UNION ALL
        SELECT {rows} + range AS id, 'name_new_' || range::VARCHAR AS name,
               'city_' || (range % 500)::VARCHAR AS city, 'smb' AS segment,
               (range % 100) / 10.0 AS score
        FROM range({rows // 100})
        """,
        "CREATE VIEW source AS SELECT * FROM batch1",
    )


def _hash_sql(alias: str, tracked: tuple[str, ...]) -> str:
    parts = ", ".join(f"coalesce(CAST({alias}.{c} AS TEXT), '{NULL_MARK}')" for c in tracked)
    return f"md5(concat_ws('|', {parts}))"


def raw_sql(run_ts: str, tracked: tuple[str, ...] = TRACKED) -> str:
    """The hand-written second batch: one transaction over the view ``source`` and ``dim``."""
    changed = " OR ".join(f"t.{c} IS DISTINCT FROM s.{c}" for c in tracked)
    cols = ", ".join(("id", *tracked))
    return f"""
BEGIN TRANSACTION;
CREATE TEMP TABLE __changed AS
    SELECT s.*, {_hash_sql("s", tracked)} AS _scd_hash
    FROM source AS s LEFT JOIN dim AS t ON t.id = s.id AND t.is_current
    WHERE t.id IS NULL OR {changed};
UPDATE dim SET valid_to = TIMESTAMP '{run_ts}', is_current = false
    WHERE is_current
      AND (id IN (SELECT id FROM __changed) OR id NOT IN (SELECT id FROM source));
INSERT INTO dim ({cols}, valid_from, valid_to, is_current, _scd_hash)
    SELECT {cols}, TIMESTAMP '{run_ts}', NULL, true, _scd_hash FROM __changed;
DROP TABLE __changed;
COMMIT;
"""


def summary(db: Path) -> tuple[int, ...]:
    """Rows, current versions, closed versions and distinct hashes of ``dim``."""
    row = duckdb_row(
        db,
        "SELECT count(*), count(*) FILTER (is_current), count(*) FILTER (valid_to IS NOT NULL),"
        " count(DISTINCT _scd_hash) FROM dim",
    )
    return tuple(int(v) for v in row)


def run(bench: Bench) -> list[Figure]:
    rows = int(bench.options.get("rows") or bench.pick(1_000_000, 100_000, 50_000))
    data = bench.options.get("data") or "both"
    figures: list[Figure] = []
    if data in ("narrow", "both"):
        bench.log(f"preparing a {rows}-key dimension")
        source = cached(bench.cache / f"scd2_{rows}.duckdb", lambda p: build(p, rows))
        figures += measure(bench, f"{_n(rows)} keys", source, TRACKED)
    if data in ("wide", "both"):
        bench.log(f"preparing a {rows}-key dimension, wide random rows")
        source = wide.prepared_scd2(bench, rows)
        figures += measure(bench, f"{_n(rows)} keys wide", source, wide.SCD2_TRACKED)
    return figures


def first_load(bench: Bench, source: Path) -> Path:
    """A project whose ``dim`` holds the first batch (an untimed Interlace run) and whose view
    ``source`` now points at the second batch."""
    import interlace

    template = bench.folder("template")
    write_files(template, {"config.yaml": CONFIG, "models/dim.sql": MODEL})
    copy_file(source, template / "data" / "bench.duckdb")
    check_run(interlace.run_sync(template))
    duckdb_execute(
        template / "data" / "bench.duckdb", "CREATE OR REPLACE VIEW source AS SELECT * FROM batch2"
    )
    return template


def measure(bench: Bench, label: str, source: Path, tracked: tuple[str, ...]) -> list[Figure]:
    template = first_load(bench, source)
    project = bench.tmp / "project"
    raw_db = bench.tmp / "raw.duckdb"
    times: dict[str, list[float]] = {"interlace": [], "raw": []}
    checks: dict[str, tuple[int, ...]] = {}
    sql = raw_sql("2030-01-01 00:00:00", tracked)
    bench.log(f"{label}: {bench.reps} repetition(s)")
    for rep in range(bench.reps):
        copy_file(template / "data" / "bench.duckdb", raw_db)
        times["raw"].append(bench.raw("scd2", lambda: duckdb_execute(raw_db, sql)))
        if rep == 0:
            checks["raw"] = summary(raw_db)
        shutil.rmtree(project, ignore_errors=True)
        shutil.copytree(template, project)
        seconds, result = bench.run_interlace(f"scd_type_2 second batch, {label}", project)
        times["interlace"].append(seconds)
        check_run(result)
        if rep == 0:
            checks["interlace"] = summary(project / "data" / "bench.duckdb")
    if checks["raw"] != checks["interlace"]:
        raise RuntimeError(
            f"interlace and raw SCD2 disagree ({label}; rows, current, closed, hashes): {checks}"
        )
    return [
        Figure(
            "scd2",
            f"{label}, 10% changed, 1% deleted, 1% new",
            median(times["interlace"]),
            median(times["raw"]),
            kind="ratio",
            target=1.5,
            samples=times,
        )
    ]


def _n(rows: int) -> str:
    return f"{rows // 1_000_000}M" if rows >= 1_000_000 else f"{rows // 1000}k"
