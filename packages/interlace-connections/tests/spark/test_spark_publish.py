"""Publishing by version on plain Spark tables: every strategy writes `<model>__v<version>`,
and one CREATE OR REPLACE VIEW publishes it (docs/connections.md, "Spark")."""

from __future__ import annotations

import json
from typing import Any

import duckdb

from .conftest import SparkProject

BATCH_MODEL = """
import json
from pathlib import Path

import pyarrow as pa
from interlace import model

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])

@model(strategy={strategy!r}{options})
def items():
    rows = json.loads((Path(__file__).parent.parent / "input.json").read_text())
    return pa.Table.from_pylist(rows, schema=SCHEMA)
"""


def batch_project(project: SparkProject, strategy: str, options: str = "") -> SparkProject:
    return project.write(
        {"models/items.py": BATCH_MODEL.format(strategy=strategy, options=options)}
    )


def feed(project: SparkProject, rows: list[dict[str, Any]]) -> dict[str, int]:
    project.write({"input.json": json.dumps(rows)})
    result = project.run_ok()
    return dict(result.models["items"].stats)


def names(project: SparkProject) -> list[tuple[int, str | None]]:
    return [(r["id"], r["name"]) for r in project.rows("main.items", "id")]


def test_replace_publishes_a_new_version_and_keeps_one_older(spark_project: SparkProject) -> None:
    project = batch_project(spark_project, "replace")
    feed(project, [{"id": 1, "name": "a"}])
    first = project.versions("items")
    feed(project, [{"id": 1, "name": "b"}])
    feed(project, [{"id": 2, "name": "c"}])
    versions = project.versions("items")
    assert project.kind("items", "main") == "table"  # a view over its published version
    assert project.shown("items") == versions[-1]
    assert len(versions) == 2  # the published one and one older (keep_versions: 1)
    assert first[0] not in versions
    assert names(project) == [(2, "c")]


def test_null_strings_stay_null_through_arrow(spark_project: SparkProject) -> None:
    project = spark_project.write(
        {
            "models/raw.py": """
                import pyarrow as pa
                from interlace import model

                @model()
                def raw():
                    return pa.table({"id": [1, 2], "s": ["x", None]})
            """,
            "models/copied.sql": "SELECT id, s, s IS NULL AS missing FROM raw",
        }
    )
    project.run_ok()
    rows = project.rows("main.copied", "id")
    assert [(r["s"], r["missing"]) for r in rows] == [("x", False), (None, True)]
    # the Arrow path (exports, cross-connection reads) keeps the NULL too
    from interlace.opening import open_engines

    loaded = project.load()
    engine = open_engines(loaded, ["default"])["default"]
    session = engine.session()
    try:
        table = session.fetch_arrow("SELECT s FROM main.copied ORDER BY id")
    finally:
        session.close()
    assert table.column("s").to_pylist() == ["x", None]
    assert table.column("s").null_count == 1


def test_append_builds_the_new_version_from_the_previous_one(
    spark_project: SparkProject,
) -> None:
    project = batch_project(spark_project, "append")
    feed(project, [{"id": 1, "name": "a"}])
    stats = feed(project, [{"id": 2, "name": "b"}])
    assert stats["inserted"] == 1
    assert names(project) == [(1, "a"), (2, "b")]
    assert project.shown("items") == project.versions("items")[-1]


