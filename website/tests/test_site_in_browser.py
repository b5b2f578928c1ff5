"""The built site, opened from disk (file://) in Debian's chromium as a reader would: the main
pages render, search works offline, nothing is fetched from another host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sitegen.screenshots import search_for, site_target, take

PAGES = {
    # page: (its title, text the page must show)
    "index.html": ("Interlace", ["In 60 seconds", "How Interlace compares", "Done in"]),
    "getting-started.html": ("Getting started", ["Create a project", "interlace init shop"]),
    "reference/cli.html": ("CLI reference", ["interlace run", "--full-refresh", "interlace serve"]),
    "reference/configuration.html": (
        "Configuration reference",
        ["max_workers", "default_strategy", "connections.NAME.attach[]"],
    ),
}


def _heading(page: Page) -> str:
    return page.locator("article h1").first.inner_text().removesuffix("¶").strip()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    remote: list[str] = []
    opened.on("request", lambda r: remote.append(r.url) if not r.url.startswith("file:") else None)
    yield opened
    context.close()
    assert remote == [], f"pages fetched from other hosts: {remote}"


@pytest.mark.parametrize("path", list(PAGES))
def test_page_renders_from_disk(site: Path, page: Page, path: str) -> None:
    title, texts = PAGES[path]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto((site / path).as_uri())

    assert _heading(page) == title
    body = page.locator("article").inner_text()
    for text in texts:
        assert text in body, f"{path} does not show {text!r}"
    assert page.locator(".md-nav__link").count() > 10  # the navigation is there
    assert errors == []


def test_search_finds_merge_by_key_when_opened_from_disk(site: Path, page: Page) -> None:
    page.goto((site / "index.html").as_uri())

    search_for("merge_by_key")(page)

    results = page.locator(".md-search-result__item")
    assert "matching document" in page.locator(".md-search-result__meta").inner_text()
    assert "strategies.html" in (results.first.locator("a").first.get_attribute("href") or "")
    results.first.locator("a").first.click()
    page.wait_for_url("**/strategies.html*")
    assert _heading(page) == "Strategies and schema modes"


def test_screenshots_are_written_to_the_folder_given(
    site: Path, browser: Browser, tmp_path: Path
) -> None:
    written = take(site_target(site), tmp_path, browser)

    assert {p.name for p in written} == {f"{s.name}.png" for s in site_target(site).shots}
    for path in written:
        assert path.parent == tmp_path
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000  # a page, not a blank
