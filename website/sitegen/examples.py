"""The landing page's examples, run when the site is built: nothing on it is typed by hand.

``<!-- interlace:example NAME -->`` in a page is replaced by the output of a real run:

- ``init``: ``interlace init shop`` and ``interlace run`` in a temporary folder, with the files
  of the new project that matter (the 60-second example);
- ``quickstart``: ``interlace run`` of a fresh copy of ``examples/quickstart``.

Both run as subprocesses of this interpreter (``python -m interlace_cli.main``), in parallel,
started once per build process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

MARKER = re.compile(r"<!-- interlace:example (?P<name>[\w-]+) -->")
# files of the `interlace init` project shown on the landing page, in this order
INIT_FILES = ("models/staging.sql", "models/marts.py")

_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="site-examples")
_started: dict[str, Future[str]] = {}


def start(repo: Path, docs: Path | None = None) -> None:
    """Start the runs (once per process: ``mkdocs serve`` rebuilds reuse them); with
    ``docs``, only when one of its pages has a marker."""
    if docs is not None and not any(
        MARKER.search(page.read_text(encoding="utf-8")) for page in docs.rglob("*.md")
    ):
        return
    if not _started:
        _started["init"] = _pool.submit(_init_example)
        _started["quickstart"] = _pool.submit(_quickstart, repo / "examples" / "quickstart")


def fill(markdown: str, repo: Path) -> str:
    """``markdown`` with every example marker replaced by its run's output."""

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        start(repo)
        if name not in _started:
            raise ValueError(f"unknown example marker {match[0]!r}: use one of {sorted(_started)}")
        return _started[name].result()

    return MARKER.sub(replace, markdown)


def _interlace(*args: str, cwd: Path) -> str:
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "100"}
    env.pop("INTERLACE_ENV", None)
    done = subprocess.run(
        [sys.executable, "-m", "interlace_cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"`interlace {' '.join(args)}` failed (exit {done.returncode}) while building the "
            f"landing page:\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout.rstrip()


def _init_example() -> str:
    with tempfile.TemporaryDirectory(prefix="interlace-site-") as folder:
        here = Path(folder)
        created = _interlace("init", "shop", cwd=here)
        project = here / "shop"
        ran = _interlace("run", cwd=project)
        files = [
            f'```{"sql" if name.endswith(".sql") else "python"} title="{name}"\n'
            f"{(project / name).read_text().rstrip()}\n```"
            for name in INIT_FILES
        ]
    return "\n\n".join(
        [
            f"```console\n$ interlace init shop\n{created}\n$ cd shop\n```",
            *files,
            f"```console\n$ interlace run\n{ran}\n```",
        ]
    )


def _quickstart(source: Path) -> str:
    with tempfile.TemporaryDirectory(prefix="interlace-site-") as folder:
        project = Path(folder) / "quickstart"
        shutil.copytree(
            source, project, ignore=shutil.ignore_patterns("data", ".interlace", "__pycache__")
        )
        ran = _interlace("run", cwd=project)
    return f"```console\n$ interlace run\n{ran}\n```"
