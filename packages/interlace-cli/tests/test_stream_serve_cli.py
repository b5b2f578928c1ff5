"""Streams inside ``interlace serve``: ``interlace stream list`` finds the running server of the
project through its discovery file and shows adapter health (and says so when no server runs),
``interlace stream publish`` goes through it, and ``--reload`` follows changed stream
declarations and adapters without a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from interlace.testing import ProjectFolder, eventually
from interlace_http.testing import ServedApp
from interlace_service.app import create_app
from interlace_service.options import ServiceOptions
from interlace_service.service import Service
from interlace_stream.api import stream_router

if TYPE_CHECKING:
    from collections.abc import Callable

    Eventually = Callable[..., Any]

INTERLACE = Path(sys.executable).parent / "interlace"

# fast commits, no auth: what these tests look at is the server's streams, not its guards
CONFIG = """\
name: stream_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
streaming:
  commit_interval: 0.05
  trigger_debounce: 0.2
  auth: {enabled: false}
  rate_limit: {enabled: false}
"""


@pytest.fixture
def project(tmp_path: Path) -> ProjectFolder:
    """A project with streams' settings (this module's own, not the CLI tests' folder)."""
    return ProjectFolder.create(tmp_path / "stream_project", config=CONFIG)


@pytest.fixture(name="eventually")
def eventually_fixture() -> Eventually:
    return eventually


PUBLIC_ORDERS = """
    from interlace_stream import stream

    orders = stream("orders", fields={"id": "int64"}, auth={"public": True})
"""

DROPS = """\
adapters:
  - name: drops
    type: filesystem
    stream: orders
    path: {path}
"""


def interlace(root: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [str(INTERLACE), "--project", str(root), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_stream_list_asks_the_running_server_and_says_when_none_runs(
    project: ProjectFolder, eventually: Eventually
) -> None:
    (project.root / "inbox").mkdir()
    project.write({"models/events.py": PUBLIC_ORDERS})
    config = project.root / "config.yaml"
    config.write_text(config.read_text() + DROPS.format(path="inbox"))

    code, out = interlace(project.root, "stream", "list")
    assert code == 0, out
    assert "drops not running" in out, out
    assert "no server is running for this project" in out, out

    server = subprocess.Popen(
        [str(INTERLACE), "--project", str(project.root), "serve", "--port", "0", "--no-ui"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    discovery = project.root / ".interlace" / "server-dev.json"
    try:

        def started() -> dict[str, Any] | None:
            assert server.poll() is None, server.communicate()[0][-3000:]
            return dict(json.loads(discovery.read_text())) if discovery.exists() else None

        info = eventually(started, timeout=60)

        def listed() -> str | None:
            code, out = interlace(project.root, "stream", "list")
            assert code == 0, out
            return out if "drops healthy" in out else None

        out = eventually(listed, timeout=60, step=0.2)
        assert f"from the server at {info['url']}" in out, out
        # the server holds the stream's log: publishing goes through it
        code, out = interlace(project.root, "stream", "publish", "orders", '{"id": 7}')
        assert code == 0 and "stored 1 event(s) in 'orders'" in out, out
        code, out = interlace(project.root, "stream", "show", "orders")
        assert code == 0, out
        shown = json.loads(out)
        assert shown["durable_offset"] == 1
        assert [(a["name"], a["state"]) for a in shown["adapters"]] == [("drops", "healthy")]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert not discovery.exists()
    code, out = interlace(project.root, "stream", "list")
    assert code == 0 and "no server is running for this project" in out, out


def _served(project: ProjectFolder) -> ServedApp:
    options = ServiceOptions(reload=True, poll=0.05, grace=5.0, scheduler=False, ui=False)
    service = Service.load(project.root, options=options)
    return ServedApp(create_app(service, routers=[stream_router()]))


def _touch_later(path: Path, text: str) -> None:
    """Write ``path`` so that its modification time surely differs from the previous one."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def test_reload_follows_stream_declarations_and_adapters(
    project: ProjectFolder, eventually: Eventually
) -> None:
    for name in ("inbox_a", "inbox_b"):
        (project.root / name).mkdir()
    project.write({"models/events.py": PUBLIC_ORDERS})
    config = project.root / "config.yaml"
    base = config.read_text()
    _touch_later(config, base + DROPS.format(path="inbox_a"))
    events = project.root / "models" / "events.py"

    with _served(project) as http:
        assert http.call("POST", "/api/v1/streams/orders", json={"id": 1}).status == 200
        assert http.call("POST", "/api/v1/streams/clicks", json={"page": "/"}).status == 404

        # a new stream, and the adapter now watches another folder
        _touch_later(
            events,
            events.read_text()
            + '\nclicks = stream("clicks", fields={"page": "string"}, auth={"public": True})\n',
        )
        _touch_later(config, base + DROPS.format(path="inbox_b"))
        eventually(
            lambda: http.call("POST", "/api/v1/streams/clicks", json={"page": "/"}).status == 200,
            timeout=60,
        )
        assert http.call("POST", "/api/v1/streams/orders", json={"id": 2}).status == 200
        (project.root / "inbox_a" / "old.json").write_text(json.dumps({"id": 100}))
        (project.root / "inbox_b" / "new.json").write_text(json.dumps({"id": 200}))
        eventually(lambda: (project.root / "inbox_b" / "done" / "new.json").exists(), timeout=30)

        def committed() -> bool:
            listed = http.call("GET", "/api/v1/streams").json["streams"]
            by_name = {s["name"]: s for s in listed}
            return bool(by_name["orders"]["committed_offset"] == 3)

        eventually(committed, timeout=30)
        adapters = http.call("GET", "/api/v1/streams/orders").json["adapters"]
        assert [(a["name"], a["state"]) for a in adapters] == [("drops", "healthy")]
        assert (project.root / "inbox_a" / "old.json").exists()  # the old folder is not watched

        # the stream removed: 404, and the other one still takes events
        _touch_later(
            events,
            'from interlace_stream import stream\n\nclicks = stream("clicks", '
            'fields={"page": "string"}, auth={"public": True})\n',
        )
        _touch_later(config, base)
        eventually(lambda: http.call("GET", "/api/v1/streams/orders").status == 404, timeout=60)
        reply = http.call("POST", "/api/v1/streams/orders", json={"id": 3})
        assert reply.status == 404 and "no stream named 'orders'" in reply.text, reply
        assert http.call("POST", "/api/v1/streams/clicks", json={"page": "/a"}).status == 200
    rows = project.engine_rows("SELECT id FROM main.orders ORDER BY id")
    assert rows == [(1,), (2,), (200,)]


def test_reload_starts_ingestion_in_a_server_that_had_no_streams(
    project: ProjectFolder, eventually: Eventually
) -> None:
    project.write({"models/a.sql": "SELECT 1 AS id"})
    with _served(project) as http:
        reply = http.call("POST", "/api/v1/streams/orders", json={"id": 1})
        assert reply.status == 503, reply
        _touch_later(project.root / "models" / "events.py", PUBLIC_ORDERS.replace("\n    ", "\n"))
        eventually(
            lambda: http.call("POST", "/api/v1/streams/orders", json={"id": 1}).status == 200,
            timeout=60,
        )
        time.sleep(0.2)
        assert http.call("GET", "/api/v1/streams").json["streams"][0]["durable_offset"] == 1
