"""The web UI end to end: a real ``interlace serve`` subprocess serving the built UI
(``apps/ui/dist``), driven in Debian's chromium through playwright.

Without the UI build or chromium these tests skip with the command that fixes it, except in CI
(``CI=true``), where they fail: CI must build the UI (``./dev test`` does) and install chromium.
Screenshots go to pytest's temporary folder, never into the repository.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from interlace.testing.prerequisites import CHROMIUM_HINT, find_chromium, require
from interlace_service.testing import ServeProcess, cli_env, interlace_command, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parents[4]
UI_DIST = REPO / "apps" / "ui" / "dist"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
BUILD_HINT = "cd apps/ui && npm ci && npm run build (./dev test does it)"


def interlace(root: Path, *args: str) -> str:
    """Run ``interlace ARGS`` in ``root``; its output (fails the test on a non-zero exit)."""
    done = subprocess.run(
        [interlace_command(), *args],
        cwd=root,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"interlace {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


class Server(ServeProcess):
    """``interlace serve`` (with the UI) in ``root``, restartable on its port; stopping it lets
    a held ``slow`` run end first."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)

    def stop(self, timeout: float = 60) -> tuple[int, str]:
        (self.root / "slow.gate").write_text("")
        try:
            return super().stop(timeout)
        finally:
            (self.root / "slow.gate").unlink(missing_ok=True)

    def key(self, name: str, *extra: str) -> str:
        """A new API key (execute scope) made with ``interlace apikey create``."""
        return self.api_key(name, "execute", extra=extra)


def quickstart(tmp_path_factory: pytest.TempPathFactory, folder: str) -> Path:
    """A copy of ``examples/quickstart`` (without its data, state or caches) in a new folder."""
    root = tmp_path_factory.mktemp(folder) / "quickstart"
    shutil.copytree(
        REPO / "examples" / "quickstart",
        root,
        ignore=shutil.ignore_patterns("data", ".interlace", "__pycache__"),
    )
    return root


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


@contextmanager
def signed_in(browser: Browser, server: Server, key_name: str) -> Iterator[Page]:
    """A new page signed in with a new key named ``key_name``; on leaving, the test fails if
    the page had a script error, and the page is closed."""
    page = new_page(browser)
    sign_in(page, server, server.key(key_name))
    yield page
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


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
    signed_in = staticmethod(signed_in)
    quickstart = staticmethod(quickstart)
    wait_for = staticmethod(wait_for)
    interlace = staticmethod(interlace)


@pytest.fixture(scope="session")
def ui() -> type[UI]:
    return UI
