"""The DAG executor: failure isolation, error reporting, parallelism, events (SPEC §6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace.events import ModelFinished, ModelStarted, RunFinished, RunStarted

if TYPE_CHECKING:
    from conftest import MakeProject

FAILING_PIPELINE = {
    "models/broken.py": """
        from interlace import model

        def _load():
            raise ConnectionError("api is down")

        @model
        def broken():
            rows = _load()
            return rows
    """,
    "models/downstream.sql": """
        -- @name: after_broken
        SELECT * FROM broken

        -- @name: after_after_broken
        SELECT * FROM after_broken

        -- @name: independent
        SELECT 1 AS id

        -- @name: after_independent
        SELECT id + 1 AS id FROM independent

        -- @name: mixed
        SELECT * FROM independent JOIN broken USING (id)
    """,
}


def test_failing_model_skips_descendants_and_independent_branch_finishes(
    make_project: MakeProject,
) -> None:
    project = make_project(FAILING_PIPELINE)
    result = project.run()
    assert result.status == "failed"
    assert not result.success
    statuses = {name: r.status for name, r in result.models.items()}
    assert statuses == {
        "broken": "failed",
        "after_broken": "skipped",
        "after_after_broken": "skipped",
        "independent": "success",
        "after_independent": "success",
        "mixed": "skipped",
    }
    assert [r.name for r in result.failed] == ["broken"]
    assert {r.name for r in result.skipped} == {"after_broken", "after_after_broken", "mixed"}
    for skipped in result.skipped:
        assert skipped.skip_reason == "upstream 'broken' failed"
    assert project.sql("SELECT id FROM after_independent") == [(2,)]
    relations = project.relations()
    assert "main.after_broken" not in relations
    assert "main.mixed" not in relations


def test_python_failure_reports_the_raising_line_and_a_traceback_of_user_code_only(
    make_project: MakeProject,
) -> None:
    project = make_project(FAILING_PIPELINE)
    failure = project.run(["broken"]).models["broken"]
    assert failure.error == "ConnectionError: api is down"
    assert failure.error_type == "ModelExecutionError"
    assert failure.location == "models/broken.py:4"
    tb = failure.traceback or ""
    assert 'models/broken.py", line 8, in broken' in tb
    assert 'models/broken.py", line 4, in _load' in tb
    assert tb.rstrip().endswith("ConnectionError: api is down")
    assert "interlace/" not in tb
    assert "site-packages" not in tb


def test_sql_failure_at_run_time_names_the_model_file(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/base.sql": "SELECT 1 AS id",
            "models/wrong_column.sql": "-- @tags: [x]\nSELECT no_such_column FROM base",
        }
    )
    result = project.run()
    failure = result.models["wrong_column"]
    assert failure.status == "failed"
    assert "no_such_column" in (failure.error or "")
    assert failure.location == "models/wrong_column.sql:1"
    assert result.models["base"].status == "success"


def test_independent_models_run_concurrently_up_to_max_workers(make_project: MakeProject) -> None:
    # each model waits at a shared barrier: they can only pass it if they run at the same time
    project = make_project(
        {
            "models/parallel.py": """
                import threading
                from interlace import model

                meeting = threading.Barrier(3, timeout=20)

                @model
                def left():
                    meeting.wait()
                    return [{"side": "left"}]

                @model
                def middle():
                    meeting.wait()
                    return [{"side": "middle"}]

                @model
                def right():
                    meeting.wait()
                    return [{"side": "right"}]
            """
        }
    )
    result, events = project.run_events(max_workers=3)
    assert result.status == "success", [m.error for m in result.failed]
    kinds = [(type(e).__name__, getattr(e, "model", None)) for e in events]
    started = [i for i, (kind, _) in enumerate(kinds) if kind == "ModelStarted"]
    finished = [i for i, (kind, _) in enumerate(kinds) if kind == "ModelFinished"]
    assert len(started) == len(finished) == 3
    assert max(started) < min(finished)  # all three were running before any finished


def test_max_workers_one_runs_models_one_after_another(make_project: MakeProject) -> None:
    project = make_project(
        {"models/many.sql": "\n".join(f"-- @name: m{i}\nSELECT {i} AS id\n" for i in range(4))}
    )
    result, events = project.run_events(max_workers=1)
    assert result.status == "success"
    sequence = [
        (type(e).__name__, e.model) for e in events if isinstance(e, ModelStarted | ModelFinished)
    ]
    assert sequence == [
        (kind, f"m{i}") for i in range(4) for kind in ("ModelStarted", "ModelFinished")
    ]


def test_events_arrive_in_order_from_run_started_to_run_completed(
    make_project: MakeProject,
) -> None:
    project = make_project(
        {
            "models/a.sql": "SELECT 1 AS id",
            "models/b.sql": "SELECT id FROM a",
        }
    )
    result, events = project.run_events()
    types = [e.type for e in events]
    assert types == [
        "run.started",
        "task.queued",
        "task.queued",
        "task.running",
        "task.completed",
        "task.running",
        "task.completed",
        "run.completed",
    ]
    assert [getattr(e, "model", None) for e in events[3:7]] == ["a", "a", "b", "b"]
    assert {e.run_id for e in events} == {result.run_id}
    first, last = events[0], events[-1]
    assert isinstance(first, RunStarted)
    assert first.models == ("a", "b")
    assert first.env == "dev"
    assert isinstance(last, RunFinished)
    assert (last.status, last.succeeded, last.failed, last.skipped) == ("success", 2, 0, 0)
    finished = [e for e in events if isinstance(e, ModelFinished)]
    assert [e.rows for e in finished] == [1, 1]


def test_failure_events_carry_the_error_and_skips_their_reason(
    make_project: MakeProject,
) -> None:
    project = make_project(FAILING_PIPELINE)
    _result, events = project.run_events(select=["broken+"])
    failed = [e for e in events if e.type == "task.failed"]
    skipped = [e for e in events if e.type == "task.skipped"]
    assert [e.model for e in failed] == ["broken"]  # type: ignore[attr-defined]
    assert failed[0].location == "models/broken.py:4"  # type: ignore[attr-defined]
    assert {e.model for e in skipped} == {"after_broken", "after_after_broken", "mixed"}  # type: ignore[attr-defined]
    assert events[-1].type == "run.completed"
    assert events[-1].status == "failed"  # type: ignore[attr-defined]


def test_a_raising_event_handler_does_not_break_the_run(make_project: MakeProject) -> None:
    project = make_project({"models/a.sql": "SELECT 1 AS id"})

    def explode(event: object) -> None:
        raise RuntimeError("handler bug")

    result = project.run(on_event=explode)
    assert result.status == "success"
    assert project.sql("SELECT id FROM a") == [(1,)]


def test_context_gives_run_information_to_the_model(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/info.py": """
                from interlace import model

                @model(schema="meta")
                def info(context):
                    return [{
                        "run_id": context.run_id,
                        "env": context.env,
                        "model": context.model.name,
                        "project": context.config.name,
                    }]
            """
        }
    )
    result = project.run_ok(env="ci")
    assert project.rows("meta.info", env="ci") == [
        {"run_id": result.run_id, "env": "ci", "model": "info", "project": "test_project"}
    ]