def test_merge_by_key_hard_delete_on_versions(spark_project: SparkProject) -> None:
    project = batch_project(
        spark_project, "merge_by_key", ", primary_key='id', delete_mode='hard', exact_counts=True"
    )  # exact: key 3 comes back unchanged (NULL stays NULL) and is not counted as updated
    feed(project, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": None}])
    stats = feed(project, [{"id": 1, "name": "A"}, {"id": 3, "name": None}, {"id": 4, "name": "d"}])
    assert names(project) == [(1, "A"), (3, None), (4, "d")]
    assert stats == {"inserted": 1, "updated": 1, "deleted": 1}


def test_merge_by_key_soft_delete_flags_missing_rows(spark_project: SparkProject) -> None:
    project = batch_project(spark_project, "merge_by_key", ", primary_key='id', delete_mode='soft'")
    feed(project, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    feed(project, [{"id": 1, "name": "a"}])
    rows = project.rows("main.items", "id")
    assert [(r["id"], r["_deleted"]) for r in rows] == [(1, False), (2, True)]
    assert rows[1]["_deleted_at"] is not None


def test_merge_by_key_preserve_keeps_missing_rows(spark_project: SparkProject) -> None:
    project = batch_project(spark_project, "merge_by_key", ", primary_key='id'")
    feed(project, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    feed(project, [{"id": 2, "name": "B"}])
    assert names(project) == [(1, "a"), (2, "B")]


def test_scd_type_2_keeps_history_on_versions(spark_project: SparkProject) -> None:
    project = batch_project(spark_project, "scd_type_2", ", primary_key='id'")
    feed(project, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    feed(project, [{"id": 1, "name": "A"}, {"id": 2, "name": "b"}])
    rows = project.rows("main.items", "id, valid_from")
    assert [(r["id"], r["name"], r["is_current"]) for r in rows] == [
        (1, "a", False),
        (1, "A", True),
        (2, "b", True),
    ]
    assert rows[0]["valid_to"] == rows[1]["valid_from"]


def test_a_failing_check_leaves_the_published_version(spark_project: SparkProject) -> None:
    project = batch_project(spark_project, "replace")
    feed(project, [{"id": 1, "name": "a"}])
    shown = project.shown("items")
    batch_project(project, "replace", ", quality_checks=[{'not_null': 'name'}]")
    project.write({"input.json": json.dumps([{"id": 2, "name": None}])})
    result = project.run()
    assert result.models["items"].status == "failed"
    assert project.shown("items") == shown
    assert names(project) == [(1, "a")]
    assert project.versions("items") == [shown]  # the unpublished version is gone


def test_views_and_downstream_tables(spark_project: SparkProject) -> None:
    project = spark_project.write(
        {
            "models/base.sql": "SELECT 1 AS id, 'a' AS name UNION ALL SELECT 2, 'b'",
            "models/named.sql": "-- @materialize: view\nSELECT id, upper(name) AS name FROM base",
            "models/counted.sql": "SELECT count(*) AS n FROM named",
        }
    )
    project.run_ok()
    assert project.kind("named", "main") == "view"
    assert project.rows("main.counted") == [{"n": 2}]
    project.run_ok()
    assert project.rows("main.named", "id") == [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}]


def test_spark_and_duckdb_read_each_other_and_spark_models_export(
    spark_project: SparkProject,
) -> None:
    project = spark_project.config("")
    project.add_connection("duck", '{type: duckdb, path: "data/duck.duckdb"}')
    project.write(
        {
            "models/m.sql": """
                -- @name: src
                -- @connection: duck
                select range as id, range % 3 as kind, NULL::VARCHAR as note from range(1000)
                -- @name: on_spark
                -- @export: exports/on_spark.csv
                select kind, count(*) as n, count(note) as notes from src group by kind
                -- @name: back
                -- @connection: duck
                select * from on_spark
            """,
        }
    )
    project.run_ok()
    assert project.sql("SELECT kind, n, notes FROM main.on_spark ORDER BY kind") == [
        (0, 334, 0),
        (1, 333, 0),
        (2, 333, 0),
    ]
    with duckdb.connect(str(project.root / "data" / "duck.duckdb"), read_only=True) as con:
        assert con.execute("SELECT kind, n FROM main.back ORDER BY kind").fetchall() == [
            (0, 334),
            (1, 333),
            (2, 333),
        ]
    exported = (project.root / "exports" / "on_spark.csv").read_text(encoding="utf-8")
    assert sorted(exported.splitlines()[1:]) == ["0,334,0", "1,333,0", "2,333,0"]


def test_interlace_info_shows_the_cluster_health(spark_project: SparkProject) -> None:
    from click.testing import CliRunner
    from interlace_cli.main import cli

    result = CliRunner(env={"COLUMNS": "250"}).invoke(
        cli, ["info", "--project", str(spark_project.root)]
    )
    text = " ".join(result.output.split())
    assert result.exit_code == 0, text
    assert "reachable (spark 4." in text and "executors" in text
