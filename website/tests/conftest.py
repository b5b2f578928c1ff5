"""Fixtures of the website's tests: the site built once per test run (strict mode, as CI and
``./dev site`` build it) and Debian's chromium.

The build is shared by the pytest-xdist workers: the first worker to ask builds it under a
lock in the run's temporary folder, the others wait and reuse it (or its failure).
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the `sitegen` helpers

from interlace.testing.prerequisites import CHROMIUM_HINT, find_chromium, require
from playwright.sync_api import Browser
from sitegen.browser import chromium
from sitegen.build import build_site


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built in strict mode; a failed build fails every test that needs it."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, common to the workers
    folder, failure = shared / "site", shared / "site-build-failed.txt"
    with open(shared / "site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "index.html").is_file() and not failure.exists():
            done = build_site(folder)
            if done.returncode != 0:
                failure.write_text(done.stdout + done.stderr)
    if failure.exists():
        pytest.fail(f"the strict site build failed:\n{failure.read_text()}", pytrace=False)
    return folder


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's chromium; without it the browser tests skip, except in CI where they fail."""
    require(find_chromium() is not None, "chromium", CHROMIUM_HINT)
    with chromium() as instance:
        yield instance
