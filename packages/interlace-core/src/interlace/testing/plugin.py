"""The Interlace pytest plugin, registered through the ``pytest11`` entry point.

Fixtures:

- ``interlace_project``: an empty project in a temporary folder (DuckDB in ``data/dev.duckdb``)
  to write models into, run and query::

      def test_orders_are_counted(interlace_project):
          interlace_project.write({"models/n.sql": "select 42 as n"})
          interlace_project.run_ok()
          assert interlace_project.rows("n") == [{"n": 42}]

- ``run_project``: runs a real project folder end to end on a fresh copy (default: the project
  the test file lives in) and returns the :class:`~interlace.testing.ProjectRun`::

      def test_project_builds(run_project):
          run = run_project()
          assert run.result.success
          assert run.count("daily_revenue") > 0

This module is imported by every pytest run in an environment where Interlace is installed, so it
imports nothing heavy: the helpers load when a fixture is used. Disable it with
``-p no:interlace``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from interlace.testing.folder import ProjectFolder
    from interlace.testing.harness import ProjectRun


@pytest.fixture
def interlace_project(tmp_path: Path) -> ProjectFolder:
    """An empty Interlace project in ``tmp_path``: ``write`` models, ``run``, ``rows``."""
    from interlace.testing.folder import ProjectFolder

    return ProjectFolder.create(tmp_path / "interlace_project")


@pytest.fixture
def run_project(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., ProjectRun]:
    """``run_project(path=None, select=None, exclude=None, env=None, **run_options)``.

    Copies the project (default: the one around the test file) into ``tmp_path`` without its
    state and databases, runs it with ``interlace.run_sync`` and returns a ``ProjectRun``
    (``.result``, ``.rows(model)``, ``.query(sql)``, ``.table(model)``, ``.count(model)``).
    """
    from interlace.testing.harness import find_project
    from interlace.testing.harness import run_project as run

    counter = iter(range(1_000_000))

    def run_it(path: str | Path | None = None, *args: Any, **kwargs: Any) -> ProjectRun:
        source = find_project(request.path.parent) if path is None else Path(path)
        workdir = tmp_path / f"run{next(counter)}"
        workdir.mkdir()
        return run(source, *args, workdir=workdir, **kwargs)

    return run_it
