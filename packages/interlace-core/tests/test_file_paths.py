"""File paths inside SQL resolve against the project folder, not the shell's current folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace.file_paths import anchor_file_table, anchor_reader, is_reader
from sqlglot import exp, parse_one

if TYPE_CHECKING:
    from pathlib import Path

    import pytest
    from conftest import MakeProject


def test_read_csv_in_a_sql_model_reads_the_projects_file_from_any_folder(
    make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(
        {
            "data/prices.csv": "sku,price\na,1.5\nb,2.0\n",
            "models/prices.sql": "select * from read_csv('data/prices.csv')",
            "models/skus.sql": "select sku from 'data/prices.csv'",
            "models/both.sql": "select count(*) as n from read_csv(['data/prices.csv', "
            "'data/prices.csv'])",
        }
    )
    # the shell is elsewhere, and that folder has a file of the same name: it is not read
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data").mkdir(parents=True)
    (elsewhere / "data" / "prices.csv").write_text("sku,price\nwrong,0\n", encoding="utf-8")
    monkeypatch.chdir(elsewhere)
    project.run_ok()
    assert project.values("prices", order_by="sku") == [("a", 1.5), ("b", 2.0)]
    assert project.values("skus", order_by="sku") == [("a",), ("b",)]
    assert project.values("both") == [(4,)]


def test_a_python_models_own_sql_finds_project_files_from_another_folder(
    make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(
        {
            "data/prices.csv": "sku,price\na,1.5\n",
            "models/prices.py": """
                from interlace import model


                @model
                def prices(context):
                    return context.connection.sql("select * from 'data/prices.csv'").to_arrow_table()
            """,
        }
    )
    monkeypatch.chdir(tmp_path)
    project.run_ok()
    assert project.values("prices") == [("a", 1.5)]


def test_moving_the_project_does_not_change_what_a_file_reading_model_is(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "data/prices.csv": "sku\na\n",
            "models/prices.sql": "select * from read_csv('data/prices.csv')",
        }
    )
    query = project.load().models["prices"].sql
    assert query == "select * from read_csv('data/prices.csv')"  # stored as written


def test_only_relative_paths_of_file_readers_are_anchored(tmp_path: Path) -> None:
    def anchored(sql: str) -> str:
        def visit(node: exp.Expr) -> exp.Expr:
            if is_reader(node):
                return anchor_reader(node, tmp_path)
            if isinstance(node, exp.Table):
                return anchor_file_table(node, tmp_path)
            return node

        return parse_one(sql, read="duckdb").transform(visit).sql(dialect="duckdb")

    assert f"'{tmp_path}/x.csv'" in anchored("select * from read_csv('x.csv')")
    assert f"'{tmp_path}/a/*.parquet'" in anchored("select * from read_parquet(['a/*.parquet'])")
    assert f'"{tmp_path}/x.json"' in anchored("select * from 'x.json'")
    for untouched in (
        "select * from read_csv('/abs/x.csv')",
        "select * from read_parquet('s3://bucket/x.parquet')",
        "select * from orders",
        "select * from postgres_scan('host=db', 'public', 'x')",
        "select upper('x.csv')",
    ):
        assert str(tmp_path) not in anchored(untouched), untouched
