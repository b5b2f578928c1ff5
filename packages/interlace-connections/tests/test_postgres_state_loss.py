"""Losing the PostgreSQL state store mid-run never loses a model's state silently.

The executor writes a finished model's state through the store itself (not through a bus
listener), retries a lost connection, and when the store stays unreachable after the table
committed, it fails the model and the run. The next run converges: the model counts as changed
(its readers run again), and incremental tables are not written twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from interlace.api import open_state

if TYPE_CHECKING:
    from conftest import PgProject

BREAK = """
import psycopg

def break_state_store(database, *, for_good):
    \"\"\"Drop the state store's connections (and refuse new ones when ``for_good``).\"\"\"
    flag = Path(__file__).parent.parent / "break"
    if not flag.exists():
        return
    flag.unlink()
    with psycopg.connect(host="{host}", port={port}, user="{user}", dbname="postgres",
                         autocommit=True) as admin:
        if for_good:
            admin.execute(f'ALTER DATABASE "{{database}}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        )
"""

SOURCE = """
import json
from pathlib import Path

from interlace import model
{breaker}
ROOT = Path(__file__).parent.parent

@model({options})
def source(cursor):
    rows = json.loads((ROOT / "rows.json").read_text())
    break_state_store("{state_db}", for_good=(ROOT / "for_good").exists())
    return [row for row in rows if cursor is None or row["ts"] > cursor]
"""

STRATEGIES = {
    "replace": "",
    "append": 'strategy="append", cursor="ts"',
    "merge_by_key": 'strategy="merge_by_key", primary_key="id", cursor="ts"',
    "scd_type_2": 'strategy="scd_type_2", primary_key="id"',
}


@pytest.fixture
def state_database(pg_server: dict[str, Any], pg_connect: Any) -> Iterator[str]:
    name = f"interlace_state_{uuid.uuid4().hex[:12]}"
    with pg_connect("postgres") as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with pg_connect("postgres") as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make(pg_project: PgProject, pg_server: dict[str, Any], state_db: str, options: str) -> None:
    state = (
        f"state:\n  type: postgres\n  host: {pg_server['host']}\n  port: {pg_server['port']}\n"
        f"  user: {pg_server['user']}\n  database: {state_db}\n"
    )
    pg_project.config(extra=state)
    pg_project.write(
        {
            "models/source.py": SOURCE.format(
                options=options,
                state_db=state_db,
                breaker=BREAK.format(
                    host=pg_server["host"], port=pg_server["port"], user=pg_server["user"]
                ),
            ),
            "models/summary.sql": "SELECT count(*) AS n, max(v) AS top FROM source",
        }
    )


def rows(values: dict[int, str], ts: str) -> str:
    return json.dumps([{"id": k, "v": v, "ts": ts} for k, v in values.items()])


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("interlace.state.recorder.RETRY_DELAYS", (0.05, 0.1))


def test_a_dropped_state_connection_is_retried_and_nothing_is_lost(
    pg_project: PgProject, pg_server: dict[str, Any], state_database: str
) -> None:
    make(pg_project, pg_server, state_database, STRATEGIES["merge_by_key"])
    pg_project.write({"rows.json": rows({1: "a", 2: "b"}, "2024-01-01")})
    pg_project.run_ok()
    pg_project.write({"rows.json": rows({1: "a", 2: "c", 3: "d"}, "2024-01-02"), "break": ""})
    result = pg_project.run_ok()  # the state store lost its connection while `source` ran
    assert result.models["source"].stats == {"inserted": 1, "updated": 2}
    assert not (pg_project.root / "break").exists()
    store = open_state(pg_project.load())
    try:
        record = store.model_runs(result.run_id, "source")[0]
        assert record.status == "success" and record.rows_updated == 2
        assert store.model_states("dev")["source"].data_version == 2
        assert store.get_watermark("dev", "source") is not None
        assert store.interrupted_models("dev") == []
    finally:
        store.close()
    assert pg_project.sql("SELECT n, top FROM main.summary") == [(3, "d")]


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_state_store_gone_after_the_publish_fails_the_run_and_the_next_run_converges(
    pg_project: PgProject,
    pg_server: dict[str, Any],
    pg_connect: Any,
    state_database: str,
    strategy: str,
) -> None:
    make(pg_project, pg_server, state_database, STRATEGIES[strategy])
    pg_project.write({"rows.json": rows({1: "a", 2: "b"}, "2024-01-01")})
    pg_project.run_ok()
    assert pg_project.sql("SELECT n, top FROM main.summary") == [(2, "b")]

    # new rows arrive; while `source` runs, its state store goes away for good
    pg_project.write(
        {"rows.json": rows({2: "c", 3: "d"}, "2024-01-02"), "break": "", "for_good": ""}
    )
    failed = pg_project.run()
    assert failed.status == "failed"
    source = failed.models["source"]
    assert source.status == "failed", source.error
    assert source.error_type == "StateNotRecordedError", source.error
    assert source.error is not None
    assert "table was written, but its state could not be recorded" in source.error
    assert failed.models["summary"].status == "skipped"
    table = "SELECT id, v FROM main.source ORDER BY 1, 2"
    written = pg_project.sql(table)  # the table committed: the write is not undone

    # the store is back: the next run counts `source` as changed and converges
    with pg_connect("postgres") as admin:
        admin.execute(f'ALTER DATABASE "{state_database}" ALLOW_CONNECTIONS true')
    (pg_project.root / "for_good").unlink()
    again = pg_project.run_ok()
    assert again.models["summary"].status == "success"  # its upstream's write is seen now
    assert pg_project.sql(table) == written
    if strategy == "replace":
        assert written == [(2, "c"), (3, "d")]
        assert pg_project.sql("SELECT n, top FROM main.summary") == [(2, "d")]
    elif strategy == "append":
        assert written == [(1, "a"), (2, "b"), (2, "c"), (3, "d")]  # nothing appended twice
        assert pg_project.sql("SELECT n, top FROM main.summary") == [(4, "d")]
    elif strategy == "merge_by_key":
        assert written == [(1, "a"), (2, "c"), (3, "d")]
        assert pg_project.sql("SELECT n, top FROM main.summary") == [(3, "d")]
    else:  # scd_type_2: the closed version of key 2, and key 1 closed as gone is not assumed
        current = pg_project.sql("SELECT id, v FROM main.source WHERE is_current ORDER BY 1, 2")
        assert (2, "c") in current and (3, "d") in current
        assert (
            pg_project.sql(
                "SELECT count(*) FROM main.source GROUP BY id, is_current HAVING count(*) > 1"
            )
            == []
        )
    store = open_state(pg_project.load())
    try:
        assert store.interrupted_models("dev") == []
        statuses = {r.run_id: r.status for r in store.model_runs(model="source", env="dev")}
        assert statuses[failed.run_id] == "interrupted"
    finally:
        store.close()
