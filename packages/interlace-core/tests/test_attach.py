"""`attach:` of a DuckDB connection: strict config, DuckDB files read in SQL and Python, clear
errors for a missing file or a missing extension wheel. (SQLite, PostgreSQL, MySQL and DuckLake
attachments need the extension wheels that interlace-connections brings: tested there.)"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest
from interlace.api import open_engines
from interlace.config import load_config
from interlace.connection_config import AttachConfig
from interlace.engines import duckdb_extensions
from interlace.errors import ConfigError, InterlaceConnectionError

from .conftest import MakeProject


def attach_config(items: str, extra: str = "") -> str:
    return (
        "name: attach\nconnections:\n  default:\n    type: duckdb\n    path: data/dev.duckdb\n"
        f"{extra}    attach:\n{items}"
    )


def test_attach_items_are_validated_strictly(make_project: MakeProject) -> None:
    cases = {
        "      - {name: x, type: oracle, path: a.db}\n": (
            "connections.default.attach.0.type",
            "'postgres', 'mysql', 'sqlite', 'duckdb' or 'ducklake'",
        ),
        "      - {name: x, type: sqlite}\n": ("attach.0", "needs path"),
        "      - {name: x, type: postgres, path: a.db}\n": ("attach.0", "not path"),
        "      - {name: x, type: sqlite, path: a.db, host: h}\n": ("attach.0", "not host"),
        "      - {name: x, type: duckdb, path: a.db, data_path: d}\n": ("attach.0", "ducklake"),
        "      - {name: main, type: duckdb, path: a.db}\n": ("attach.0", "reserves"),
        "      - {name: 'bad name', type: duckdb, path: a.db}\n": ("attach.0.name", "pattern"),
        "      - {name: x, type: sqlite, path: a.db, readonly: true}\n": (
            "attach.0.readonly: unknown key 'readonly'",
            "did you mean 'read_only'?",
        ),
        "      - {name: x, type: duckdb, path: a.db}\n      - {name: X, type: duckdb, path: b.db}\n": (
            "connections.default",
            "two attachments are named 'x'",
        ),
    }
    for items, (where, what) in cases.items():
        project = make_project(config=attach_config(items))
        with pytest.raises(ConfigError) as info:
            project.load()
        text = str(info.value)
        assert where in text and what in text, text
        assert "config.yaml" in text


def test_a_valid_attach_list_loads(make_project: MakeProject) -> None:
    project = make_project(
        config=attach_config(
            "      - {name: pg, type: postgres, host: db, database: crm, user: u, password: p}\n"
            "      - {name: lake, type: ducklake, path: lake.ducklake, data_path: lake/}\n"
            "      - {name: shop, type: sqlite, path: shop.sqlite, read_only: true}\n",
            extra="    extensions: [httpfs]\n",
        )
    )
    config = load_config(project.root).config.connections["default"]
    items: list[AttachConfig] = config.attach  # type: ignore[attr-defined]
    assert [(a.name, a.type, a.read_only) for a in items] == [
        ("pg", "postgres", False),
        ("lake", "ducklake", False),
        ("shop", "sqlite", True),
    ]
    assert config.extensions == ["httpfs"]  # type: ignore[attr-defined]


def test_another_duckdb_file_is_read_from_sql_and_python_models(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/customers.sql": "SELECT id, upper(name) AS name FROM crm.main.customers",
            "models/vip.py": """
                from interlace import model

                @model
                def vip(context):
                    customers = context.ibis.table("customers", database=("crm", "main"))
                    return customers.filter(customers.id > 1)
            """,
        },
        config=attach_config(
            "      - {name: crm, type: duckdb, path: crm.duckdb, read_only: true}\n"
        ),
    )
    with duckdb.connect(str(project.root / "crm.duckdb")) as con:
        con.execute(
            "CREATE TABLE customers AS SELECT * FROM (VALUES (1, 'ann'), (2, 'bob')) t(id, name)"
        )
    project.run_ok()
    assert project.rows("customers") == [{"id": 1, "name": "ANN"}, {"id": 2, "name": "BOB"}]
    assert project.rows("vip") == [{"id": 2, "name": "bob"}]


def test_a_missing_attach_file_fails_the_run_naming_connection_attachment_and_fix(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {"models/a.sql": "SELECT * FROM crm.main.customers"},
        config=attach_config("      - {name: crm, type: duckdb, path: nowhere/crm.duckdb}\n"),
    )
    with pytest.raises(InterlaceConnectionError) as info:
        project.run()
    text = str(info.value)
    assert "connection 'default': attach 'crm' (duckdb)" in text
    assert "nowhere/crm.duckdb does not exist" in text and "create: true" in text


def test_create_true_starts_a_new_database_file(make_project: MakeProject) -> None:
    project = make_project(
        {"models/fill.sql": "-- @materialize: none\nCREATE TABLE scratch.main.t AS SELECT 42 AS x"},
        config=attach_config(
            "      - {name: scratch, type: duckdb, path: scratch.duckdb, create: true}\n"
        ),
    )
    project.run_ok()
    with duckdb.connect(str(project.root / "scratch.duckdb"), read_only=True) as con:
        assert con.execute("SELECT x FROM t").fetchall() == [(42,)]


def test_ping_reports_a_missing_attachment_fast_without_creating_files(
    make_project: MakeProject,
) -> None:
    project = make_project(
        config=attach_config("      - {name: crm, type: duckdb, path: gone.duckdb}\n")
    )
    engine = open_engines(project.load())["default"]
    started = time.perf_counter()
    with pytest.raises(
        InterlaceConnectionError, match=r"attach 'crm'.*gone\.duckdb does not exist"
    ):
        engine.ping()
    assert time.perf_counter() - started < 5
    engine.close()
    assert not (project.root / "data").exists()  # looking created nothing


def test_a_missing_extension_wheel_names_the_package_to_install(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.resources

    real = importlib.resources.files

    def files(module: str) -> object:
        if module == "duckdb_extension_sqlite":
            raise ModuleNotFoundError(module)
        return real(module)

    monkeypatch.setattr(importlib.resources, "files", files)
    monkeypatch.setenv("INTERLACE_DUCKDB_EXTENSIONS", str(make_project().root / "ext"))
    project = make_project(
        {"models/a.sql": "SELECT 1 AS x"},
        config=attach_config(
            "      - {name: shop, type: sqlite, path: shop.sqlite, create: true}\n"
        ),
    )
    with pytest.raises(InterlaceConnectionError) as info:
        project.run()
    text = str(info.value)
    assert "attach 'shop' (sqlite): the DuckDB extension 'sqlite' is not installed" in text
    assert f"pip install duckdb-extension-sqlite=={duckdb.__version__}" in text
    with pytest.raises(InterlaceConnectionError, match="duckdb-extension-nope"):
        duckdb_extensions.extension_file("nope")


def test_extensions_are_installed_into_a_private_folder(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "private-extensions"
    monkeypatch.setenv("INTERLACE_DUCKDB_EXTENSIONS", str(folder))
    assert duckdb_extensions.extension_directory() == folder
    con = duckdb.connect(config={"extension_directory": str(folder)})
    duckdb_extensions.load_extension(con, "json")  # built in: nothing to do
    with pytest.raises(InterlaceConnectionError, match="not a DuckDB extension name"):
        duckdb_extensions.load_extension(con, "x; DROP TABLE t")
    con.close()
