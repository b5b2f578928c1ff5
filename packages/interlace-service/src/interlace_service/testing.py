"""Testing helpers for the service: a project served by the real app on a loopback port,
called over HTTP from plain synchronous tests.

Example::

    folder = ProjectFolder.create(tmp_path / "shop").write({"models/a.sql": "SELECT 1 AS id"})
    served = Served.start(folder)
    run = served.run_ok(select=["a"])
    served.close()
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.state import SQLiteStateStore
from interlace_http.testing import Reply, ServedApp

from interlace_service.app import create_app
from interlace_service.options import ServiceOptions
from interlace_service.service import Service

if TYPE_CHECKING:
    from interlace.testing import ProjectFolder


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
