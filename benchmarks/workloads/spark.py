"""spark: the quickstart on Spark (local mode) against the same project on DuckDB.

The quickstart is copied twice; one copy's ``default`` connection becomes ``type: spark``
(``local[2]``, in-memory catalog, 2 shuffle partitions), nothing else changes. Each repetition
runs ``interlace.run_sync`` on a fresh copy of each (no state, no tables). The Spark JVM starts
once, before an untimed warm-up run, as in a long-lived process; its start is printed apart.
Both sides must publish the same number of rows in every mart.

The figure is informative (``info``): Spark pays a fixed cost per statement (planning, a job
per write, a metastore update) that dominates at the quickstart's size.
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING

from benchmarks.core import REPO_ROOT, Bench, Figure, check_run, median

if TYPE_CHECKING:
    from pathlib import Path

QUICKSTART = REPO_ROOT / "examples" / "quickstart"
MARTS = ("daily_revenue", "monthly_revenue_by_region", "customer_lifetime_value")


def _copy(bench: Bench, name: str, warehouse: Path | None) -> Path:
    root = bench.folder(name)
    shutil.copytree(
        QUICKSTART, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("data", ".interlace")
    )
    if warehouse is not None:
        import yaml

        config_file = root / "config.yaml"
        config = yaml.safe_load(config_file.read_text())
        config["connections"]["default"] = {
            "type": "spark",
            "master": "local[2]",
            "catalog": "in-memory",
            "warehouse": str(warehouse),
            "conf": {"spark.sql.shuffle.partitions": "2"},
        }
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def _spark_counts(root: Path) -> dict[str, int]:
    from interlace.opening import open_engines
    from interlace.project import load_project

    project = load_project(root)
    engine = open_engines(project, ["default"])["default"]
    session = engine.session()
    try:
        return {m: int(session.fetch_all(f"SELECT count(*) FROM marts.{m}")[0][0]) for m in MARTS}
    finally:
        session.close()


def _duckdb_counts(root: Path) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(root / "data" / "dev.duckdb"), read_only=True) as con:
        return {m: int(con.execute(f"SELECT count(*) FROM marts.{m}").fetchone()[0]) for m in MARTS}  # type: ignore[index]


def _reset_spark(warehouse: Path) -> None:
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is not None:
        for database in spark.catalog.listDatabases():
            if database.name != "default":
                spark.sql(f"DROP DATABASE IF EXISTS `{database.name}` CASCADE")
    shutil.rmtree(warehouse, ignore_errors=True)
    warehouse.mkdir(parents=True)


def run(bench: Bench) -> list[Figure]:
    import interlace
    from pyspark.sql import SparkSession

    warehouse = bench.folder("warehouse")
    started = time.perf_counter()
    # the process's Spark, started here so that every run reuses it (a run stops only a Spark
    # it started itself)
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    first = time.perf_counter() - started
    bench.log(f"JVM start: {first:.1f}s")
    check_run(interlace.run_sync(_copy(bench, "spark_warm", warehouse)))  # untimed warm-up
    on_spark: list[float] = []
    on_duckdb: list[float] = []
    for _ in range(bench.reps):
        duck_root = _copy(bench, "duckdb", None)
        started = time.perf_counter()
        check_run(interlace.run_sync(duck_root))
        on_duckdb.append(time.perf_counter() - started)
        _reset_spark(warehouse)
        spark_root = _copy(bench, "spark", warehouse)
        started = time.perf_counter()
        check_run(interlace.run_sync(spark_root))
        on_spark.append(time.perf_counter() - started)
        expected, got = _duckdb_counts(duck_root), _spark_counts(spark_root)
        if expected != got:
            raise RuntimeError(f"marts differ: duckdb {expected}, spark {got}")
    return [
        Figure(
            "spark",
            "quickstart (21 models): spark local[2] vs duckdb",
            median(on_spark),
            median(on_duckdb),
            kind="info",
            samples={"interlace": on_spark, "raw": on_duckdb},
            note=f"JVM start {first:.1f}s, not timed",
        ),
    ]
