"""The state store's own schema version, self-upgrade and concurrent readers (SPEC §15)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from interlace.errors import StateStoreError
from interlace.results import RunResult
from interlace.state import SQLiteStateStore
from interlace.state.base import ModelState, Watermark
from interlace.state.schema import MIGRATIONS

if TYPE_CHECKING:
    from conftest import MakeProject


def mark(model: str, value: str, value_type: str = "BIGINT", at: float = 0.0) -> Watermark:
    return Watermark(
        model=model,
        cursor_column="ts",
        value=value,
        value_type=value_type,
        run_id=None,
        updated_at=at,
    )


def tables_and_columns(path: Path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as db:
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {n: [c[1] for c in db.execute(f"PRAGMA table_info({n})")] for n in sorted(names)}


def make_v1_database(path: Path) -> None:
    """A state file as the first release wrote it: MIGRATIONS[0] only, with one run in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    try:
        db.executescript(MIGRATIONS[0])
        db.execute("CREATE TABLE interlace_meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT INTO interlace_meta VALUES ('schema_version', '1')")
        db.execute(
            "INSERT INTO runs (run_id, project, env, status, started_at, finished_at, selection, "
            "models, succeeded, failed, skipped, error) "
            "VALUES ('old-run', 'legacy', 'dev', 'success', 100.0, 105.0, 'orders', 1, 1, 0, 0, NULL)"
        )
        db.execute(
            "INSERT INTO model_runs (run_id, model, status, started_at, finished_at, duration, "
            "rows, materialize, strategy, error, error_type, location, skip_reason) "
            "VALUES ('old-run', 'orders', 'success', 101.0, 104.0, 3.0, 42, 'table', 'replace', "
            "NULL, NULL, NULL, NULL)"
        )
        db.commit()
    finally:
        db.close()


def test_state_store_reports_its_schema_version() -> None:
    assert SQLiteStateStore.schema_version == len(MIGRATIONS) >= 2


def test_a_new_state_store_is_created_at_the_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "state" / "new.db"
    SQLiteStateStore(path).close()
    with sqlite3.connect(path) as db:
        version = db.execute("SELECT value FROM interlace_meta WHERE key = 'schema_version'")
        assert version.fetchone() == (str(len(MIGRATIONS)),)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_v1_state_store_upgrades_itself_and_keeps_old_rows(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    make_v1_database(path)
    before = tables_and_columns(path)
    assert "watermarks" not in before and "attempts" not in before["model_runs"]

    store = SQLiteStateStore(path)
    try:
        after = tables_and_columns(path)
        for table in ("model_state", "watermarks", "schema_versions", "dead_letters"):
            assert table in after, table
        assert set(after["model_runs"]) >= {
            *before["model_runs"],
            "rows_inserted",
            "rows_updated",
            "rows_deleted",
            "attempts",
            "fingerprint",
        }
        # old rows survive, with the defaults of the new columns
        (run,) = store.list_runs()
        assert (run.run_id, run.project, run.status, run.selection) == (
            "old-run",
            "legacy",
            "success",
            "orders",
        )
        (record,) = store.model_runs(model="orders")
        assert (record.rows, record.duration, record.attempts, record.rows_inserted) == (
            42,
            3.0,
            1,
            None,
        )
        # and the new tables work
        store.save_watermark("dev", mark("orders", "2024-01-01", value_type="DATE", at=1.0))
        assert store.get_watermark("dev", "orders") is not None
        store.save_model_state(
            "dev",
            ModelState(
                model="orders",
                fingerprint="abc",
                data_version=1,
                content_hash=None,
                upstream_versions={"raw": 2},
                last_run_id=None,
                last_success_at=1.0,
            ),
        )
        assert store.model_states("dev")["orders"].upstream_versions == {"raw": 2}
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        version = db.execute("SELECT value FROM interlace_meta WHERE key = 'schema_version'")
        assert version.fetchone() == (str(len(MIGRATIONS)),)

    # opening again is a no-op
    SQLiteStateStore(path).close()
    assert tables_and_columns(path) == after


def test_a_project_runs_on_an_upgraded_state_store(make_project: MakeProject) -> None:
    project = make_project({"models/one.sql": "SELECT 1 AS id"})
    make_v1_database(project.root / ".interlace" / "state.db")
    result = project.run_ok()
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        assert [r.run_id for r in store.list_runs()] == [result.run_id, "old-run"]
        assert [v.version for v in store.schema_versions("dev", "one")] == [1]
    finally:
        store.close()


def test_a_state_store_newer_than_this_interlace_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SQLiteStateStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE interlace_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StateStoreError, match="schema version 99, newer than") as info:
        SQLiteStateStore(path)
    assert info.value.hint is not None and "upgrade Interlace" in info.value.hint


