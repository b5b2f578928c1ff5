"""``interlace serve`` runs stream ingestion: the stream routes are mounted through the hook,
published events reach the stream's table, and the service's run worker runs the models that
read the stream (queued by the stream trigger)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from interlace.hooks import installed_hooks
from interlace.testing import ProjectFolder
from interlace_http.testing import ServedApp
from interlace_service.app import create_app
from interlace_service.options import ServiceOptions
from interlace_service.service import Service
from interlace_stream.api import stream_router

if TYPE_CHECKING:
    from pathlib import Path

CONFIG = """\
name: shop
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
streaming:
  commit_interval: 0.05
  trigger_debounce: 0.2
"""


@pytest.fixture
def stream_hook(tmp_path: Path) -> Iterator[None]:
    """interlace-stream's hook, registered for this test when the installed distribution does
    not declare its entry point yet."""
    if any(hook.source == "interlace_stream.hooks" for hook in installed_hooks()):
        yield
        return
    info = tmp_path / "site" / "interlace_stream_hooks-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sh\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[interlace.hooks]\nstream = interlace_stream.hooks\n")
    sys.path.insert(0, str(info.parent))
    installed_hooks.cache_clear()
    yield
    sys.path.remove(str(info.parent))
    installed_hooks.cache_clear()


def test_serve_ingests_a_stream_and_runs_its_readers(tmp_path: Path, stream_hook: None) -> None:
    folder = ProjectFolder.create(tmp_path / "shop", config=CONFIG)
    folder.write(
        {
            "models/events.py": """
                from interlace_stream import stream

                orders = stream("orders", fields={"id": "int64", "amount": "float64"})
            """,
            "models/revenue.sql": """
                -- @strategy: append
                -- @cursor: _stream_offset
                SELECT _stream_offset, id, amount FROM orders
            """,
        }
    )
    service = Service.load(folder.root, options=ServiceOptions(grace=5.0, scheduler=False))
    with ServedApp(create_app(service, routers=[stream_router()])) as http:
        reply = http.call("POST", "/api/v1/streams/orders", json=[{"id": 1, "amount": 2.0}])
        assert reply.status == 200, reply
        deadline = time.monotonic() + 30
        runs: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            runs = http.call("GET", "/api/v1/runs").json["items"]
            if any(r.get("status") == "success" for r in runs):
                break
            time.sleep(0.1)
        assert any(r.get("status") == "success" for r in runs), runs
        listed = http.call("GET", "/api/v1/streams").json["streams"]
        assert listed[0]["committed_offset"] == 1
    assert folder.rows("revenue") == [{"_stream_offset": 0, "id": 1, "amount": 2.0}]
