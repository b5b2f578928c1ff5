"""Dialect quirks live behind Engine/Capabilities: the OR REPLACE rewrite, driver errors,
and how each engine publishes atomically."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import sqlglot
from interlace.connection_config import DuckDBConnectionConfig
from interlace.engines.base import drop_and_create
from interlace.engines.duckdb import DuckDBEngine


@pytest.mark.parametrize("kind", ["TABLE", "VIEW"])
def test_create_or_replace_becomes_drop_then_create(kind: str) -> None:
    statement = sqlglot.parse_one(f"CREATE OR REPLACE {kind} s.t AS SELECT 1 AS x")
    dropped, created = drop_and_create(statement)
    assert not isinstance(dropped, str) and not isinstance(created, str)
    assert dropped.sql() == f"DROP {kind} IF EXISTS s.t"
    assert created.sql() == f"CREATE {kind} s.t AS SELECT 1 AS x"
    assert statement.args.get("replace")  # the caller's statement is left as it was


@pytest.mark.parametrize(
    "sql", ["CREATE TABLE s.t AS SELECT 1 AS x", "INSERT INTO t SELECT 1", "SELECT 1"]
)
def test_other_statements_are_not_rewritten(sql: str) -> None:
    statement = sqlglot.parse_one(sql)
    assert drop_and_create(statement) == [statement]
    assert drop_and_create("CREATE OR REPLACE TABLE t AS SELECT 1") == [
        "CREATE OR REPLACE TABLE t AS SELECT 1"
    ]


def test_duckdb_knows_its_own_errors_from_a_models(tmp_path: Path) -> None:
    engine = DuckDBEngine("default", DuckDBConnectionConfig(path=":memory:"), tmp_path)
    try:
        session = engine.session()
        with pytest.raises(duckdb.Error) as refused:
            session.execute("SELECT * FROM no_such_table")
        assert engine.raised_by_driver(refused.value)
        assert engine.is_driver_error(refused.value)
        assert not engine.raised_by_driver(ValueError("a model's own bug"))
        assert not engine.is_driver_error(KeyError("x"))
        assert engine.is_driver_error(ConnectionError("lost"))  # counts for the breaker
        wrapped = RuntimeError("while loading")
        wrapped.__cause__ = refused.value
        assert engine.is_driver_error(wrapped) and not engine.raised_by_driver(wrapped)
    finally:
        engine.close()


def test_duckdb_publishes_in_one_transaction() -> None:
    assert DuckDBEngine.capabilities.publish == "transaction"
    assert DuckDBEngine.capabilities.exclusive_writer
