"""``./dev screenshots``: the pictures in the docs, taken from the real thing in chromium.

No image in the docs is made by hand: each is a :class:`Shot` of a :class:`Target` (something
served on this machine), so running ``./dev screenshots`` again brings every picture up to date.
Today the only target is the docs site (built by ``./dev site``, served from its folder). The
web UI adds its own target the same way, in :func:`targets`: a function that starts it
(``interlace serve`` on a project made for the pictures) and yields its address, and the shots
to take there::

    "ui": Target("ui", serve=serve_ui, shots=(Shot("ui-graph", "index.html"), ...)),

Usage: ``python -m sitegen.screenshots --site SITE_FOLDER [--out FOLDER] [--only NAME]...``
(``./dev screenshots`` builds the site and writes into ``docs/assets/screenshots``).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "assets" / "screenshots"


@dataclass(frozen=True)
class Shot:
    """One picture: the page at ``path`` (relative to the target's address), after
    ``prepare(page)`` when given, saved as ``<name>.png``."""

    name: str
    path: str
    prepare: Callable[[Page], None] | None = None
    full_page: bool = False


@dataclass(frozen=True)
class Target:
    """Something to photograph: ``serve()`` is a context manager yielding its base URL."""

    name: str
    serve: Callable[[], AbstractContextManager[str]]
    shots: tuple[Shot, ...] = field(default=())


def search_for(text: str) -> Callable[[Page], None]:
    """Type ``text`` into the site's search box and wait for the results."""

    def prepare(page: Page) -> None:
        box = page.locator(".md-search__input")
        box.click()
        box.press_sequentially(text, delay=20)
        page.locator(".md-search-result__item").first.wait_for()

    return prepare


SITE_SHOTS = (
    Shot("site-home", "index.html"),
    Shot("site-search", "index.html", prepare=search_for("merge_by_key")),
    Shot("site-python-api", "reference/python/running.html"),
    Shot("site-configuration-reference", "reference/configuration.html"),
)


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port) while the block runs."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def site_target(site: Path) -> Target:
    """The docs site built into ``site``."""
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"no built site in {site}: run ./dev site first")
    return Target("site", serve=lambda: serve_folder(site), shots=SITE_SHOTS)


def ui_target() -> Target:
    """The web UI (``apps/ui``) on the quickstart, served by ``interlace serve``."""
    from sitegen.ui_screens import serve_ui, ui_shots

    shots = tuple(s for s in ui_shots(Shot) if isinstance(s, Shot))
    return Target("ui", serve=serve_ui, shots=shots)


def targets(site: Path) -> dict[str, Target]:
    """Every target, by name (``--only NAME``)."""
    return {"site": site_target(site), "ui": ui_target()}


def take(target: Target, out: Path, browser: Browser) -> list[Path]:
    """Take every shot of ``target`` into ``out``; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with target.serve() as base:
        context = browser.new_context(
            viewport=VIEWPORT, color_scheme="light", reduced_motion="reduce"
        )
        try:
            page = context.new_page()
            for shot in target.shots:
                page.goto(base + shot.path.lstrip("/"))
                page.wait_for_load_state("load")
                if shot.prepare is not None:
                    shot.prepare(page)
                path = out / f"{shot.name}.png"
                page.screenshot(path=path, full_page=shot.full_page, animations="disabled")
                written.append(path)
        finally:
            context.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev screenshots", description=__doc__.split("\n")[0])
    parser.add_argument("--site", type=Path, required=True, help="the built site's folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the PNGs go")
    parser.add_argument("--only", action="append", help="take only this target's shots")
    args = parser.parse_args(argv)

    from sitegen.browser import chromium

    known = targets(args.site.resolve())
    chosen = args.only or list(known)
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}: choose from {', '.join(known)}")
    with chromium() as browser:
        for name in chosen:
            for path in take(known[name], args.out, browser):
                print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
