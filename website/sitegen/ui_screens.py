"""The web UI's pictures for ``./dev screenshots`` (target ``ui``): the quickstart, run twice in
a temporary copy (the second time with a changed model, so it has a schema history, and with a
warn-level quality check that fails), served by ``interlace serve``.

The first shot signs in with an API key made for it; the others reuse the browser's session.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart"
UI_BUILD = REPO / "apps" / "ui" / "dist"
CHECKS = """
quality:
  checks:
    stg_orders:
      - {accepted_values: {column: status, values: [completed]}, severity: warn}
streams:
  page_views:
    fields: {user: string, page: string, seconds: float64}
    validate_schema: quarantine
"""
# what the streams pages show: events published over HTTP (two do not fit the fields)
PAGE_VIEWS = [
    {"user": f"u{i % 7}", "page": page, "seconds": round(1.5 + i * 0.7, 1)}
    for i, page in enumerate(["/", "/pricing", "/docs", "/", "/blog", "/docs/streams"] * 4)
] + [{"user": 42, "page": "/"}, {"user": "u3", "page": ["/", "/pricing"]}]


class _Session:
    key = ""


def _interlace(root: Path, *args: str) -> str:
    command = [str(Path(sys.executable).parent / "interlace"), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLACE_")}
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"interlace {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_ui() -> Iterator[str]:
    """The quickstart in a temporary folder, run and served; yields the UI's address."""
    if not (UI_BUILD / "index.html").is_file():
        raise FileNotFoundError(
            f"the web UI is not built ({UI_BUILD}): cd apps/ui && npm ci && npm run build"
        )
    with tempfile.TemporaryDirectory(prefix="interlace-ui-shots-") as tmp:
        root = Path(tmp) / "quickstart"
        shutil.copytree(
            QUICKSTART, root, ignore=shutil.ignore_patterns("data", ".interlace", "__pycache__")
        )
        with (root / "config.yaml").open("a") as config:
            config.write(CHECKS)
        _interlace(root, "run")
        reference = root / "models" / "staging" / "reference.sql"
        reference.write_text(
            reference.read_text().replace("region, currency", "region, currency, 1 as rank")
        )
        _interlace(root, "run", "+stg_countries")
        _Session.key = _interlace(
            root, "apikey", "create", "screenshots", "--scope", "execute", "--quiet"
        ).strip()
        publisher = _interlace(
            root, "apikey", "create", "publisher", "--scope", "write", "--quiet"
        ).strip()
        port = _free_port()
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "interlace"), "serve", "--port", str(port)],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            discovery = root / ".interlace" / "server-dev.json"
            deadline = time.monotonic() + 60
            while not _ready(discovery):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("interlace serve did not start")
                time.sleep(0.1)
            base = f"http://127.0.0.1:{port}"
            _publish_page_views(base, publisher)
            yield base + "/"
        finally:
            process.terminate()
            process.wait(timeout=60)


def _call(base: str, key: str, path: str, body: object = None) -> dict[str, Any]:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


def _publish_page_views(base: str, key: str) -> None:
    """Events in the ``page_views`` stream, committed, and a consumer that read some."""
    for start in range(0, len(PAGE_VIEWS), 6):
        _call(base, key, "/api/v1/streams/page_views", PAGE_VIEWS[start : start + 6])
    deadline = time.monotonic() + 30
    consume = "/api/v1/streams/page_views/consume?consumer=analytics&batch_size=15"
    batch = _call(base, key, consume)
    while not batch["events"] and time.monotonic() < deadline:
        time.sleep(0.2)  # the committer has not moved the events into the table yet
        batch = _call(base, key, f"{consume}&lease={batch['lease']}")  # the lease is ours
    ack = {"consumer": "analytics", "lease": batch["lease"], "offset": batch["next_offset"]}
    _call(base, key, "/api/v1/streams/page_views/ack", ack)


def _ready(discovery: Path) -> bool:
    try:
        return bool(json.loads(discovery.read_text()).get("url"))
    except (OSError, ValueError):
        return False


def _signed_in(page: Page) -> None:
    """Sign in when the page asks for it (the first shot leaves the key typed in)."""
    form = page.locator("[data-testid=sign-in]")
    if form.count():
        if not page.locator("#api-key").input_value():
            page.locator("#api-key").fill(_Session.key)
        page.get_by_role("button", name="Sign in").click()
        page.locator("header").wait_for()


def key_typed(page: Page) -> None:
    page.locator("#api-key").fill(_Session.key)


def showing(selector: str, then: Callable[[Page], None] | None = None) -> Callable[[Page], None]:
    """Sign in if needed, wait for ``selector``, then ``then(page)``; let the page settle."""

    def prepare(page: Page) -> None:
        _signed_in(page)
        page.locator(selector).first.wait_for(timeout=30_000)
        page.mouse.move(2, 2)  # no hover highlight left from the shot before
        if then is not None:
            then(page)
        page.wait_for_timeout(400)  # transitions and the live indicator settle

    return prepare


def _fit(page: Page) -> None:
    page.get_by_role("button", name="Fit the graph").click()  # beside the selection's panel


def _latest_run(page: Page) -> None:
    page.locator("[data-testid=runs-table] a").first.click()
    page.locator("[data-testid=run-tasks]").wait_for()


def _trigger(page: Page) -> None:
    page.get_by_test_id("open-trigger").click()
    page.locator("[data-testid=trigger-dialog] input[name=select]").fill("+customer_lifetime_value")


def _dark(page: Page) -> None:
    page.keyboard.press("Escape")  # the trigger dialog of the shot before
    page.get_by_role("button", name="Switch to dark theme").click()


def ui_shots(shot: Callable[..., object]) -> tuple[object, ...]:
    """The UI's shots, made with the screenshots module's ``Shot`` class."""
    dag = "[data-testid=dag] [data-model]"
    return (
        shot("ui-sign-in", "", prepare=key_typed),
        shot("ui-pipeline", "#/graph", prepare=showing(dag)),
        shot("ui-lineage", "#/graph?focus=orders_enriched", prepare=showing(dag, _fit)),
        shot("ui-models", "#/models", prepare=showing("[data-testid=models-table]")),
        shot(
            "ui-model",
            "#/models/customer_lifetime_value",
            prepare=showing("[data-testid=model-config]"),
        ),
        shot(
            "ui-model-source",
            "#/models/orders_enriched?tab=source",
            prepare=showing("[data-testid=model-source]"),
        ),
        shot(
            "ui-schema-history",
            "#/models/stg_countries?tab=schema",
            prepare=showing("[data-testid=schema-diff]"),
        ),
        shot(
            "ui-quality",
            "#/models/stg_orders?tab=quality",
            prepare=showing("[data-testid=check-sample]"),
        ),
        shot("ui-runs", "#/runs", prepare=showing("[data-testid=runs-table]")),
        shot("ui-run", "#/runs", prepare=showing("[data-testid=runs-table]", _latest_run)),
        shot(
            "ui-column-lineage",
            "#/lineage/customer_lifetime_value?column=segment",
            prepare=showing("[data-testid=lineage-graph] [data-column-node]"),
        ),
        shot("ui-streams", "#/streams", prepare=showing("[data-testid=streams-table]")),
        shot(
            "ui-stream",
            "#/streams/page_views",
            prepare=showing("[data-testid=recent-events] tbody tr"),
        ),
        shot("ui-trigger", "#/graph", prepare=showing(dag, _trigger)),
        shot("ui-dark", "#/graph", prepare=showing(dag, _dark)),
    )
