"""DuckDB `attach:` of SQLite files, PostgreSQL, MySQL/MariaDB and DuckLake, with the extensions
installed offline from their wheels; models read `alias.schema.table` in SQL and Python; writes go
through side-effect models and honour read_only; failures name the connection and the reason."""

from __future__ import annotations

import socket
import sqlite3
import time
from pathlib import Path

import pytest
from interlace.api import open_engines
from interlace.errors import InterlaceConnectionError
from interlace.testing import ProjectFolder

from . import mysql_server as _mysql
from .conftest import PG, admin_connect
from .mysql_server import mysql_sql, mysql_yaml

# the MySQL fixtures, used by name
mysql_server = _mysql.mysql_server
mysql_database = _mysql.mysql_database


def project(root: Path, attach: list[str], files: dict[str, str], **extra: str) -> ProjectFolder:
    """A project whose DuckDB default connection attaches ``attach``."""
    items = "".join(f"      - {{{item}}}\n" for item in attach)
    more = "".join(f"    {k}: {v}\n" for k, v in extra.items())
    config = (
        "name: attach\nconnections:\n  default:\n    type: duckdb\n    path: data/dev.duckdb\n"
        f"{more}    attach:\n{items}"
    )
    return ProjectFolder.create(root, config=config).write(files)


READERS = {
    "models/copied.sql": "SELECT id, name FROM src.{schema}.customers ORDER BY id",
    "models/from_python.py": """
        from interlace import model

        @model
        def from_python(context):
            customers = context.ibis.table("customers", database=("src", "{schema}"))
            return customers.filter(customers.id > 1).select("id", "name")
    """,
}


def readers(schema: str) -> dict[str, str]:
    return {rel: text.replace("{schema}", schema) for rel, text in READERS.items()}


def test_a_sqlite_file_is_read_in_sql_and_python(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "shop.sqlite") as con:
        con.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        con.execute("INSERT INTO customers VALUES (1, 'ann'), (2, 'bob')")
    folder = project(
        tmp_path, ["name: src, type: sqlite, path: shop.sqlite, read_only: true"], readers("main")
    )
    folder.run_ok()
    assert folder.sql("SELECT * FROM copied") == [(1, "ann"), (2, "bob")]
    assert folder.sql("SELECT * FROM from_python") == [(2, "bob")]


def test_postgres_is_read_and_written_through_attach(tmp_path: Path, pg_database: str) -> None:
    with admin_connect(pg_database) as con:
        con.execute("CREATE TABLE customers (id int, name text)")
        con.execute("INSERT INTO customers VALUES (1, 'ann'), (2, 'bob')")
        con.execute("CREATE TABLE audit (id int)")
    dsn = f"host={PG['host']} port={PG['port']} user={PG['user']} dbname={pg_database}"
    files = {
        **readers("public"),
        "models/push.sql": """
            -- @materialize: none
            INSERT INTO src.public.audit SELECT id FROM copied
        """,
    }
    folder = project(tmp_path, [f"name: src, type: postgres, dsn: '{dsn}'"], files)
    folder.run_ok()
    assert folder.sql("SELECT * FROM from_python") == [(2, "bob")]
    with admin_connect(pg_database) as con:
        assert con.execute("SELECT id FROM audit ORDER BY id").fetchall() == [(1,), (2,)]
    # read_only: the same write is refused by DuckDB, naming the attached database
    project(tmp_path, [f"name: src, type: postgres, dsn: '{dsn}', read_only: true"], {})
    result = folder.run(["push"], force=True)
    assert "read-only" in (result.models["push"].error or "")


def test_mysql_is_read_through_attach(tmp_path: Path, mysql_database: str) -> None:
    mysql_sql(mysql_database, "CREATE TABLE customers (id INT, name VARCHAR(20))")
    mysql_sql(mysql_database, "INSERT INTO customers VALUES (1, 'ann'), (2, 'bob')")
    item = f"name: src, type: mysql, {mysql_yaml(mysql_database)}, read_only: true"
    folder = project(tmp_path, [item], readers(mysql_database))
    folder.run_ok()
    assert folder.sql("SELECT * FROM copied") == [(1, "ann"), (2, "bob")]
    assert folder.sql("SELECT * FROM from_python") == [(2, "bob")]


