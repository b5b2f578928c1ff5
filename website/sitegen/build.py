"""Where the website's sources are, and the strict build that ``./dev site``, CI and the tests
run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

WEBSITE = Path(__file__).resolve().parents[1]
REPO = WEBSITE.parent


def build_site(out: Path, config: Path = REPO / "mkdocs.yml") -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of ``config`` into ``out``; its output is in the result."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
