"""Every write on PostgreSQL is atomic: a model that fails leaves its table as it was (SPEC §3.3),
and a running statement can be interrupted."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import psycopg
import pytest

if TYPE_CHECKING:
    from conftest import PgProject

GENERATOR = """
import pyarrow as pa
from pathlib import Path
from interlace import model

@model(strategy={strategy!r})
def feed():
    fail = (Path(__file__).parent.parent / "fail").exists()
    for b in range(5):
        if fail and b == 3:
            raise RuntimeError("feed broke after three batches")
        yield pa.RecordBatch.from_pydict({{"id": list(range(b * 10, b * 10 + 10))}})
"""


@pytest.mark.parametrize("strategy", ["replace", "append"])
def test_generator_failing_mid_stream_leaves_the_table_untouched(
    pg_project: PgProject, strategy: str
) -> None:
    pg_project.write({"models/feed.py": GENERATOR.format(strategy=strategy)})
    pg_project.run_ok()
    before = pg_project.rows("feed", "id")
    assert len(before) == 50
    (pg_project.root / "fail").touch()
    result = pg_project.run(force=True)
    feed = result.models["feed"]
    assert feed.status == "failed"
    assert "feed broke after three batches" in (feed.error or "")
    assert feed.location == "models/feed.py:10"  # the model's own line, not the loader's
    assert pg_project.rows("feed", "id") == before
    assert pg_project.sql("SELECT count(*) FROM pg_class WHERE relname LIKE '\\_\\_il%%'") == [(0,)]


def test_sql_model_failing_inside_the_publish_transaction_keeps_the_previous_table(
    pg_project: PgProject,
) -> None:
    pg_project.write({"models/nums.sql": "SELECT n FROM generate_series(1, 3) AS t(n)"})
    pg_project.run_ok()
    # division by zero on the last row: the CREATE TABLE AS of the staging copy fails
    pg_project.write(
        {"models/nums.sql": "SELECT 10 / (3 - n) AS n FROM generate_series(1, 3) AS t(n)"}
    )
    result = pg_project.run()
    assert result.models["nums"].status == "failed"
    assert "division by zero" in (result.models["nums"].error or "")
    assert pg_project.rows("nums", "n") == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_append_with_a_failing_cast_inserts_nothing(pg_project: PgProject) -> None:
    pg_project.write(
        {
            "models/log.sql": """
                -- @strategy: append
                -- @schema_mode: flexible
                SELECT 1 AS n
            """
        }
    )
    pg_project.run_ok()
    pg_project.write(
        {
            "models/log.sql": """
                -- @strategy: append
                -- @schema_mode: flexible
                SELECT * FROM (VALUES ('2'), ('not a number')) AS t(n)
            """
        }
    )
    result = pg_project.run()
    assert result.models["log"].status == "failed"
    assert pg_project.rows("log") == [{"n": 1}]


def test_interrupt_cancels_the_running_statement(pg_project: PgProject) -> None:
    from interlace.api import open_engines

    engine = open_engines(pg_project.load())["default"]
    session = engine.session()
    errors: list[BaseException] = []

    def sleep() -> None:
        try:
            session.execute("SELECT pg_sleep(30)")
        except BaseException as exc:
            errors.append(exc)

    try:
        worker = threading.Thread(target=sleep)
        started = time.perf_counter()
        worker.start()
        time.sleep(0.3)
        session.interrupt()
        worker.join(10)
        assert not worker.is_alive()
        assert time.perf_counter() - started < 5
        assert len(errors) == 1 and isinstance(errors[0], psycopg.errors.QueryCanceled)
        # the session is usable again afterwards
        assert session.fetch_all("SELECT 1") == [(1,)]
    finally:
        session.close()
        engine.close()
