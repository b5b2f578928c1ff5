"""Debian's chromium, driven by playwright: the one way the site's tests and
``./dev screenshots`` open a browser (never a browser that playwright downloads). Which
chromium is :func:`interlace.testing.prerequisites.find_chromium`'s, as in every package's
browser tests.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from interlace.testing.prerequisites import CHROMIUM_HINT, find_chromium

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


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless chromium; RuntimeError naming the fix when it is not installed."""
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    if executable is None:
        raise RuntimeError(f"chromium is not installed: {CHROMIUM_HINT}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=list(FLAGS))
        try:
            yield browser
        finally:
            browser.close()
