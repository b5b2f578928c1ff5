"""`access: read` (SPEC §7.2): every write to a read-only connection is refused; `shared: true`
connections keep `{env}` as written."""

from __future__ import annotations

import duckdb
import pytest
from interlace.config import load_config
from interlace.export_on_demand import export_model
from interlace.migrations import MigrationError, migrate

from .conftest import MakeProject

WRITE = """\
name: access
connections:
  default: {type: duckdb, path: data/dev.duckdb}
"""

READ = """\
name: access
connections:
  default: {type: duckdb, path: data/dev.duckdb, access: read}
"""

MODELS = {
    "models/orders.sql": "SELECT 1 AS id, 10 AS amount UNION ALL SELECT 2, 20",
}


def built(make_project: MakeProject, extra: dict[str, str] | None = None) -> object:
    """A project whose table was built on a writable connection, then made read-only."""
    project = make_project({**MODELS, **(extra or {})}, config=WRITE)
    project.run_ok(["orders"])
    project.write({"config.yaml": READ})
    return project


@pytest.mark.parametrize(
    ("files", "what"),
    [
        ({"models/t.sql": "SELECT 1 AS x"}, "cannot materialize it as a table there"),
        ({"models/t.sql": "-- @materialize: view\nSELECT 1 AS x"}, "as a view"),
        (
            {
                "models/t.py": "from interlace import model\n\n@model\ndef t():\n    return [{'x': 1}]\n"
            },
            "as a table",
        ),
        (
            {
                "models/t.py": "from interlace import model\n\n"
                "@model(materialize='ephemeral')\ndef t():\n    return [{'x': 1}]\n"
            },
            "keep its result during the run",
        ),
        (
            {"models/t.sql": "-- @materialize: none\nCREATE TABLE side AS SELECT 1 AS x"},
            "keep its result during the run",
        ),
    ],
)
def test_materializing_on_a_read_connection_is_refused_naming_it(
    make_project: MakeProject, files: dict[str, str], what: str
) -> None:
    project = make_project(files, config=READ.replace("data/dev.duckdb", "':memory:'"))
    result = project.run()
    error = result.models["t"].error or ""
    assert result.models["t"].status == "failed"
    assert "connection 'default' is read-only (access: read)" in error and what in error
    assert "access: write" in error or "writable connection" in error


def test_a_read_connection_opens_its_file_read_only_and_keeps_data(
    make_project: MakeProject,
) -> None:
    project = built(make_project)
    result = project.run(["orders"], force=True)
    assert result.models["orders"].status == "failed"
    assert "read-only" in (result.models["orders"].error or "")
    assert project.count("orders") == 2  # untouched


def test_a_side_effect_write_through_the_raw_connection_is_refused_by_the_engine(
    make_project: MakeProject,
) -> None:
    project = built(
        make_project,
        {
            "models/sneaky.py": """
                from interlace import model

                @model(strategy="none")
                def sneaky(context):
                    context.connection.execute("CREATE TABLE main.sneaky_table AS SELECT 1 AS x")
                    return None
            """
        },
    )
    result = project.run(["sneaky"])
    assert result.models["sneaky"].status == "failed"
    assert "read-only" in (result.models["sneaky"].error or "")
    assert "main.sneaky_table" not in project.relations()


def test_exports_from_a_read_connection_work(make_project: MakeProject) -> None:
    project = built(make_project)
    _path, rows = export_model(project.load(), "orders", path="out/orders.csv")
    assert rows == 2
    assert (project.root / "out" / "orders.csv").read_text().splitlines()[0] == "id,amount"


def test_migrations_on_a_read_connection_are_refused(make_project: MakeProject) -> None:
    project = built(make_project, {"migrations/001_add.up.sql": "CREATE TABLE t (x INT);"})
    with pytest.raises(MigrationError) as info:
        migrate(project.load())
    assert "connection 'default' is read-only (access: read); migrations write" in str(info.value)
    assert "001_add.up.sql" in str(info.value)


def test_read_only_attachments_refuse_writes_and_writable_ones_accept_them(
    make_project: MakeProject, tmp_path: object
) -> None:
    project = make_project(
        {
            "models/copy_in.sql": """
                -- @materialize: none
                INSERT INTO other.main.events SELECT 2 AS id
            """
        },
        config="""\
            name: attach_ro
            connections:
              default:
                type: duckdb
                path: data/dev.duckdb
                attach:
                  - {name: other, type: duckdb, path: other.duckdb, read_only: true}
            """,
    )
    with duckdb.connect(str(project.root / "other.duckdb")) as con:
        con.execute("CREATE TABLE events AS SELECT 1 AS id")
    result = project.run()
    assert result.models["copy_in"].status == "failed"
    assert "read-only mode" in (result.models["copy_in"].error or "")
    project.write(
        {
            "config.yaml": (project.root / "config.yaml")
            .read_text()
            .replace("read_only: true", "read_only: false")
        }
    )
    project.run_ok()
    with duckdb.connect(str(project.root / "other.duckdb"), read_only=True) as con:
        assert con.execute("SELECT id FROM events ORDER BY id").fetchall() == [(1,), (2,)]


def test_a_read_connection_makes_its_attachments_read_only(make_project: MakeProject) -> None:
    project = make_project(
        {"models/w.sql": "-- @materialize: none\nSELECT * FROM other.main.events"},
        config="""\
            name: attach_forced
            connections:
              default:
                type: duckdb
                access: read
                attach:
                  - {name: other, type: duckdb, path: other.duckdb}
            """,
    )
    with duckdb.connect(str(project.root / "other.duckdb")) as con:
        con.execute("CREATE TABLE events AS SELECT 1 AS id")
    from interlace.api import open_engines

    engine = open_engines(project.load())["default"]
    try:
        session = engine.session()
        assert session.fetch_all("SELECT id FROM other.main.events") == [(1,)]
        with pytest.raises(duckdb.Error, match="read-only"):
            session.execute("INSERT INTO other.main.events VALUES (2)")
        session.close()
    finally:
        engine.close()
    project.run_ok()  # a plain query on a read connection is fine


def test_shared_connections_keep_env_placeholders_in_every_environment(
    make_project: MakeProject,
) -> None:
    project = make_project(
        config="""\
            name: shared
            connections:
              default: {type: duckdb, path: "data/{env}.duckdb"}
              reference: {type: duckdb, path: "shared/{env}_ref.duckdb", shared: true, access: read}
            """
    )
    for env in ("dev", "prod"):
        config = load_config(project.root, env).config
        assert config.connections["default"].path == f"data/{env}.duckdb"  # type: ignore[attr-defined]
        assert config.connections["reference"].path == "shared/{env}_ref.duckdb"  # type: ignore[attr-defined]
        assert config.connections["reference"].shared
        assert config.connections["reference"].access == "read"
