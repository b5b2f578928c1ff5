"""`interlace serve --log-format json`: the real server process writes one JSON object per
line, access lines carry the request id, route template, status and duration, and the lines
written while a run executes carry its run id."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from interlace.testing import ProjectFolder
from interlace_service.testing import wait_for

INTERLACE = Path(sys.executable).parent / "interlace"


class Server:
    """``interlace serve --port 0`` with extra arguments, in a project folder."""

    def __init__(self, root: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "INTERLACE_ENV"}
        self.discovery = root / ".interlace" / "server-dev.json"
        self.process = subprocess.Popen(
            [str(INTERLACE), "serve", "--port", "0", "--no-ui", *args],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.info: dict[str, Any] = wait_for(self._info, 60, "the server's discovery file")

    def _info(self) -> dict[str, Any] | None:
        if self.process.poll() is not None:
            out, err = self.process.communicate()
            raise AssertionError(f"interlace serve exited {self.process.returncode}\n{out}{err}")
        try:
            return dict(json.loads(self.discovery.read_text()))
        except (OSError, ValueError):
            return None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, str]:
        """Status, JSON body and the ``X-Request-ID`` of one request."""
        request = urllib.request.Request(
            self.info["url"] + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Authorization": f"Bearer {self.info['token']}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), response.headers["X-Request-ID"]

    def stop(self) -> tuple[int, str, str]:
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err


def test_serve_with_json_logs_writes_one_object_per_line_with_request_and_run_ids(
    tmp_path: Path,
) -> None:
    folder = ProjectFolder.create(tmp_path / "shop").write(
        {
            "models/orders.sql": "SELECT * FROM (VALUES (1, 10.0)) AS t(id, amount)",
            "models/revenue.sql": "SELECT sum(amount) AS total FROM orders",
        }
    )
    server = Server(folder.root, "--log-format", "json")
    try:
        status, run, triggered_by = server.call("POST", "/api/v1/runs", {"select": ["+revenue"]})
        assert status == 202

        def ended() -> dict[str, Any] | None:
            _, body, _ = server.call("GET", f"/api/v1/runs/{run['id']}")
            return body if body["status"] in ("success", "failed") else None

        assert wait_for(ended, 60, "the run to end")["status"] == "success"
        status, _, listed_by = server.call("GET", "/api/v1/models")
        assert status == 200
    finally:
        code, out, err = server.stop()

    assert code == 0, err
    assert out.strip() == "", out  # everything is a log record, on standard error
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert lines, err
    for line in lines:
        assert {"timestamp", "level", "logger", "message"} <= set(line), line
        assert line["timestamp"].endswith("Z")

    access = [line for line in lines if line["logger"] == "interlace.http.access"]
    (trigger,) = [line for line in access if line.get("request_id") == triggered_by]
    assert trigger["method"] == "POST" and trigger["route"] == "/api/v1/runs"
    assert trigger["status"] == 202 and trigger["duration_ms"] >= 0
    (listing,) = [line for line in access if line.get("request_id") == listed_by]
    assert listing["route"] == "/api/v1/models" and listing["status"] == 200
    polls = [line for line in access if line.get("path") == f"/api/v1/runs/{run['id']}"]
    assert polls and all(line["route"] == "/api/v1/runs/{run_id}" for line in polls)

    of_run = [line for line in lines if line.get("run_id") == run["id"]]
    messages = " | ".join(line["message"] for line in of_run)
    assert f"run {run['id']} started" in messages and f"run {run['id']} ended: done" in messages
    assert any("interlace serve: project" in line["message"] for line in lines)


def test_serve_logs_text_lines_by_default(tmp_path: Path) -> None:
    folder = ProjectFolder.create(tmp_path / "shop").write({"models/one.sql": "SELECT 1 AS id"})
    server = Server(folder.root)
    try:
        _, _, request_id = server.call("GET", "/api/v1/models")
    finally:
        code, out, err = server.stop()

    assert code == 0
    assert "interlace serve: project" in out
    (line,) = [line for line in err.splitlines() if request_id in line]
    assert "INFO interlace.http.access: GET /api/v1/models 200" in line
    assert f"request_id={request_id}" in line
