"""Testing helpers for the service: a project served by the real app on a loopback port,
called over HTTP from plain synchronous tests (:class:`Served`), or by a real ``interlace
serve`` process (:class:`ServeProcess`); :data:`SLOW_MODEL`, a model that holds its run open.

Example::

    folder = ProjectFolder.create(tmp_path / "shop").write({"models/a.sql": "SELECT 1 AS id"})
    served = Served.start(folder)
    run = served.run_ok(select=["a"])
    served.close()

    with ServeProcess(folder.root, "--no-ui") as server:
        status, run = server.call("POST", "/api/v1/runs", {"select": ["a"]})
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.state import SQLiteStateStore
from interlace_http.testing import Reply, ServedApp

from interlace_service.app import create_app
from interlace_service.options import ServiceOptions
from interlace_service.service import Service

if TYPE_CHECKING:
    from types import TracebackType

    from interlace.testing import ProjectFolder

# `models/slow.py`: `slow` yields rows until the file `slow.gate` appears in the project folder
# (it writes `slow.started` first): a test holds a run open with it (see Served.hold_slow),
# and a cancellation stops it between two rows
SLOW_MODEL = """
import time
from pathlib import Path

from interlace import model

ROOT = Path(__file__).parent.parent

@model(tags=["slow"])
def slow():
    (ROOT / "slow.started").write_text("")
    deadline = time.monotonic() + 120
    number = 0
    while not (ROOT / "slow.gate").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
        yield {"id": number}
        number += 1
    yield {"id": -1}
