"""A migration on MySQL runs its statements in order, and the first that fails stops it with the
server's error: mysqlclient reports the failure of a later statement of one string only when
its result is asked for, so a broken second statement used to pass unnoticed."""

from __future__ import annotations

from pathlib import Path

from interlace.migrations import migrate
from interlace.testing import ProjectFolder

from . import mysql_server as _mysql
from .mysql_server import mysql_sql, mysql_yaml

mysql_server = _mysql.mysql_server
mysql_database = _mysql.mysql_database


def project(root: Path, database: str, migration: str) -> ProjectFolder:
    folder = ProjectFolder.create(
        root,
        config=f"""
            name: shop
            connections:
              default: {{type: mysql, {mysql_yaml(database)}}}
        """,
    )
    return folder.write({"migrations/001_tables.sql": migration, "models/t.sql": "SELECT 1 AS n"})


def test_a_failing_later_statement_of_a_migration_fails_it_naming_the_error(
    mysql_database: str, tmp_path: Path
) -> None:
    folder = project(
        tmp_path / "shop",
        mysql_database,
        "CREATE TABLE first_one (id INT);\n"
        "CREATE TABLE second_one (url VARCHAR);\n"  # VARCHAR needs a length on MySQL
        "CREATE TABLE third_one (id INT);\n",
    )
    outcome = migrate(folder.load())
    assert not outcome.success
    assert outcome.failed is not None and outcome.failed.migration.version == 1
    assert "1064" in (outcome.error or "") and "syntax" in (outcome.error or "").lower()
    tables = {name for (name,) in mysql_sql(mysql_database, "SHOW TABLES")}
    assert "third_one" not in tables and "second_one" not in tables  # it stopped there


def test_a_migration_of_several_statements_applies_each(
    mysql_database: str, tmp_path: Path
) -> None:
    folder = project(
        tmp_path / "shop",
        mysql_database,
        "CREATE TABLE a (id INT);\nINSERT INTO a VALUES (1), (2);\nCREATE TABLE b (id INT);\n",
    )
    assert migrate(folder.load()).success
    assert mysql_sql(mysql_database, "SELECT id FROM a ORDER BY id") == [(1,), (2,)]
    assert mysql_sql(mysql_database, "SHOW TABLES LIKE 'b'") == [("b",)]
