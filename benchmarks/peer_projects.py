"""The `peers` workload's projects: the same DAG, upsert and SCD2 written for dbt (dbt-duckdb),
SQLMesh and dlt. Each function writes one project into a folder of the benchmark's workdir; none
of these files are committed.

* **dbt**: models materialised as tables (``{{ ref() }}`` for parents); the upsert an
  ``incremental`` model with ``unique_key: id`` and ``incremental_strategy: delete+insert``
  over the existing ``target`` table; SCD2 a ``check`` snapshot of every column with
  ``hard_deletes: invalidate`` (the keys missing from the batch are closed).
* **SQLMesh**: ``FULL`` models in schema ``bench``; the upsert an ``INCREMENTAL_BY_UNIQUE_KEY``
  model, SCD2 an ``SCD_TYPE_2_BY_COLUMN`` model with ``invalidate_hard_deletes``, both first
  loaded by a plan and then run for the next interval: ``Context.run(execution_time=...)``
  in a ``python`` process (the ``sqlmesh run`` command has no execution-time option and runs
  nothing before the current day's interval is over).
* **dlt**: a pipeline whose resource yields the batch as one Arrow table read from the prepared
  database; ``merge`` with the ``upsert`` strategy, and ``scd2`` (records absent from the batch
  are retired) versioned by an MD5 of the tracked columns computed in the reading query (dlt's
  own ``_dlt_id`` of Arrow rows is random, not a content hash). dlt has no SQL model DAG, so it sits out the DAG.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from benchmarks.core import write_files

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

DAG = list[tuple[str, str, list[str]]]


def _replace_parents(sql: str, parents: list[str], template: str) -> str:
    for parent in parents:
        sql = re.sub(rf"\b{re.escape(parent)}\b", template.format(parent), sql)
    return sql


def _model_files(
    kind: str,
    dag: DAG | None,
    dag_model: Callable[[str, str, list[str]], str],
    upsert: tuple[str, str],
    scd2: tuple[str, str],
) -> dict[str, str]:
    """A peer project's model files of ``kind``: every DAG model (``models/NAME.sql`` holding
    ``dag_model(name, sql, parents)``), or the one ``(path, text)`` of the upsert or the SCD2."""
    if kind == "dag":
        assert dag is not None
        return {f"models/{name}.sql": dag_model(name, sql, parents) for name, sql, parents in dag}
    path, text = upsert if kind == "upsert" else scd2
    return {path: text}


# ---------------------------------------------------------------------------- dbt

DBT_PROJECT = """\
name: bench
version: "1.0"
config-version: 2
profile: bench
model-paths: [models]
snapshot-paths: [snapshots]
models:
  bench:
    +materialized: table
"""

DBT_PROFILE = """\
bench:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: {db}
      schema: main
      threads: {threads}
"""

DBT_UPSERT = """\
{{ config(materialized="incremental", unique_key="id", incremental_strategy="delete+insert") }}
select * from main.batch
"""

DBT_SNAPSHOT = """\
{% snapshot dim %}
{{ config(target_schema="main", unique_key="id", strategy="check", check_cols="all",
          hard_deletes="invalidate") }}
select * from main.source
{% endsnapshot %}
"""


def dbt_project(root: Path, db: Path, *, dag: DAG | None = None, kind: str = "dag") -> None:
    """A dbt project on ``db``: the DAG's models, the upsert model or the SCD2 snapshot."""
    files = {
        "dbt_project.yml": DBT_PROJECT,
        "profiles.yml": DBT_PROFILE.format(db=db, threads=1),
    }
    files |= _model_files(
        kind,
        dag,
        lambda _name, sql, parents: _replace_parents(sql, parents, "{{{{ ref('{}') }}}}"),
        ("models/target.sql", DBT_UPSERT),
        ("snapshots/dim.sql", DBT_SNAPSHOT),
    )
    write_files(root, files)


# ---------------------------------------------------------------------------- SQLMesh

SQLMESH_CONFIG = """\
gateways:
  local:
    connection:
      type: duckdb
      database: {db}
      concurrent_tasks: 1
default_gateway: local
model_defaults:
  dialect: duckdb
  start: "2024-01-01"
  cron: "@daily"
"""

SQLMESH_UPSERT = """\
MODEL (name bench.target, kind INCREMENTAL_BY_UNIQUE_KEY (unique_key id));
SELECT id, a, b, c, d, x, created_at, updated_at FROM main.upsert_source
"""

SQLMESH_SCD2 = """\
MODEL (
  name bench.dim,
  kind SCD_TYPE_2_BY_COLUMN (unique_key id, columns [name, city, score, amount],
                             invalidate_hard_deletes true)
);
SELECT id, name, city, score, amount FROM main.source
"""


SQLMESH_RUN_LATER = (
    "import sys; from sqlmesh import Context; "
    "status = Context(paths='.').run(execution_time=sys.argv[1]); "
    "sys.exit(f'sqlmesh run: {status.name}' if status.name != 'SUCCESS' else 0)"
)


def sqlmesh_project(root: Path, db: Path, *, dag: DAG | None = None, kind: str = "dag") -> None:
    """A SQLMesh project on ``db`` (its state in the same file)."""
    files = {"config.yaml": SQLMESH_CONFIG.format(db=db)}
    files |= _model_files(
        kind,
        dag,
        lambda name, sql, parents: (
            f"MODEL (name bench.{name}, kind FULL);\n{_replace_parents(sql, parents, 'bench.{}')}\n"
        ),
        ("models/target.sql", SQLMESH_UPSERT),
        ("models/dim.sql", SQLMESH_SCD2),
    )
    write_files(root, files)


# ---------------------------------------------------------------------------- dlt

DLT_PIPELINE = """\
import os
import sys

source_db, table, dest_db, pipelines_dir, strategy = sys.argv[1:6]
if strategy == "scd2":
    # scd2 tables need a _dlt_id per row, which Arrow data gets only when asked
    os.environ["NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID"] = "true"

import dlt
import duckdb

disposition = {"disposition": "merge", "strategy": strategy}
query = f"SELECT * FROM {table}"
if strategy == "scd2":
    # a version is a content hash of the tracked columns, computed while reading the batch
    query = (
        "SELECT *, md5(concat_ws('|', name, city, score::VARCHAR, amount::VARCHAR)) AS row_hash "
        f"FROM {table}"
    )
    disposition["row_version_column_name"] = "row_hash"
with duckdb.connect(source_db, read_only=True) as con:
    rows = con.execute(query).to_arrow_table()
resource = dlt.resource(
    rows,
    name="target" if strategy == "upsert" else "dim",
    primary_key="id" if strategy == "upsert" else None,
    write_disposition=disposition,
)
pipeline = dlt.pipeline(
    pipeline_name="bench",
    destination=dlt.destinations.duckdb(dest_db),
    dataset_name="bench",
    pipelines_dir=pipelines_dir,
)
pipeline.run(resource).raise_on_failed_jobs()
"""


def dlt_project(root: Path) -> Path:
    """The dlt pipeline script: ``python pipeline.py SOURCE_DB TABLE DEST_DB PIPELINES_DIR
    upsert|scd2``."""
    write_files(root, {"pipeline.py": DLT_PIPELINE})
    return root / "pipeline.py"