"""


@dataclass
class Served:
    """A served project: its folder, the service and the HTTP app."""

    folder: ProjectFolder
    service: Service
    http: ServedApp

    @classmethod
    def start(cls, folder: ProjectFolder, **options: Any) -> Served:
        """Serve ``folder`` (its extension routers left out; drains within 5 s; the scheduler
        off unless ``scheduler=True``: a SQLite store allows one, and tests serve one project
        twice)."""
        defaults = {"grace": 5.0, "scheduler": False}
        service = Service.load(folder.root, options=ServiceOptions(**{**defaults, **options}))
        http = ServedApp(create_app(service, routers=[])).start()
        return cls(folder, service, http)

    def close(self) -> None:
        self.http.close()

    @property
    def root(self) -> Path:
        return self.folder.root

    def call(self, method: str, path: str, **kwargs: Any) -> Reply:
        return self.http.call(method, path, **kwargs)

    def store(self) -> SQLiteStateStore:
        """A state store connection of the test's own (like another process)."""
        return SQLiteStateStore(self.root / ".interlace" / "state.db")

    def trigger(self, **body: Any) -> dict[str, Any]:
        reply = self.call("POST", "/api/v1/runs", json=body)
        assert reply.status == 202, reply
        run: dict[str, Any] = reply.json
        return run

    def wait_run(self, run_id: str, timeout: float = 120) -> dict[str, Any]:
        """The run once it ended (polled, with a deadline)."""
        ended = ("success", "failed", "cancelled", "killed")

        def current() -> dict[str, Any] | None:
            run: dict[str, Any] = self.call("GET", f"/api/v1/runs/{run_id}").json
            return run if run["status"] in ended else None

        found: dict[str, Any] = wait_for(current, timeout, f"run {run_id} to end")
        return found

    def run_ok(self, **body: Any) -> dict[str, Any]:
        run = self.wait_run(self.trigger(**body)["id"])
        assert run["status"] == "success", run
        return run

    def hold_slow(self) -> None:
        """Make the next run of `slow` wait for :meth:`release_slow`."""
        for name in ("slow.gate", "slow.started"):
            (self.root / name).unlink(missing_ok=True)

    def release_slow(self) -> None:
        (self.root / "slow.gate").write_text("")

    def slow_started(self, timeout: float = 60) -> None:
        wait_for(lambda: (self.root / "slow.started").exists(), timeout, "slow to start")


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of an ``interlace`` subprocess: no inherited ``INTERLACE_*`` variables,
    no colours, unbuffered output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLACE_")}
    for key in ("FORCE_COLOR", "COLUMNS", "LINES"):
        env.pop(key, None)
    env.update({"NO_COLOR": "1", "TERM": "dumb", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def interlace_command() -> str:
    """The ``interlace`` console script of this interpreter's environment."""
    here = Path(sys.executable).parent
    return shutil.which("interlace", path=str(here)) or str(here / "interlace")


class ServeProcess:
    """``interlace serve --port PORT ARGS`` as a real process in the project folder ``root``
    (environment ``dev``), ready once its discovery file is written. ``port`` is picked free
    when not given and kept: :meth:`start` after :meth:`stop` serves on the same one. The
    output goes to ``serve-PORT.log`` in ``root`` (a pipe nobody reads would freeze a busy
    server)."""

    def __init__(self, root: Path, *args: str, port: int | None = None) -> None:
        self.root = root
        self.args = args
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.discovery = root / ".interlace" / "server-dev.json"
        self.log = root / f"serve-{self.port}.log"
        self.process: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}
        self._log_start = 0
        self.start()

    @property
    def token(self) -> str:
        """The API key the server made for local use (from its discovery file)."""
        return str(self.info["token"])

    def start(self) -> None:
        self.discovery.unlink(missing_ok=True)
        self._log_start = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [interlace_command(), "serve", "--port", str(self.port), *self.args],
                cwd=self.root,
                env=cli_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.info = wait_for(self._ready, 60, "interlace serve to start")

    def _ready(self) -> dict[str, Any] | None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"interlace serve exited {self.process.returncode}: {self.output()[-4000:]}"
            )
        try:
            return dict(json.loads(self.discovery.read_text()))
        except (OSError, ValueError):
            return None

    def output(self) -> str:
        """What the server printed since it was last started."""
        with self.log.open(encoding="utf-8", errors="replace") as log:
            log.seek(self._log_start)
            return log.read()

    def terminate(self) -> None:
        """Send SIGTERM (the server drains its runs and exits); see :meth:`wait`."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60) -> tuple[int, str]:
        """Wait until the process exited: its exit code and :meth:`output`."""
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        return code, self.output()

    def stop(self, timeout: float = 60) -> tuple[int, str]:
        """SIGTERM, then the exit code and :meth:`output` (killed after ``timeout`` s)."""
        self.terminate()
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            assert self.process is not None
            self.process.kill()
            return self.wait(timeout)

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """An API call with the server's local key: the status and the JSON answer."""
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def run(self, timeout: float = 120, **body: Any) -> dict[str, Any]:
        """Trigger a run over the API and wait until it ends; the run."""
        status, run = self.call("POST", "/api/v1/runs", body)
        assert status == 202, run
        return self.wait_run(run["id"], timeout)

    def wait_run(self, run_id: str, timeout: float = 120) -> dict[str, Any]:
        """The run once it ended (polled, with a deadline)."""

        def ended() -> dict[str, Any] | None:
            status, run = self.call("GET", f"/api/v1/runs/{run_id}")
            return run if status == 200 and run["status"] not in ("queued", "running") else None

        return dict(wait_for(ended, timeout, f"run {run_id} to end"))

    def api_key(self, name: str, *scopes: str, extra: tuple[str, ...] = ()) -> str:
        """A new API key of the project with ``scopes``, made as a person makes one
        (``interlace apikey create NAME --scope S ... --quiet``)."""
        args = [arg for scope in scopes for arg in ("--scope", scope)]
        made = subprocess.run(
            [interlace_command(), "apikey", "create", name, *args, "--quiet", *extra],
            cwd=self.root,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert made.returncode == 0, f"interlace apikey create {name}: {made.stderr}"
        return made.stdout.strip()
