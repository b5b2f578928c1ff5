"""Promote is a run like any other: one RunSession, a caller-chosen run id, numbered events
kept by the state store, and cancellation by run id."""

from __future__ import annotations

from pathlib import Path

import pytest
from interlace.api import open_state
from interlace.events import Event, ModelFinished, RunFinished, RunStarted
from interlace.promote import promote
from interlace.run_session import running
from interlace.testing import ProjectFolder


@pytest.fixture
def folder(tmp_path: Path) -> ProjectFolder:
    folder = ProjectFolder.create(tmp_path / "proj")
    folder.write(
        {
            "models/orders.sql": "SELECT range AS id FROM range(5)",
            "models/big.sql": "SELECT id FROM orders WHERE id >= 3",
        }
    )
    folder.run_ok()
    return folder


def test_promote_uses_the_callers_run_id_and_numbers_its_events(folder: ProjectFolder) -> None:
    seen: list[Event] = []

    def listen(event: Event) -> None:
        seen.append(event)
        assert "chosen-run" in running()  # cancel_run("chosen-run") would find it

    result = promote(
        folder.root, "dev", "prod", ["orders", "big"], on_event=listen, run_id="chosen-run"
    )
    assert result.run_id == "chosen-run"
    assert "chosen-run" not in running()
    assert type(seen[0]) is RunStarted and type(seen[-1]) is RunFinished
    assert {e.model for e in seen if isinstance(e, ModelFinished)} == {"orders", "big"}
    ids = [e.id for e in seen]
    assert all(i is not None for i in ids) and ids == sorted(ids)  # numbered by the store
    prod = ProjectFolder(folder.root, env="prod")
    store = open_state(prod.load())
    try:
        stored = store.events(run_id="chosen-run")
        assert [e.id for e in stored] == ids  # kept for SSE replay, in order
        assert store.get_run("chosen-run") is not None
    finally:
        store.close()
    assert prod.count("big") == 2


def test_a_running_run_id_cannot_be_reused_by_promote(folder: ProjectFolder) -> None:
    def promote_again(event: Event) -> None:
        if isinstance(event, RunStarted):
            with pytest.raises(ValueError, match="already running"):
                promote(folder.root, "dev", "staging", ["orders"], run_id="same")

    promote(folder.root, "dev", "prod", ["orders"], on_event=promote_again, run_id="same")
