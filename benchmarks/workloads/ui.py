"""ui: the web UI in headless Chromium (Debian's, through playwright), against a real
``interlace serve`` of projects made by the ``dag`` workload's generator.

* **dag-1000**: the pipeline page of a 1,000-model project: from the graph's data arriving to
  the laid-out graph drawn (ELK's layout in its worker, loaded on first use, plus rendering),
  median of ``reps`` page loads (target <= 2 s); the time from navigation to the drawn graph is
  printed beside it.
* **initial-js**: the JavaScript the first page loads (``index.html``'s scripts and module
  preloads), gzipped (target <= 250 KB); ELK is not part of it (it loads in the worker).
* **live-200**: the pipeline page of a 200-model project (smoke: 50) open while a forced run of
  every model goes: the longest task the page's main thread ran during the run, by the Long Tasks
  API (which reports tasks over 50 ms; target: none, i.e. <= 50 ms), and that every node ended
  green.

Needs the UI built (``apps/ui/dist``) and chromium installed.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.core import REPO_ROOT, Bench, Figure, median, subprocess_env, write_files
from benchmarks.served import discovered
from benchmarks.workloads.dag import generate, write_project
from benchmarks.workloads.startup import interlace_command

UI_BUILD = REPO_ROOT / "apps" / "ui" / "dist"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
SERVICE_CONFIG = """
service:
  rate_limit:
    per_key: {rate: 1000000/s, burst: 1000000}
"""


class UIServer:
    """``interlace serve --port 0`` (with the UI) in ``root``: its URL and the local key."""

    def __init__(self, root: Path) -> None:
        self.log_path = root / "serve.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [*interlace_command(), "serve", "--port", "0", "--no-scheduler"],
            cwd=root,
            env=subprocess_env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        info = discovered(self.process, root, self.log_path)
        self.url: str = info["url"]
        self.token: str = info["token"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def initial_js_bytes(dist: Path) -> tuple[int, list[str]]:
    """Gzipped bytes of the JavaScript ``index.html`` loads up front, and those files."""
    html = (dist / "index.html").read_text()
    files = re.findall(r'<script[^>]+src="\.?/?([^"]+\.js)"', html)
    files += re.findall(r'<link[^>]+rel="modulepreload"[^>]+href="\.?/?([^"]+\.js)"', html)
    total = sum(len(gzip.compress((dist / f).read_bytes(), 9)) for f in files)
    return total, files


def _project(bench: Bench, name: str, n: int) -> Path:
    root = bench.folder(name)
    write_project(root, generate(n))
    write_files(root, {"config.yaml": (root / "config.yaml").read_text() + SERVICE_CONFIG})
    return root


def _sign_in(page: Any, server: UIServer) -> None:
    page.goto(server.url + "/")
    page.locator("#api-key").fill(server.token)
    page.get_by_role("button", name="Sign in").click()
    page.locator("header").wait_for()


def _graph_times(
    page: Any, server: UIServer, n: int, reps: int
) -> tuple[list[float], list[float], list[float]]:
    """Per page load, in seconds: data -> drawn graph, navigation -> drawn graph, and data ->
    laid out (ELK)."""
    layout: list[float] = []
    total: list[float] = []
    elk: list[float] = []
    for _ in range(reps):
        page.goto(server.url + "/#/graph")
        page.reload()
        page.wait_for_function("() => window.__graphRenderMs !== undefined", timeout=120_000)
        drawn = page.locator("[data-testid=dag] [data-model]").count()
        if drawn != n:
            raise RuntimeError(f"the graph drew {drawn} nodes, expected {n}")
        layout.append(page.evaluate("window.__graphRenderMs") / 1000)
        elk.append(page.evaluate("window.__graphLayoutMs") / 1000)
        mark = page.evaluate(
            "performance.getEntriesByName('interlace:graph-rendered').at(-1).startTime"
        )
        total.append(mark / 1000)
    return layout, total, elk


def _live_run(page: Any, server: UIServer, n: int) -> dict[str, Any]:
    page.goto(server.url + "/#/graph")
    page.reload()
    page.wait_for_function("() => window.__graphRenderMs !== undefined", timeout=120_000)
    page.locator("[data-testid=live-indicator][data-connected=true]").wait_for()
    page.evaluate(
        """() => {
            window.__long = [];
            new PerformanceObserver((list) => {
                for (const entry of list.getEntries()) window.__long.push(entry.duration);
            }).observe({type: 'longtask'});
        }"""
    )
    import urllib.request

    request = urllib.request.Request(
        server.url + "/api/v1/runs",
        data=json.dumps({"force": True}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        run_id = json.loads(response.read())["id"]
    started = time.monotonic()
    page.wait_for_function(
        f"""() => {{
            const nodes = [...document.querySelectorAll('[data-testid=dag] [data-model]')];
            return nodes.length === {n} && nodes.every(n => n.dataset.status === 'success');
        }}""",
        timeout=600_000,
        polling=250,
    )
    seconds = time.monotonic() - started
    long_tasks: list[float] = page.evaluate("window.__long")
    return {"run_id": run_id, "seconds": seconds, "long_tasks": long_tasks}


def run(bench: Bench) -> list[Figure]:
    if not (UI_BUILD / "index.html").is_file():
        raise RuntimeError("the web UI is not built: cd apps/ui && npm ci && npm run build")
    executable = shutil.which("chromium") or shutil.which("/usr/bin/chromium")
    if executable is None:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    big = int(bench.options.get("models", bench.pick(1000, 1000, 200)))
    live_n = int(bench.options.get("live_models", bench.pick(200, 200, 50)))
    figures: list[Figure] = []

    js_bytes, js_files = initial_js_bytes(UI_BUILD)
    bench.log(f"initial JavaScript: {', '.join(js_files)}")
    figures.append(
        Figure(
            "ui",
            "initial-js (gzipped)",
            None,
            None,
            kind="kb",
            value=js_bytes / 1024,
            target=250.0,
            note=f"{len(js_files)} file(s); ELK loads later, in a worker",
        )
    )

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            root = _project(bench, "dag", big)
            server = UIServer(root)
            try:
                _sign_in(page, server)
                layout, total, elk = _graph_times(page, server, big, bench.reps)
            finally:
                server.stop()
            figures.append(
                Figure(
                    "ui",
                    f"dag-{big} layout+render",
                    median(layout),
                    None,
                    kind="seconds",
                    target=2.0,
                    n=big,
                    samples={"layout": layout, "navigation": total},
                    note=f"ELK layout {median(elk) or 0:.2f} s of it; "
                    f"from navigation {median(total) or 0:.2f} s",
                )
            )

            root = _project(bench, "live", live_n)
            server = UIServer(root)
            try:
                _sign_in(page, server)
                live = _live_run(page, server, live_n)
            finally:
                server.stop()
            longest = max(live["long_tasks"], default=0.0)
            figures.append(
                Figure(
                    "ui",
                    f"live-{live_n} longest task",
                    None,
                    None,
                    kind="ms",
                    value=max(longest, 0.0),
                    target=50.0,
                    n=live_n,
                    note=f"{len(live['long_tasks'])} long task(s) during a "
                    f"{live['seconds']:.1f} s run",
                )
            )
        finally:
            browser.close()
    return figures
