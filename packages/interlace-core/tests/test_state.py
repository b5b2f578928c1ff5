"""The state store keeps run history that another process can read (SPEC §15)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace.state import SQLiteStateStore

if TYPE_CHECKING:
    from conftest import MakeProject

PIPELINE = {
    "models/source.sql": "SELECT * FROM range(3) AS t(n)",
    "models/broken.py": """
        from interlace import model

        @model
        def broken(source):
            raise ValueError("bad data")
    """,
    "models/after_broken.sql": "SELECT * FROM broken",
}


def test_run_and_per_model_records_are_stored_with_their_statuses(
    make_project: MakeProject,
) -> None:
    project = make_project(PIPELINE)
    result = project.run()
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        runs = store.list_runs()
        assert [r.run_id for r in runs] == [result.run_id]
        run = runs[0]
        assert (run.status, run.env, run.project) == ("failed", "dev", "test_project")
        assert (run.models, run.succeeded, run.failed, run.skipped) == (3, 1, 1, 1)
        assert run.finished_at is not None and run.finished_at >= run.started_at
        assert store.get_run(result.run_id) == run

        records = {r.model: r for r in store.model_runs(result.run_id)}
        assert {name: r.status for name, r in records.items()} == {
            "source": "success",
            "broken": "failed",
            "after_broken": "skipped",
        }
        assert records["source"].rows == 3
        assert records["source"].materialize == "table"
        assert records["broken"].error is not None and "bad data" in records["broken"].error
        assert records["broken"].location == "models/broken.py:5"
        assert records["after_broken"].skip_reason == "upstream 'broken' failed"
    finally:
        store.close()


def test_every_run_is_listed_newest_first(make_project: MakeProject) -> None:
    project = make_project({"models/one.sql": "SELECT 1 AS id"})
    first = project.run_ok()
    second = project.run_ok(force=True)
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        assert [r.run_id for r in store.list_runs()] == [second.run_id, first.run_id]
        assert [r.status for r in store.list_runs()] == ["success", "success"]
        assert [r.run_id for r in store.model_runs(model="one")] == [
            second.run_id,
            first.run_id,
        ]
    finally:
        store.close()


def test_state_path_from_config_is_used(make_project: MakeProject) -> None:
    project = make_project(
        {"models/one.sql": "SELECT 1 AS id"},
        config="""\
        connections:
          default: {type: duckdb, path: "data/{env}.duckdb"}
        state:
          path: state/history.db
        """,
    )
    result = project.run_ok()
    store = SQLiteStateStore(project.root / "state" / "history.db")
    try:
        assert [r.run_id for r in store.list_runs()] == [result.run_id]
    finally:
        store.close()
