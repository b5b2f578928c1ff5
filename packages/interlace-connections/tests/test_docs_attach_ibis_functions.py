"""The examples of docs/connections.md on attach, SQLite, MySQL, other ibis backends, access and
functions/ are valid as written (and the functions example runs)."""

from __future__ import annotations

import re
from pathlib import Path

import interlace
import pytest
from interlace.config import load_config

DOC = Path(__file__).resolve().parents[3] / "docs" / "connections.md"
MARKERS = ("attach:", "type: sqlite", "type: mysql", "type: trino", "access: read")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def ours() -> list[str]:
    return [b for b in blocks("yaml") if any(marker in b for marker in MARKERS)]


def test_the_doc_has_the_sections() -> None:
    text = DOC.read_text(encoding="utf-8")
    for heading in (
        "## Attaching databases to DuckDB",
        "## SQLite",
        "## MySQL and MariaDB",
        "## Other ibis backends",
        "## Read-only and shared connections",
        "## SQL functions: `functions/`",
    ):
        assert heading in text
    assert len(ours()) == 5


@pytest.mark.parametrize("index", range(5))
def test_each_config_example_validates(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_PASSWORD", "s3cret")
    monkeypatch.setenv("MYSQL_PASSWORD", "s3cret")
    (tmp_path / "config.yaml").write_text(ours()[index], encoding="utf-8")
    config = load_config(tmp_path, "prod").config
    if index == 0:
        attach = config.connections["default"].attach  # type: ignore[attr-defined]
        assert [a.type for a in attach] == ["sqlite", "postgres", "mysql", "duckdb", "ducklake"]
        assert attach[1].password == "s3cret"
    if index == 4:
        assert config.connections["default"].path == "data/prod.duckdb"  # type: ignore[attr-defined]
        assert config.connections["reference"].access == "read"


def test_the_functions_example_runs(tmp_path: Path) -> None:
    python = next(b for b in blocks("python") if b.startswith("# functions/text.py"))
    sql = [b for b in blocks("sql") if b.startswith(("-- functions/", "-- models/customers"))]
    (tmp_path / "functions").mkdir()
    (tmp_path / "models").mkdir()
    (tmp_path / "functions" / "text.py").write_text(python, encoding="utf-8")
    (tmp_path / "functions" / "money.sql").write_text(sql[0], encoding="utf-8")
    (tmp_path / "models" / "customers.sql").write_text(sql[1], encoding="utf-8")
    (tmp_path / "models" / "raw_customers.sql").write_text(
        "SELECT 'ada lovelace' AS name, 1500.0 AS total, 123456 AS total_cents "
        "UNION ALL SELECT 'alan turing', NULL, 99",
        encoding="utf-8",
    )
    (tmp_path / "config.yaml").write_text(
        "name: docs\nconnections:\n  default: {type: duckdb, path: data/dev.duckdb}\n",
        encoding="utf-8",
    )
    result = interlace.run_sync(tmp_path)
    assert result.status == "success", {n: r.error for n, r in result.models.items()}
    import duckdb

    with duckdb.connect(str(tmp_path / "data" / "dev.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT * FROM customers ORDER BY 1").fetchall()
    assert rows == [("AL", "gold", 1234.56), ("AT", "none", 0.99)]
    with duckdb.connect(str(tmp_path / "data" / "dev.duckdb"), read_only=True) as con:
        assert con.execute("SELECT tax(100), tax(100, rate := 0.1)").fetchall() == [(20.0, 10.0)]
