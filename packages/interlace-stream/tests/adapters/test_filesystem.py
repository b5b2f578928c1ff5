"""The ``filesystem`` adapter: files in a watched folder (those there before it started and those
that arrive later) are published, then moved to ``done/``; unreadable ones go to ``failed/``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from interlace_stream.adapters import build_adapter

from .support import (
    eventually,
    healthy,
    open_publisher,
    run_in_process,
    running,
    stored,
    stored_on_disk,
    stream_info,
)


def _config(folder: Path, **extra: object) -> dict[str, object]:
    return {
        "name": "drops",
        "type": "filesystem",
        "stream": "orders",
        "path": str(folder),
        **extra,
    }


def test_files_are_published_then_moved_to_done(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # arrived while the adapter was stopped
    (inbox / "a.json").write_text(json.dumps([{"id": 1}, {"id": 2}]))
    (inbox / "b.ndjson").write_text('{"id": 3}\n\n{"id": 4}\n')
    (inbox / "c.csv").write_text("id,customer\n5,ann\n6,bob\n")
    (inbox / "broken.ndjson").write_text('{"id": 7}\nnot json\n')

    async def scenario() -> None:
        adapter = build_adapter(_config(inbox))
        async with open_publisher(tmp_path / "logs", stream_info("orders")) as publisher:
            async with running(adapter, publisher):
                await healthy(adapter)
                await eventually(lambda: adapter.counters["acked"] == 3, what="3 files done")
                # a file being written under a temporary name is left alone until renamed
                partial = inbox / "d.json.part"
                partial.write_text(json.dumps({"id": 8}))
                partial.rename(inbox / "d.json")
                await eventually(lambda: adapter.counters["acked"] == 4, what="the new file")
            events = stored(publisher, "orders")
        assert sorted(int(event["id"]) for _, event in events) == [1, 2, 3, 4, 5, 6, 8]
        assert {"customer": "ann", "id": "5"} in [event for _, event in events]
        assert sorted(p.name for p in (inbox / "done").iterdir()) == [
            "a.json",
            "b.ndjson",
            "c.csv",
            "d.json",
        ]
        assert not [p for p in inbox.iterdir() if p.is_file()]
        error = (inbox / "failed" / "broken.ndjson.error").read_text()
        assert "line 2" in error and "not JSON" in error
        assert adapter.counters["rejected"] == 1

    asyncio.run(scenario())


def test_kill_between_publish_and_move_publishes_the_file_once(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "orders.ndjson").write_text("".join(json.dumps({"n": n}) + "\n" for n in range(50)))
    config = _config(inbox, batch_size=20)
    run_in_process(tmp_path, config, expect=50, fault="after_publish_before_ack")
    killed = stored_on_disk(tmp_path / "logs", "orders")
    assert len(killed) == 20  # the first batch was durable, then the process died
    assert (inbox / "orders.ndjson").exists()  # not moved: it is taken again on restart
    report = run_in_process(tmp_path, config, expect=50, expect_acked=1)
    assert report is not None
    events = stored_on_disk(tmp_path / "logs", "orders")
    assert sorted(event["n"] for _, event in events) == list(range(50))
    assert report["duplicates"] == 20
    assert (inbox / "done" / "orders.ndjson").exists()


def test_missing_folder_reports_down_naming_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        adapter = build_adapter(
            _config(tmp_path / "nowhere", backoff_initial=0.02, backoff_max=0.05)
        )
        async with (
            open_publisher(tmp_path / "logs", stream_info("orders")) as publisher,
            running(adapter, publisher),
        ):
            await eventually(lambda: adapter.counters["reconnects"] >= 2)
        health = adapter.health()
        assert health.state == "down"
        assert "nowhere" in (health.last_error or "")

    asyncio.run(scenario())
