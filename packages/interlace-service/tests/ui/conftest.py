"""The web UI end to end: a real ``interlace serve`` subprocess serving the built UI
(``apps/ui/dist``), driven in Debian's chromium through playwright.

Without the UI build or chromium these tests skip with the command that fixes it, except in CI
(``CI=true``), where they fail: CI must build the UI (``./dev test`` does) and install chromium.
Screenshots go to pytest's temporary folder, never into the repository.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from interlace.testing.prerequisites import CHROMIUM_HINT, find_chromium, require

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parents[4]
UI_DIST = REPO / "apps" / "ui" / "dist"
INTERLACE = Path(sys.executable).parent / "interlace"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
BUILD_HINT = "cd apps/ui && npm ci && npm run build (./dev test does it)"


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something true (or fail naming ``what``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLACE_")}
    env.update({"NO_COLOR": "1", "TERM": "dumb", "PYTHONUNBUFFERED": "1"})
    return env


def interlace(root: Path, *args: str) -> str:
    """Run ``interlace ARGS`` in ``root``; its output (fails the test on a non-zero exit)."""
    done = subprocess.run(
        [str(INTERLACE), *args],
        cwd=root,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"interlace {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


class Server:
    """``interlace serve`` on a fixed loopback port in ``root`` (restartable on that port)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None
        self.token = ""
        self.start()

    def start(self) -> None:
        discovery = self.root / ".interlace" / "server-dev.json"
        discovery.unlink(missing_ok=True)
        # the output goes to a file: a busy server fills a pipe nobody reads, and freezes
        self.log = self.root / f"serve-{self.port}.log"
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [str(INTERLACE), "serve", "--port", str(self.port)],
                cwd=self.root,
                env=cli_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )

        def ready() -> dict[str, Any] | None:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"interlace serve exited: {self.log.read_text()[-4000:]}")
            try:
                return dict(json.loads(discovery.read_text()))
            except (OSError, ValueError):
                return None

        self.token = str(wait_for(ready, 60, "interlace serve to start")["token"])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            (self.root / "slow.gate").write_text("")
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        (self.root / "slow.gate").unlink(missing_ok=True)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """An API call with the server's local key."""
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
        def ended() -> dict[str, Any] | None:
            status, run = self.call("GET", f"/api/v1/runs/{run_id}")
            return run if status == 200 and run["status"] not in ("queued", "running") else None

        return dict(wait_for(ended, timeout, f"run {run_id} to end"))

    def key(self, name: str, *extra: str) -> str:
        """A new API key (execute scope) made with ``interlace apikey create``."""
        return interlace(
            self.root, "apikey", "create", name, "--scope", "execute", "--quiet", *extra
        ).strip()


@pytest.fixture(scope="session")
def ui_build() -> Path:
    require((UI_DIST / "index.html").is_file(), "the built web UI (apps/ui/dist)", BUILD_HINT)
    return UI_DIST


@pytest.fixture(scope="module")
def browser(ui_build: Path) -> Iterator[Browser]:
    executable = find_chromium()
    require(executable is not None, "chromium", CHROMIUM_HINT)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def new_page(browser: Browser, width: int = 1280, height: int = 800) -> Page:
    """A page in a fresh context (no cookies) that fails the test on a script error."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def sign_in(page: Page, server: Server, key: str) -> None:
    page.goto(server.url + "/")
    page.locator("#api-key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.locator("header").get_by_role("link", name="Pipeline").wait_for()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where a test saves screenshots (a temporary folder)."""
    return tmp_path


class UI:
    """The helpers above, for test modules (a conftest is not importable under
    ``--import-mode=importlib``): the ``ui`` fixture."""

    REPO = REPO
    Server = Server
    new_page = staticmethod(new_page)
    sign_in = staticmethod(sign_in)
    wait_for = staticmethod(wait_for)
    interlace = staticmethod(interlace)


@pytest.fixture(scope="session")
def ui() -> type[UI]:
    return UI
