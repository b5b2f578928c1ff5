"""Debian's chromium, driven by playwright: the one way the site's tests and
``./dev screenshots`` open a browser (never a browser that playwright downloads).
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser

# flags for a quiet, offline, reproducible headless browser
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
INSTALL_HINT = "install Debian's chromium (as root: apt-get install -y chromium)"


def find_chromium() -> str | None:
    """The chromium executable: ``$CHROMIUM`` if set (None when it is not there), else
    Debian's."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        return shutil.which(configured)
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless chromium; RuntimeError naming the fix when it is not installed."""
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    if executable is None:
        raise RuntimeError(f"chromium is not installed: {INSTALL_HINT}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=list(FLAGS))
        try:
            yield browser
        finally:
            browser.close()
