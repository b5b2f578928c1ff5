"""`interlace serve` as a process: `interlace run` beside it submits to it and follows the run
(same output, same exit code); SIGTERM drains running runs and exits 0; `interlace state
prune` applies the retention settings."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from interlace.state import SQLiteStateStore
from interlace_service.testing import SLOW_MODEL, ServeProcess, wait_for

if TYPE_CHECKING:
    from conftest import Folder

MODELS = {
    "models/orders.sql": "SELECT * FROM (VALUES (1, 10.0), (2, 20.0)) AS t(id, amount)",
    "models/revenue.sql": "SELECT sum(amount) AS total FROM orders",
    "models/slow.py": SLOW_MODEL,
}


@pytest.fixture
def served(project: Folder) -> Iterator[ServeProcess]:
    project.write(MODELS)
    with ServeProcess(project.root) as server:
        yield server


def test_run_beside_a_server_is_submitted_to_it_with_the_same_output_and_exit_code(
    served: ServeProcess, project: Folder
) -> None:
    done = project.interlace("run", "+revenue")

    assert done.code == 0, done
    assert "holds this project: the run is submitted to it and followed here" in done.stdout
    assert "✓ orders  2 rows" in done.stdout and "✓ revenue  1 row" in done.stdout
    assert "Done in" in done.stdout and "2 succeeded, 0 failed" in done.stdout
    status, history = served.call("GET", "/api/v1/runs?limit=1")
    assert status == 200 and history["items"][0]["status"] == "success"
    assert history["items"][0]["requested_by"].startswith("key:serve-local-cli-")

    project.write({"models/broken.sql": "SELECT no_such_column FROM orders"})
    failed = project.interlace("run", "broken")  # a model added since the server started

    assert failed.code == 1, failed
    assert "✗ broken" in failed.stdout and "no_such_column" in failed.stdout
    assert "0 succeeded, 1 failed" in failed.stdout
    typo = project.interlace("run", "revenu")
    assert typo.code == 1 and "did you mean revenue" in typo.stderr and not typo.has_traceback

    code, output = served.stop()
    assert code == 0, output
    assert "stopped" in output
    assert not served.discovery.exists()
    local = project.interlace("run", "orders")  # no server: a local run again
    assert local.code == 0 and "submitted" not in local.stdout


def test_sigterm_lets_a_running_run_finish_then_exits_0(
    served: ServeProcess, project: Folder
) -> None:
    status, run = served.call("POST", "/api/v1/runs", {"select": ["slow"]})
    assert status == 202, run
    wait_for((project.root / "slow.started").exists, 60, "slow to start")

    served.terminate()
    wait_for(lambda: not served.discovery.exists(), 30, "the server to stop taking runs")
    (project.root / "slow.gate").write_text("")
    code, output = served.wait(timeout=60)

    assert code == 0, output
    assert "1 running get up to 60 s to finish" in output
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        record = store.get_run(run["id"])
        request = store.get_run_request(run["id"])
    finally:
        store.close()
    assert record is not None and record.status == "success"
    assert request is not None and (request.status, request.lease_owner) == ("done", None)


def test_a_run_still_going_after_the_grace_period_is_cancelled(project: Folder) -> None:
    project.write(MODELS)
    with ServeProcess(project.root, "--grace", "0.2s") as served:
        status, run = served.call("POST", "/api/v1/runs", {"select": ["slow"]})
        assert status == 202, run
        wait_for((project.root / "slow.started").exists, 60, "slow to start")

        code, output = served.stop()

    assert code == 0, output
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        record = store.get_run(run["id"])
        request = store.get_run_request(run["id"])
    finally:
        store.close()
    assert record is not None and record.status == "cancelled"
    assert request is not None and request.status == "cancelled"


def test_state_prune_forgets_runs_and_events_past_retention(project: Folder) -> None:
    project.write({"models/orders.sql": "SELECT 1 AS id"})
    assert project.interlace("run").code == 0
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        long_ago = time.time() - 200 * 86400
        store.start_run("ancient", "test_project", "dev", "", 1, long_ago)
        store.finish_run("ancient", "success", long_ago + 1, 1, 0, 0, None)
        store.add_event("dev", "ancient", "run.started", long_ago, "{}")
    finally:
        store.close()

    pruned = project.interlace("state", "prune")

    assert pruned.code == 0, pruned
    assert "pruned 1 run(s)" in pruned.stdout and "and 1 event(s)" in pruned.stdout
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        assert store.get_run("ancient") is None
        assert len(store.list_runs()) == 1
    finally:
        store.close()
    bad = project.interlace("state", "prune", "--runs", "soon")
    assert bad.code == 2 and "invalid duration 'soon'" in bad.stderr


def test_help_lists_serve_and_state_without_importing_aiohttp(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from interlace_cli.main import cli\n"
        "try:\n"
        "    cli(['--help'], prog_name='interlace')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('aiohttp loaded' if 'aiohttp' in sys.modules else 'aiohttp not loaded')\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("INTERLACE_")},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert "serve" in shown.stdout and "state" in shown.stdout
    assert shown.stdout.rstrip().endswith("aiohttp not loaded"), shown.stdout
