"""Models materialized INTO attached databases (``database=``): DuckLake, DuckDB and SQLite files,
PostgreSQL and MySQL/MariaDB through DuckDB's extensions. Every strategy that the attachment
supports, views, re-runs, atomic failures, readers that reference ``db.schema.table``, and clear
errors for attachments that cannot take a model."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import interlace
import pytest
from interlace.errors import ModelDefinitionError

from . import mysql_server as _mysql
from .conftest import PG, admin_connect
from .mysql_server import mysql_sql, mysql_yaml
from .test_duckdb_attach import project

mysql_server = _mysql.mysql_server
mysql_database = _mysql.mysql_database

LOCAL = [
    "name: lake, type: ducklake, path: lake/catalog.ducklake, data_path: lake/data",
    "name: side, type: duckdb, path: side.duckdb, create: true",
    "name: lite, type: sqlite, path: lite.sqlite, create: true",
]

MODELS = {
    "models/raw.py": """
        import os

        from interlace import model

        @model
        def raw():
            n = int(os.environ.get("ROWS", "10"))
            change = int(os.environ.get("CHANGE", "0"))
            return [{"id": i, "v": f"v{i + change if i < 2 else i}"} for i in range(n)]
    """,
    "models/lake.sql": """
        -- @name: lake_orders
        -- @database: lake
        -- @schema: marts
        -- @strategy: merge_by_key
        -- @primary_key: id
        -- @exact_counts: true
        SELECT id, v FROM raw
        -- @name: lite_orders
        -- @database: lite
        SELECT id, v FROM raw
        -- @name: side_view
        -- @database: side
        -- @materialize: view
        SELECT count(*) AS n FROM side.main.side_history
        -- @name: back
        SELECT count(*) AS n FROM lake.marts.lake_orders JOIN lite_orders USING (id)
    """,
    "models/side.py": """
        from interlace import model

        @model(database="side", strategy="scd_type_2", primary_key="id")
        def side_history(raw):
            return raw
    """,
}


def attached(root: Path, query: str) -> list[tuple[Any, ...]]:
    """Read the attachments as a user would, in a DuckDB session of their own."""
    from interlace.engines.duckdb_extensions import load_extension

    with duckdb.connect() as con:
        for extension in ("ducklake", "sqlite"):
            load_extension(con, extension)
        con.execute(
            f"ATTACH 'ducklake:{root}/lake/catalog.ducklake' AS lake "
            f"(DATA_PATH '{root}/lake/data/', READ_ONLY)"
        )
        con.execute(f"ATTACH '{root}/side.duckdb' AS side (READ_ONLY)")
        con.execute(f"ATTACH '{root}/lite.sqlite' AS lite (TYPE sqlite, READ_ONLY)")
        return con.execute(query).fetchall()


def staging_leftovers(root: Path) -> list[tuple[Any, ...]]:
    return attached(
        root,
        "SELECT table_catalog, table_name FROM information_schema.tables "
        "WHERE table_name LIKE '\\_\\_il%' ESCAPE '\\'",
    )


def test_models_live_in_ducklake_duckdb_and_sqlite_attachments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lake").mkdir()
    folder = project(tmp_path, LOCAL, MODELS)
    root = folder.root
    loaded = folder.load()
    # a SQL reference to lake.marts.lake_orders is the model: the reader runs after it
    assert set(loaded.models["back"].depends_on) == {"lake_orders", "lite_orders"}
    assert loaded.models["lake_orders"].qualified_name == "lake.marts.lake_orders"

    result = interlace.run_sync(root)
    assert result.status == "success", {n: r.error for n, r in result.models.items()}
    assert attached(root, "SELECT count(*) FROM lake.marts.lake_orders") == [(10,)]
    assert attached(root, "SELECT count(*) FROM side.main.side_history") == [(10,)]
    assert attached(root, "SELECT count(*) FROM lite.main.lite_orders") == [(10,)]
    assert attached(root, "SELECT n FROM side.main.side_view") == [(10,)]
    with duckdb.connect(str(root / "data" / "dev.duckdb"), read_only=True) as con:
        assert con.execute("SELECT n FROM back").fetchall() == [(10,)]
        # nothing of theirs was written into the connection's own database
        own = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    assert sorted(own) == [("back",), ("raw",)]

    # two rows change, two are new: exact counts, history kept, nothing left behind
    monkeypatch.setenv("ROWS", "12")
    monkeypatch.setenv("CHANGE", "100")
    second = interlace.run_sync(root)
    assert second.status == "success", {n: r.error for n, r in second.models.items()}
    assert second.models["lake_orders"].stats == {"inserted": 2, "updated": 2}
    assert second.models["side_history"].stats["inserted"] == 2
    assert attached(root, "SELECT v FROM lake.marts.lake_orders WHERE id = 0") == [("v100",)]
    assert attached(
        root,
        "SELECT count(*), count(*) FILTER (is_current) FROM side.main.side_history",
    ) == [(14, 12)]
    assert attached(root, "SELECT count(*) FROM lite.main.lite_orders") == [(12,)]
    assert staging_leftovers(root) == []

    third = interlace.run_sync(root)  # nothing changed: every model skips or writes nothing
    assert third.status == "success"
    assert attached(root, "SELECT count(*) FROM side.main.side_history") == [(14,)]


def test_a_failed_write_leaves_the_attached_table_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "models/typed.py": """
            import os

            from interlace import model

            @model(database="side", strategy="merge_by_key", primary_key="id")
            def typed():
                if os.environ.get("BREAK"):
                    return [{"id": 1, "amount": "not a number"}]
                return [{"id": 1, "amount": 5}, {"id": 2, "amount": 6}]
        """,
    }
    folder = project(tmp_path, LOCAL[1:2], files)
    root = folder.root
    folder.run_ok()
    monkeypatch.setenv("BREAK", "1")
    result = interlace.run_sync(root)
    assert result.models["typed"].status == "failed"
    assert "amount" in (result.models["typed"].error or "")
    with duckdb.connect(str(root / "side.duckdb"), read_only=True) as con:
        assert con.execute("SELECT * FROM typed ORDER BY id").fetchall() == [(1, 5), (2, 6)]
        tables = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    assert tables == [("typed",)]  # the staged copy was rolled back with the rest


def test_models_live_in_a_postgres_attachment(tmp_path: Path, pg_database: str) -> None:
    dsn = f"host={PG['host']} port={PG['port']} user={PG['user']} dbname={pg_database}"
    files = {
        "models/pg.sql": """
            -- @name: src
            SELECT range AS id, 'v' || range AS v FROM range(5)
            -- @name: pg_orders
            -- @database: warehouse
            -- @schema: marts
            -- @strategy: merge_by_key
            -- @primary_key: id
            SELECT * FROM src
            -- @name: pg_copy
            -- @database: warehouse
            -- @schema: marts
            SELECT * FROM src
            -- @name: pg_view
            -- @database: warehouse
            -- @schema: marts
            -- @materialize: view
            SELECT 1 AS one
        """,
    }
    folder = project(tmp_path, [f"name: warehouse, type: postgres, dsn: '{dsn}'"], files)
    folder.run_ok()
    folder.run_ok(force=True)  # views and tables are replaced in place on a second run
    with admin_connect(pg_database) as con:
        assert con.execute("SELECT count(*) FROM marts.pg_orders").fetchone() == (5,)
        assert con.execute("SELECT count(*) FROM marts.pg_copy").fetchone() == (5,)
        assert con.execute("SELECT one FROM marts.pg_view").fetchone() == (1,)
        kinds = con.execute(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = 'marts' ORDER BY table_name"
        ).fetchall()
    assert kinds == [("pg_copy", "BASE TABLE"), ("pg_orders", "BASE TABLE"), ("pg_view", "VIEW")]


def test_mysql_attachments_take_replace_and_append_and_refuse_merges(
    tmp_path: Path, mysql_database: str
) -> None:
    item = f"name: shop, type: mysql, {mysql_yaml(mysql_database)}"
    files = {
        "models/my.sql": f"""
            -- @name: src
            SELECT range AS id FROM range(4)
            -- @name: copied
            -- @database: shop
            -- @schema: {mysql_database}
            SELECT * FROM src
            -- @name: appended
            -- @database: shop
            -- @schema: {mysql_database}
            -- @strategy: append
            SELECT * FROM src
        """,
    }
    folder = project(tmp_path, [item], files)
    root = folder.root
    folder.run_ok()
    folder.run_ok(force=True)
    assert mysql_sql(mysql_database, "SELECT count(*) FROM copied") == [(4,)]
    assert mysql_sql(mysql_database, "SELECT count(*) FROM appended") == [(8,)]

    (root / "models" / "merged.sql").write_text(
        f"-- @database: shop\n-- @schema: {mysql_database}\n-- @strategy: merge_by_key\n"
        "-- @primary_key: id\nSELECT * FROM src\n",
        encoding="utf-8",
    )
    with pytest.raises(ModelDefinitionError) as raised:
        folder.load()
    assert raised.value.model == "merged"
    assert "MySQL attachment 'shop'" in raised.value.message
    assert "connection of type mysql" in (raised.value.hint or "")


@pytest.mark.parametrize(
    ("attach", "option", "expected", "hint"),
    [
        (LOCAL[1:2], "database='nowhere'", "is not attached by connection 'default'", "attach"),
        (
            ["name: side, type: duckdb, path: side.duckdb, create: true, read_only: true"],
            "database='side'",
            "attachment 'side' of connection 'default' is read-only",
            "read_only",
        ),
    ],
)
def test_a_database_that_cannot_take_the_model_is_refused_at_load(
    tmp_path: Path, attach: list[str], option: str, expected: str, hint: str
) -> None:
    files = {
        "models/m.py": f"""
            from interlace import model

            @model({option})
            def m():
                return [{{"a": 1}}]
        """,
    }
    folder = project(tmp_path, attach, files)
    with pytest.raises(ModelDefinitionError) as raised:
        folder.load()
    error = raised.value
    assert expected in error.message
    assert (error.model, error.file, error.line) == ("m", "models/m.py", 3)
    assert hint in (error.hint or "")


def test_database_on_a_connection_without_attachments_is_refused(
    tmp_path: Path, pg_database: str
) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "config.yaml").write_text(
        "name: p\nconnections:\n  default:\n    type: postgres\n"
        f"    host: {PG['host']}\n    database: {pg_database}\n    user: {PG['user']}\n",
        encoding="utf-8",
    )
    (tmp_path / "models" / "m.sql").write_text("-- @database: other\nSELECT 1 AS a\n")
    with pytest.raises(ModelDefinitionError) as raised:
        interlace.load_project(tmp_path)
    assert "of type 'postgres', which attaches no databases" in raised.value.message
    assert raised.value.file == "models/m.sql"


def test_sqlite_attachment_has_no_other_schemas(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "lite.sqlite"):
        pass
    files = {"models/m.sql": "-- @database: lite\n-- @schema: marts\nSELECT 1 AS a\n"}
    folder = project(tmp_path, ["name: lite, type: sqlite, path: lite.sqlite"], files)
    root = folder.root
    result = interlace.run_sync(root)
    error = result.models["m"].error or ""
    assert result.models["m"].status == "failed"
    assert "SQLite" in error and "schema" in error


def test_promote_skips_models_in_attached_databases_and_says_why(tmp_path: Path) -> None:
    from interlace.promote import promote

    files = {
        "models/m.sql": """
            -- @name: own
            SELECT 1 AS a
            -- @name: outside
            -- @database: side
            SELECT * FROM own
        """,
    }
    item = "name: side, type: duckdb, path: 'side_{env}.duckdb', create: true"
    folder = project(tmp_path, [item], files)
    root = folder.root
    (root / "config.yaml").write_text(
        (root / "config.yaml").read_text().replace("data/dev.duckdb", "data/{env}.duckdb"),
        encoding="utf-8",
    )
    folder.run_ok()
    result = promote(root, "dev", "prod", all_models=True)
    steps = {s.model: s for s in result.plan.steps}
    assert steps["own"].action == "copy"
    assert steps["outside"].action == "skip"
    assert "lives in attached database 'side'" in (steps["outside"].reason or "")


def test_only_attachments_that_models_target_are_listed_each_run(tmp_path: Path) -> None:
    """An attached database no model writes into is not scanned for relations (a large
    attached server would cost every run)."""
    from interlace.api import open_engines

    files = {"models/m.sql": "-- @database: side\nSELECT 1 AS a\n"}
    attach = [*LOCAL[1:2], "name: spare, type: duckdb, path: spare.duckdb, create: true"]
    folder = project(tmp_path, attach, files)
    root = folder.root
    folder.run_ok()
    with duckdb.connect(str(root / "spare.duckdb")) as con:
        con.execute("CREATE TABLE unrelated AS SELECT 1 AS x")
    engine = open_engines(folder.load())["default"]
    try:
        listed = {(schema, name) for schema, name, _ in engine.list_relations("%")}
    finally:
        engine.close()
    assert listed == {("side.main", "m")}