def test_a_local_ducklake_is_created_written_and_read(tmp_path: Path) -> None:
    files = {
        "models/fill_lake.sql": """
            -- @materialize: none
            CREATE OR REPLACE TABLE lake.main.events AS
            SELECT range AS id, range % 3 AS kind FROM range(100000)
        """,
        "models/kinds.sql": """
            -- @dependencies: [fill_lake]
            SELECT kind, count(*) AS n FROM lake.main.events GROUP BY kind ORDER BY kind
        """,
    }
    item = "name: lake, type: ducklake, path: lake/catalog.ducklake, data_path: lake/data"
    (tmp_path / "lake").mkdir()
    folder = project(tmp_path, [item], files)
    folder.run_ok()
    assert folder.sql("SELECT * FROM kinds") == [(0, 33334), (1, 33333), (2, 33333)]
    assert list((tmp_path / "lake" / "data").rglob("*.parquet"))  # data files in data_path
    # the existing lake, read-only, from a second project
    other = project(
        tmp_path / "reader",
        [f"name: lake, type: ducklake, path: {tmp_path}/lake/catalog.ducklake, read_only: true"],
        {"models/count.sql": "SELECT count(*) AS n FROM lake.main.events"},
    )
    other.run_ok()
    assert other.sql("SELECT n FROM count") == [(100000,)]


def test_extensions_and_attachments_load_without_any_download(tmp_path: Path) -> None:
    """The private extension folder gets the wheel files; DuckDB's own ~/.duckdb is not used."""
    with sqlite3.connect(tmp_path / "s.sqlite") as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    folder = project(
        tmp_path,
        ["name: s, type: sqlite, path: s.sqlite"],
        {"models/a.sql": "SELECT count(*) AS n FROM s.main.t"},
        extensions="[httpfs]",
    )
    engine = open_engines(folder.load())["default"]
    try:
        session = engine.session()
        loaded = dict(
            session.fetch_all(
                "SELECT extension_name, loaded FROM duckdb_extensions() "
                "WHERE extension_name IN ('httpfs', 'sqlite_scanner')"
            )
        )
        assert loaded == {"httpfs": True, "sqlite_scanner": True}
        session.close()
    finally:
        engine.close()


# ---------------------------------------------------------------------------- bad input


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_mysql_server_is_reported_fast_with_the_reason(tmp_path: Path) -> None:
    port = closed_port()
    item = f"name: shop, type: mysql, host: 127.0.0.1, port: {port}, user: root, connect_timeout: 2"
    folder = project(tmp_path, [item], {"models/a.sql": "SELECT 1 AS x"})
    engine = open_engines(folder.load())["default"]
    started = time.perf_counter()
    with pytest.raises(InterlaceConnectionError) as info:
        engine.ping()
    assert time.perf_counter() - started < 5
    text = str(info.value)
    assert "connection 'default': attach 'shop' (mysql)" in text
    assert f"cannot connect to MySQL at 127.0.0.1:{port}/ as root" in text
    assert "refused" in text.lower()
    with pytest.raises(InterlaceConnectionError, match="attach 'shop'"):
        folder.run()


def test_an_unreachable_postgres_server_is_reported_with_the_reason(tmp_path: Path) -> None:
    port = closed_port()
    item = f"name: crm, type: postgres, host: 127.0.0.1, port: {port}, password: s3cret"
    folder = project(tmp_path, [item], {"models/a.sql": "SELECT 1 AS x"})
    engine = open_engines(folder.load())["default"]
    with pytest.raises(InterlaceConnectionError) as info:
        engine.ping()
    text = str(info.value)
    assert "attach 'crm' (postgres): cannot attach 127.0.0.1:" in text
    assert "refused" in text.lower() and "s3cret" not in text


def test_a_missing_sqlite_file_is_an_error_before_duckdb_reads_it(tmp_path: Path) -> None:
    folder = project(
        tmp_path,
        ["name: shop, type: sqlite, path: missing.sqlite, read_only: true"],
        {"models/a.sql": "SELECT 1 AS x"},
    )
    with pytest.raises(InterlaceConnectionError) as info:
        folder.run()
    assert "attach 'shop' (sqlite): file" in str(info.value)
    assert "missing.sqlite does not exist" in str(info.value)
    assert not (tmp_path / "missing.sqlite").exists()
