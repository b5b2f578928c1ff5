"""Run records, events and results are built by keyword, and the state store maps its columns
to their fields by name."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from interlace.errors import InterlaceError, ModelExecutionError
from interlace.events import CheckFinished, ModelFailed, ModelFinished, ModelSkipped, RunFinished
from interlace.materialize.tracebacks import user_error
from interlace.quality import CheckResult
from interlace.results import ModelResult, RunResult
from interlace.state import SQLiteStateStore
from interlace.state.base import (
    AppliedMigration,
    DeadLetter,
    ModelRunRecord,
    ModelState,
    RunRecord,
    SchemaVersion,
    StoredCheckResult,
    Watermark,
)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    store = SQLiteStateStore(tmp_path / "state.db")
    store.start_run("r1", "shop", "dev", "+orders", 2, 1.0)
    yield store
    store.close()


def test_a_run_reads_back_as_the_record_of_its_columns(store: SQLiteStateStore) -> None:
    store.finish_run("r1", "failed", 9.5, succeeded=1, failed=1, skipped=0, error="boom")

    assert store.get_run("r1") == RunRecord(
        run_id="r1",
        project="shop",
        env="dev",
        status="failed",
        started_at=1.0,
        finished_at=9.5,
        selection="+orders",
        models=2,
        succeeded=1,
        failed=1,
        skipped=0,
        error="boom",
    )


def test_a_model_run_with_every_field_set_round_trips_by_name(store: SQLiteStateStore) -> None:
    record = ModelRunRecord(
        run_id="r1",
        model="orders",
        status="success",
        started_at=2.0,
        finished_at=3.5,
        duration=1.5,
        rows=10,
        materialize="table",
        strategy="merge_by_key",
        error="e",
        error_type="ValueError",
        location="models/orders.py:3",
        skip_reason="why",
        rows_inserted=4,
        rows_updated=5,
        rows_deleted=6,
        attempts=3,
        fingerprint="fp",
    )
    store.record_model_run(record)

    assert store.model_runs(run_id="r1") == [record]


def test_a_model_that_begins_writing_is_recorded_as_running(store: SQLiteStateStore) -> None:
    store.begin_model("dev", "orders", "r1", 2.0)

    assert store.model_runs(run_id="r1") == [
        ModelRunRecord(run_id="r1", model="orders", status="running", started_at=2.0)
    ]


def test_state_watermark_and_schema_version_round_trip_by_name(store: SQLiteStateStore) -> None:
    state = ModelState(
        model="orders",
        fingerprint="fp",
        data_version=2,
        content_hash="h",
        upstream_versions={"raw": 1},
        last_run_id="r1",
        last_success_at=3.0,
    )
    watermark = Watermark(
        model="orders",
        cursor_column="ts",
        value="2024-01-01",
        value_type="DATE",
        run_id="r1",
        updated_at=3.0,
    )
    store.save_model_state("dev", state)
    store.save_watermark("dev", watermark)
    version = store.add_schema_version(
        "dev", "orders", [("id", "BIGINT")], change="created", run_id="r1", at=3.0
    )

    assert store.model_states("dev") == {"orders": state}
    assert store.get_watermark("dev", "orders") == watermark
    assert store.schema_versions("dev", "orders") == [
        SchemaVersion(
            model="orders",
            version=version,
            columns=[("id", "BIGINT")],
            change="created",
            run_id="r1",
            created_at=3.0,
        )
    ]


def test_a_dead_letter_reads_back_with_the_id_the_store_gave_it(store: SQLiteStateStore) -> None:
    letter = DeadLetter(
        env="dev",
        model="orders",
        run_id="r1",
        error="boom",
        error_type="ValueError",
        location="models/orders.py:3",
        traceback="tb",
        attempts=2,
        created_at=4.0,
    )
    letter_id = store.add_dead_letter(letter)
    store.set_dead_letter_status(letter_id, "resolved", "fixed", 5.0)

    assert store.get_dead_letter(letter_id) == replace(
        letter, id=letter_id, status="resolved", resolved_at=5.0, resolution="fixed"
    )


def test_check_results_and_migrations_round_trip_by_name(store: SQLiteStateStore) -> None:
    check = CheckResult(
        model="orders",
        name="not_null(id)",
        check_type="not_null",
        severity="warn",
        status="failed",
        failing_rows=1,
        sample=[{"id": None}],
        sql="SELECT 1",
        message="1 row",
    )
    migration = AppliedMigration(
        version=1, name="init", checksum="c", connection="main", applied_at=6.0, duration=0.5
    )
    store.add_quality_result("dev", "r1", check, 5.0)
    store.record_migration("dev", migration)

    assert store.quality_results("dev") == [
        StoredCheckResult(run_id="r1", result=check, created_at=5.0)
    ]
    assert store.applied_migrations("dev") == [migration]


@pytest.mark.parametrize(
    "kind",
    [
        RunRecord,
        ModelRunRecord,
        ModelState,
        Watermark,
        SchemaVersion,
        DeadLetter,
        StoredCheckResult,
        AppliedMigration,
        CheckResult,
        ModelResult,
        RunResult,
        ModelFinished,
        ModelFailed,
        ModelSkipped,
        CheckFinished,
        RunFinished,
    ],
)
def test_records_events_and_results_refuse_positional_arguments(kind: type) -> None:
    with pytest.raises(TypeError, match="positional"):
        kind("a", "b")


def test_an_interlace_error_carries_the_users_traceback() -> None:
    error = ModelExecutionError("boom", model="orders", user_traceback="  File ...\nValueError")

    assert error.user_traceback == "  File ...\nValueError"
    assert InterlaceError("plain").user_traceback is None
    assert "File" not in str(error)  # shown apart from the message


def test_user_error_keeps_only_the_projects_frames(tmp_path: Path) -> None:
    path = tmp_path / "models" / "orders.py"
    path.parent.mkdir()
    path.write_text("def orders():\n    raise ValueError('bad row')\n")
    namespace: dict[str, Any] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    with pytest.raises(ValueError) as raised:
        namespace["orders"]()
    error = user_error(raised.value, "orders", tmp_path)

    assert (error.location, error.model) == ("models/orders.py:2", "orders")
    assert error.user_traceback is not None
    assert "orders.py" in error.user_traceback
    assert "test_typed_records.py" not in error.user_traceback
    assert error.user_traceback.endswith("ValueError: bad row\n")
