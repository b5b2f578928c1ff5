"""Spark tests: one Spark (one JVM, local[2]) per test worker, shared by every test of it
(the ``spark`` fixture of the parent folder's conftest, which the engine suite uses too).

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
from pathlib import Path
from typing import Any, Self

import pytest
from interlace.testing import ProjectFolder
from interlace.testing.folder import Fetched

from ..conftest import SPARK_CONF, require_java

__all__ = ["SPARK_CONF", "SparkProject", "require_java", "spark_config", "spark_sql"]


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
    return spark_statements(query)[0]


def spark_statements(text: str) -> list[str]:
    """DuckDB SQL text as Spark SQL statements, translated as a spark connection does."""
    import sqlglot
    from interlace_connections.spark.sql_checks import adapted

    return [adapted(s).sql(dialect="spark") for s in sqlglot.parse(text, read="duckdb") if s]


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
        # through Arrow: instants come back aware (UTC), as a spark connection reads them
        table = self.session.sql(spark_sql(query)).toArrow()
        columns = [c.to_pylist() for c in table.columns]
        return Fetched(list(table.column_names), list(zip(*columns, strict=True)))

    def execute(
        self, statement: str, *, env: str | None = None, connection: str | None = None
    ) -> list[tuple[Any, ...]]:
        if connection not in (None, "default"):
            return super().execute(statement, env=env, connection=connection)
        # as a tool writing DuckDB SQL through a spark connection would run it (Spark itself
        # refuses a string literal for a timestamp column, say)
        from interlace.opening import open_engines

        engine = open_engines(self.load(), ["default"])["default"]
        session = engine.session()
        try:
            return session.fetch_all(statement)
        finally:
            session.close()
            engine.close()

    def schemas(self) -> list[str]:
        return [str(d.name) for d in self.session.catalog.listDatabases()]

    def relations(self, env: str | None = None, connection: str | None = None) -> dict[str, str]:
        """The relations as models see them: a table model is a view over its published
        version table on Spark, reported as the ``'table'`` it is (its version tables are
        left out: :meth:`versions` lists them)."""
        from interlace.materialize.versions import is_version

        out = {}
        for database in self.session.catalog.listDatabases():
            tables = [t for t in self.session.catalog.listTables(database.name)]
            names = {t.name for t in tables}
            for table in tables:
                if table.isTemporary:
                    continue
                kind = "view" if table.tableType == "VIEW" else "table"
                if kind == "table" and "__v" in table.name:
                    model = table.name.rsplit("__v", 1)[0]
                    if model in names and is_version(model, table.name):
                        continue
                if kind == "view" and self.shown(table.name, database.name) is not None:
                    kind = "table"
                out[f"{database.name}.{table.name}"] = kind
        return out

    def columns(
        self, name: str, schema: str | None = None, env: str | None = None
    ) -> dict[str, str]:
        schema, table, _ = self._parts(name, schema, env)
        frame = self.session.sql(f"SELECT * FROM `{schema}`.`{table}` LIMIT 0")
        from interlace_connections.spark.engine import type_name

        return {f.name: type_name(f.dataType) for f in frame.schema.fields}

    def versions(self, model: str, schema: str = "main") -> list[str]:
        """The version tables of ``model``, oldest first."""
        names = [t.name for t in self.session.catalog.listTables(schema)]
        return sorted(n for n in names if n.startswith(f"{model}__v"))

    def shown(self, model: str, schema: str = "main") -> str | None:
        """The version table the model's view reads (None: no versioned publish)."""
        from interlace.materialize.versions import shown_version

        for row in self.session.sql(f"DESCRIBE TABLE EXTENDED `{schema}`.`{model}`").collect():
            if row[0] == "View Text":
                return shown_version(model, str(row[1]), "spark")
        return None


@pytest.fixture
def spark_project(tmp_path: Path, spark: Any, spark_warehouse: Path) -> SparkProject:
    """An empty project on the worker's Spark."""
    return SparkProject.on(tmp_path / "project", spark, spark_warehouse)