def test_a_failed_migration_leaves_the_store_at_its_old_version(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    make_v1_database(path)
    with sqlite3.connect(path) as db:  # a column the v2 migration is about to add
        db.execute("ALTER TABLE model_runs ADD COLUMN fingerprint TEXT")
    with pytest.raises(StateStoreError, match="from schema version 1 to 2") as info:
        SQLiteStateStore(path)
    assert "duplicate column" in info.value.message
    assert info.value.hint is not None and "left unchanged" in info.value.hint
    with sqlite3.connect(path) as db:
        version = db.execute("SELECT value FROM interlace_meta WHERE key = 'schema_version'")
        assert version.fetchone() == ("1",)
        columns = [c[1] for c in db.execute("PRAGMA table_info(model_runs)")]
        assert "rows_inserted" not in columns  # the half-applied migration was rolled back
    assert "watermarks" not in tables_and_columns(path)


READER = """
import json, sys, time
from interlace.state import SQLiteStateStore

store = SQLiteStateStore(sys.argv[1])
seen = []
try:
    deadline = time.time() + 60
    while time.time() < deadline:
        runs = store.list_runs()
        records = store.model_runs(runs[0].run_id) if runs else []
        done = sorted(r.model for r in records if r.status != "running")
        seen.append([runs[0].status if runs else None, done])
        if sys.argv[2] == "once" or (runs and runs[0].status == "running" and len(done) >= 3):
            break
        time.sleep(0.02)
finally:
    store.close()
print(json.dumps(seen[-1]))
"""


def test_another_process_reads_run_history_while_a_run_writes(make_project: MakeProject) -> None:
    project = make_project(
        {
            # holds the run open until the reader has seen it running
            "models/slow.py": """
                import time
                from pathlib import Path

                from interlace import model

                @model
                def slow():
                    release = Path(__file__).parent.parent / "release"
                    deadline = time.time() + 60
                    while not release.exists() and time.time() < deadline:
                        time.sleep(0.02)
                    return [{"done": True}]
            """,
            **{f"models/fast_{i}.sql": f"SELECT {i} AS n" for i in range(3)},
        }
    )
    state = project.root / ".interlace" / "state.db"
    SQLiteStateStore(state).close()
    results: list[RunResult] = []
    runner = threading.Thread(target=lambda: results.append(project.run_ok()))
    runner.start()
    try:
        reader = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(READER), str(state), "until-running"],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    finally:
        (project.root / "release").write_text("")
        runner.join(timeout=90)
    assert reader.returncode == 0, reader.stderr
    status, models = json.loads(reader.stdout)
    assert status == "running"
    assert models == ["fast_0", "fast_1", "fast_2"]
    assert results and results[0].status == "success"

    # and once finished, a reader sees the final state
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(READER), str(state), "once"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert json.loads(done.stdout) == ["success", ["fast_0", "fast_1", "fast_2", "slow"]]


def test_writes_from_another_process_do_not_block_a_run(make_project: MakeProject) -> None:
    """A second writer (the CLI resolving dead letters) and a run share the file."""
    project = make_project({"models/one.sql": "SELECT 1 AS id"})
    state = project.root / ".interlace" / "state.db"
    SQLiteStateStore(state).close()
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys, time
                from interlace.state import SQLiteStateStore
                store = SQLiteStateStore(sys.argv[1])
                end = time.time() + 2
                i = 0
                while time.time() < end:
                    store.start_run(f"other-{i}", "p", "dev", "", 0, time.time())
                    i += 1
                store.close()
                """
            ),
            str(state),
        ]
    )
    try:
        time.sleep(0.3)
        for _ in range(3):
            project.run_ok(force=True)
    finally:
        assert writer.wait(timeout=60) == 0
    with sqlite3.connect(state) as db:
        statuses = db.execute("SELECT status FROM runs WHERE project = 'test_project'").fetchall()
        others = db.execute("SELECT count(*) FROM runs WHERE project = 'p'").fetchone()[0]
    assert statuses == [("success",)] * 3
    assert others > 0


def test_runs_of_a_killed_process_are_marked_killed_by_the_next_run(tmp_path) -> None:
    import subprocess
    import sys
    import time

    from interlace.state import SQLiteStateStore

    store = SQLiteStateStore(tmp_path / "state.db")
    store.start_run("dead-run", "p", "dev", "", 1, time.time())
    store.start_run("live-run", "p", "dev", "", 1, time.time())
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid now names no process
    store._db.execute("UPDATE runs SET pid = ? WHERE run_id = 'dead-run'", (gone.pid,))

    assert store.abandon_dead_runs(time.time()) == 1

    dead, live = store.get_run("dead-run"), store.get_run("live-run")
    assert dead is not None and dead.status == "killed"
    assert dead.error is not None and "killed or crashed" in dead.error
    assert live is not None and live.status == "running"  # this process is alive
    store.close()


def test_nested_transactions_commit_once_and_roll_back_together(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.db")
    first = mark("m", "1")
    try:
        with store.transaction():
            store.save_watermark("dev", first)  # its own transaction, nested in the outer one
            with store.transaction():
                store.save_watermark("dev", mark("n", "2"))
            other = sqlite3.connect(tmp_path / "state.db")
            try:  # nothing is visible from outside before the outer commit
                assert other.execute("SELECT count(*) FROM watermarks").fetchone() == (0,)
            finally:
                other.close()
        assert store.get_watermark("dev", "n") is not None

        with pytest.raises(RuntimeError), store.transaction():
            store.save_watermark("dev", mark("m", "9"))
            raise RuntimeError("the outer block failed")
        found = store.get_watermark("dev", "m")
        assert found is not None and found.value == "1"
        store.save_watermark("dev", first)  # usable afterwards
    finally:
        store.close()
