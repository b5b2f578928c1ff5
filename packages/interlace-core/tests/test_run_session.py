"""The run lifecycle: caller-chosen run ids, cancellation by id from another thread, a
thread-safe subscription, and events numbered and kept by the state store."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import interlace
import pytest
from interlace.opening import open_state
from interlace.run_session import RunSession, cancel_run, running

if TYPE_CHECKING:
    from conftest import MakeProject, ProjectDir

SLOW = {
    "models/slow.py": """
        import time
        from pathlib import Path

        from interlace import model

        @model
        def slow():
            Path(__file__).parent.parent.joinpath("started").write_text("")
            for i in range(400):  # 20 s at most; cancelled between rows
                time.sleep(0.05)
                yield {"id": i}
    """,
    "models/after.sql": "SELECT count(*) AS n FROM slow",
    "models/other.sql": "SELECT 1 AS id",
}


@pytest.fixture
def slow_project(make_project: MakeProject) -> ProjectDir:
    return make_project(SLOW)


def test_a_run_is_cancelled_by_its_id_from_another_thread(slow_project: ProjectDir) -> None:
    results = []
    runner = threading.Thread(
        target=lambda: results.append(slow_project.run(run_id="nightly-1")), daemon=True
    )
    runner.start()
    started = slow_project.root / "started"
    deadline = time.time() + 60
    while not started.exists() and time.time() < deadline:
        time.sleep(0.01)
    assert "nightly-1" in running()
    assert cancel_run("nightly-1")
    runner.join(timeout=60)
    assert not runner.is_alive()
    result = results[0]
    assert result.run_id == "nightly-1" and result.status == "cancelled"
    assert result.models["slow"].status == "cancelled"
    assert result.models["after"].status == "cancelled"
    assert not cancel_run("nightly-1") and "nightly-1" not in running()
    store = open_state(slow_project.load())
    try:
        run = store.get_run("nightly-1")
        assert run is not None and run.status == "cancelled"
    finally:
        store.close()


def test_events_are_numbered_by_the_state_store_and_outlive_the_process(
    make_project: MakeProject,
) -> None:
    project = make_project({"models/a.sql": "SELECT 1 AS id", "models/b.sql": "SELECT * FROM a"})
    seen = []
    first = project.run(on_event=seen.append)
    assert first.success
    ids = [e.id for e in seen]
    assert all(isinstance(i, int) for i in ids) and ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert seen[0].type == "run.started" and seen[-1].type == "run.completed"
    second = project.run()
    store = open_state(project.load())  # a new process reads the same history
    try:
        stored = store.events()
        assert [e.id for e in stored if e.run_id == first.run_id] == ids
        assert [e.type for e in stored if e.run_id == first.run_id] == [e.type for e in seen]
        # replay after an id, as SSE resumes from Last-Event-ID
        after = store.events(after=ids[-1])
        assert after and {e.run_id for e in after} == {second.run_id}
        assert min(e.id for e in after) > ids[-1]
        finished = [e for e in stored if e.type == "task.completed" and e.data["model"] == "b"]
        assert finished and finished[0].data["rows"] == 1
    finally:
        store.close()


def test_events_older_than_the_retention_are_forgotten(make_project: MakeProject) -> None:
    project = make_project({"models/a.sql": "SELECT 1 AS id"})
    old = project.run()
    store = open_state(project.load())
    try:
        assert store.events(run_id=old.run_id)
        assert store.prune_events(time.time() + 1) > 0  # what a 0 s retention would do
        assert store.events(run_id=old.run_id) == []
    finally:
        store.close()
    project.write(
        {
            "config.yaml": (project.root / "config.yaml").read_text()
            + "state:\n  event_retention: 1h\n"
        }
    )
    kept = project.run()
    store = open_state(project.load())
    try:
        assert store.events(run_id=kept.run_id)
    finally:
        store.close()


def test_a_subscription_is_a_thread_safe_queue_of_one_run(make_project: MakeProject) -> None:
    project = make_project({"models/a.sql": "SELECT 1 AS id"})
    loaded = project.load()
    session = RunSession(loaded, run_id="watched")
    subscription = session.subscribe()
    types: list[str] = []
    reader = threading.Thread(target=lambda: types.extend(e.type for e in subscription))
    reader.start()
    with session:
        result = interlace.run_sync(loaded, session=session)
    reader.join(timeout=30)
    assert result.success and result.run_id == "watched"
    assert types[0] == "run.started" and types[-1] == "run.completed"
    assert "task.completed" in types
    subscription.close()
    assert subscription.get(timeout=0) is None


def test_a_run_id_already_running_is_refused(make_project: MakeProject) -> None:
    project = make_project({"models/a.sql": "SELECT 1 AS id"})
    with RunSession(project.load(), run_id="same"), pytest.raises(ValueError, match="already"):
        RunSession(project.load(), run_id="same").open()
    assert "same" not in running()
