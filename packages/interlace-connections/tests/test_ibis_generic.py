"""Generic ibis backends by name (`type: <backend>` or `type: ibis` + `backend:`), install hints
for missing drivers, and unknown connection types."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import interlace
import pytest
from interlace.api import open_engines
from interlace.config import load_config
from interlace.errors import ConfigError, InterlaceConnectionError
from interlace.project import dialect_of


def write(root: Path, connection: str, files: dict[str, str] | None = None) -> Path:
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(
        f"name: generic\nconnections:\n  default: {{{connection}}}\n", encoding="utf-8"
    )
    for rel, text in (files or {}).items():
        (root / rel).write_text(text, encoding="utf-8")
    return root


def test_any_ibis_backend_runs_sql_and_python_models(tmp_path: Path) -> None:
    """`type: ibis, backend: sqlite` goes through the generic engine (no SQLite specifics)."""
    root = write(
        tmp_path,
        f"type: ibis, backend: sqlite, options: {{database: {tmp_path / 'g.sqlite'}}}",
        {
            "models/numbers.py": (
                "from interlace import model\n\n"
                "@model\ndef numbers():\n    return [{'n': 1}, {'n': 2}, {'n': 3}]\n"
            ),
            "models/odd.sql": "-- @strategy: append\nSELECT n FROM numbers WHERE n % 2 = 1\n",
        },
    )
    project = interlace.load_project(root)
    assert dialect_of(project.config, "default") == "sqlite"
    for _ in range(2):
        result = interlace.run_sync(root, force=True)
        assert result.status == "success", {n: r.error for n, r in result.models.items()}
    with sqlite3.connect(tmp_path / "g.sqlite") as con:
        assert con.execute("SELECT n FROM numbers ORDER BY n").fetchall() == [(1,), (2,), (3,)]
        assert con.execute("SELECT count(*) FROM odd").fetchall() == [(4,)]


def test_a_named_backend_takes_its_dialect_from_the_name(tmp_path: Path) -> None:
    root = write(tmp_path, "type: pyspark, options: {mode: batch}")
    assert dialect_of(load_config(root).config, "default") == "spark"
    root2 = write(tmp_path / "b", "type: ibis, backend: trino, dialect: presto, host: h")
    assert dialect_of(load_config(root2).config, "default") == "presto"


def test_a_missing_driver_names_the_pip_extra(tmp_path: Path) -> None:
    root = write(tmp_path, "type: trino, host: 127.0.0.1, port: 1")
    project = interlace.load_project(root)
    engine = open_engines(project)["default"]
    with pytest.raises(InterlaceConnectionError) as info:
        engine.ping()
    text = str(info.value)
    assert "connection 'default': the trino driver is not installed" in text
    assert "pip install 'ibis-framework[trino]'" in text


def test_a_missing_mysql_driver_names_the_interlace_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "MySQLdb", None)  # import MySQLdb -> ModuleNotFoundError
    for name in [m for m in sys.modules if m.startswith("ibis.backends.mysql")]:
        monkeypatch.delitem(sys.modules, name)
    root = write(tmp_path, "type: mysql, host: 127.0.0.1, user: root")
    engine = open_engines(interlace.load_project(root))["default"]
    with pytest.raises(InterlaceConnectionError) as info:
        engine.ping()
    assert "pip install 'interlace-connections[mysql]'" in str(info.value)


def test_ibis_type_needs_a_backend_and_a_known_one(tmp_path: Path) -> None:
    root = write(tmp_path, "type: ibis, host: h")
    with pytest.raises(ConfigError, match="needs `backend:`"):
        load_config(root)
    root = write(tmp_path, "type: ibis, backend: nosuchdb")
    with pytest.raises(ConfigError, match="dialect 'nosuchdb' is unknown"):
        load_config(root)
    root = write(tmp_path, "type: ibis, backend: nosuchdb, dialect: postgres")
    engine = open_engines(interlace.load_project(root))["default"]
    with pytest.raises(InterlaceConnectionError, match="ibis has no backend called 'nosuchdb'"):
        engine.ping()
    root = write(tmp_path, "type: trino, backend: snowflake")
    with pytest.raises(ConfigError, match="disagree"):
        load_config(root)


def test_an_unknown_connection_type_lists_the_available_ones(tmp_path: Path) -> None:
    root = write(tmp_path, "type: cassandra")
    with pytest.raises(ConfigError) as info:
        load_config(root)
    text = str(info.value)
    assert "connections.default.type: unknown connection type 'cassandra'" in text
    for known in ("duckdb", "postgres", "sqlite", "mysql", "ibis", "trino"):
        assert known in text


def test_an_unreachable_mysql_connection_fails_fast_naming_it(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = write(tmp_path, f"type: mysql, host: 127.0.0.1, port: {port}, user: root")
    engine = open_engines(interlace.load_project(root))["default"]
    with pytest.raises(InterlaceConnectionError) as info:
        engine.ping()
    text = str(info.value)
    assert f"connection 'default': cannot connect to MySQL at 127.0.0.1:{port}/ as root" in text
    assert "check `host`/`port`" in text
