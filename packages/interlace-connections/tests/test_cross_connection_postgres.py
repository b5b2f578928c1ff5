"""Models on PostgreSQL and DuckDB read each other: rows are streamed across as Arrow batches."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import interlace

if TYPE_CHECKING:
    from conftest import PgProject


def test_a_postgres_model_reads_a_duckdb_model_and_duckdb_reads_it_back(
    pg_project: PgProject,
) -> None:
    pg_project.add_connection("duck", '{type: duckdb, path: "data/duck.duckdb"}')
    pg_project.write(
        {
            "models/m.sql": """
                -- @name: src
                -- @connection: duck
                select range as id, range % 3 as kind from range(1000)

                -- @name: on_pg
                select kind, count(*) as n from src group by kind

                -- @name: back
                -- @connection: duck
                select * from on_pg
            """,
        }
    )

    result = interlace.run_sync(pg_project.root)

    assert result.status == "success", [m.error for m in result.failed]
    assert pg_project.sql("SELECT kind, n FROM main.on_pg ORDER BY kind") == [
        (0, 334),
        (1, 333),
        (2, 333),
    ]
    with duckdb.connect(str(pg_project.root / "data" / "duck.duckdb"), read_only=True) as con:
        assert con.execute("SELECT kind, n FROM main.back ORDER BY kind").fetchall() == [
            (0, 334),
            (1, 333),
            (2, 333),
        ]
