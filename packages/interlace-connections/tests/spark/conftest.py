"""Spark tests: one Spark (one JVM, local[2]) per test worker, shared by every test of it.

Projects of these tests point their ``spark`` connection at the worker's warehouse with the
in-memory catalog (a Derby metastore takes tens of seconds to create and admits one process);
each project starts from an empty catalog. Tests that need the Hive catalog or several
processes start ``interlace`` in subprocesses of their own.

Without Java every test here skips, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import pytest
from interlace.testing import ProjectFolder
from interlace.testing.folder import Fetched
from interlace.testing.prerequisites import require

SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def require_java() -> None:
    """Skip (fail when ``CI=true``) when no Java runtime is installed."""
    require(
        bool(os.environ.get("JAVA_HOME") or shutil.which("java")),
        "a Java 17 runtime for Spark (java on the PATH, or JAVA_HOME)",
        "install one (apt-get install -y openjdk-17-jre-headless) or set JAVA_HOME",
    )


@pytest.fixture(scope="session")
def spark_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spark_warehouse")


@pytest.fixture(scope="session")
def spark(spark_warehouse: Path) -> Iterator[Any]:
    """The worker's Spark session (local[2], in-memory catalog)."""
    require_java()
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master("local[2]")
        .appName("interlace-tests")
        .config("spark.sql.warehouse.dir", str(spark_warehouse))
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
    )
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def spark_config(warehouse: Path, extra: str = "") -> str:
    conf = "\n".join(f"      {k}: '{v}'" for k, v in SPARK_CONF.items())
    return (
        "name: spark_test\n"
        "connections:\n"
        "  default:\n"
        "    type: spark\n"
        "    master: local[2]\n"
        "    catalog: in-memory\n"
        f"    warehouse: {warehouse}\n"
        "    conf:\n"
        f"{conf}\n"
        "executor:\n"
        "  max_workers: 2\n" + textwrap.dedent(extra)
    )


def spark_sql(query: str) -> str:
    """A query written the way the test helpers write it (DuckDB's quoting) in Spark SQL."""
    import sqlglot

    return sqlglot.transpile(query, read="duckdb", write="spark")[0]


class SparkProject(ProjectFolder):
    """A project whose default connection is the worker's Spark; reads go through it."""

    engine = "spark"
    session: Any = None
    warehouse: Path

    @classmethod
    def on(cls, root: Path, session: Any, warehouse: Path) -> SparkProject:
        for database in session.catalog.listDatabases():  # an empty catalog for each project
            if database.name != "default":
                session.sql(f"DROP DATABASE IF EXISTS `{database.name}` CASCADE")
        for table in session.catalog.listTables("default"):
            kind = "VIEW" if table.tableType == "VIEW" else "TABLE"
            session.sql(f"DROP {kind} IF EXISTS `default`.`{table.name}`")
        for name in os.listdir(warehouse):  # files of tables the catalog forgot
            shutil.rmtree(warehouse / name, ignore_errors=True)
        project = cls.create(root, config=None)
        project.session = session
        project.warehouse = warehouse
        return project.config()

    def config(self, extra: str = "") -> Self:
        return self.write({"config.yaml": spark_config(self.warehouse, extra)})

    def _fetch(self, query: str, connection: str | None, env: str | None) -> Fetched:
        if connection not in (None, "default"):
            return super()._fetch(query, connection, env)
        frame = self.session.sql(spark_sql(query))
        return Fetched(list(frame.columns), [tuple(r) for r in frame.collect()])

    def execute(
        self, statement: str, *, env: str | None = None, connection: str | None = None
    ) -> list[tuple[Any, ...]]:
        if connection not in (None, "default"):
            return super().execute(statement, env=env, connection=connection)
        return [tuple(r) for r in self.session.sql(spark_sql(statement)).collect()]

    def relations(self, env: str | None = None, connection: str | None = None) -> dict[str, str]:
        out = {}
        for database in self.session.catalog.listDatabases():
            for table in self.session.catalog.listTables(database.name):
                if not table.isTemporary:
                    kind = "view" if table.tableType == "VIEW" else "table"
                    out[f"{database.name}.{table.name}"] = kind
        return out

    def columns(
        self, name: str, schema: str | None = None, env: str | None = None
    ) -> dict[str, str]:
        schema, table, _ = self._parts(name, schema, env)
        frame = self.session.sql(f"SELECT * FROM `{schema}`.`{table}` LIMIT 0")
        return {f.name: f.dataType.simpleString().upper() for f in frame.schema.fields}

    def versions(self, model: str, schema: str = "main") -> list[str]:
        """The version tables of ``model``, oldest first."""
        names = [t.name for t in self.session.catalog.listTables(schema)]
        return sorted(n for n in names if n.startswith(f"{model}__v"))

    def shown(self, model: str, schema: str = "main") -> str | None:
        """The version table the model's view reads."""
        for row in self.session.sql(f"DESCRIBE TABLE EXTENDED `{schema}`.`{model}`").collect():
            if row[0] == "View Text":
                return str(row[1]).rsplit(".", 1)[-1].strip("`")
        return None


@pytest.fixture
def spark_project(tmp_path: Path, spark: Any, spark_warehouse: Path) -> SparkProject:
    """An empty project on the worker's Spark."""
    return SparkProject.on(tmp_path / "project", spark, spark_warehouse)
