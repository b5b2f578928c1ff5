"""Run a real project folder end to end, on a copy (:class:`ProjectFolder` builds one from
strings: :mod:`interlace.testing.folder`).

Example::

    run = run_project("examples/quickstart", workdir=tmp_path)
    assert run.result.success
    assert run.count("daily_revenue") == 366
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.errors import InterlaceError
from interlace.testing.folder import DEFAULT_CONFIG, ProjectFolder, assert_success

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pyarrow as pa

    from interlace.results import RunResult

__all__ = [
    "DEFAULT_CONFIG",
    "ProjectFolder",
    "ProjectRun",
    "assert_success",
    "find_project",
    "run_project",
]

CONFIG_NAMES = ("config.yaml", "interlace.yaml")
# left out when a project is copied for a test: state, databases, caches
COPY_IGNORE = (".interlace", "*.duckdb", "*.duckdb.wal", "__pycache__", ".pytest_cache", ".venv")


@dataclass
class ProjectRun:
    """A finished run of a project folder: the result and the folder to query."""

    result: RunResult
    folder: ProjectFolder

    @property
    def root(self) -> Path:
        return self.folder.root

    def query(self, sql: str, connection: str | None = None) -> list[dict[str, Any]]:
        return self.folder.query(sql, connection)

    def table(self, name: str) -> pa.Table:
        return self.folder.table(name)

    def rows(self, name: str, order_by: str | None = None) -> list[dict[str, Any]]:
        return self.folder.rows(name, order_by)

    def count(self, name: str) -> int:
        return self.folder.count(name)


def find_project(start: str | Path | None = None) -> Path:
    """The project folder for a test: ``$INTERLACE_PROJECT`` (set by ``interlace test``), else
    the nearest folder at or above ``start`` with a config file."""
    configured = os.environ.get("INTERLACE_PROJECT")
    if configured:
        return Path(configured).resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in [here, *here.parents] if here.is_dir() else list(here.parents):
        if any((folder / name).is_file() for name in CONFIG_NAMES):
            return folder
    raise InterlaceError(
        f"no Interlace project (config.yaml) at or above {here}",
        hint="pass the project folder: run_project('path/to/project')",
    )


def run_project(
    path: str | Path | None = None,
    select: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    *,
    workdir: str | Path | None = None,
    env: str | None = None,
    **kwargs: Any,
) -> ProjectRun:
    """Run a real project folder end to end and return the result and a folder to query.

    With ``workdir`` the project is first copied there (without its state and databases), so the
    run starts from scratch and never touches the original; without it, it runs in place.
    """
    source = find_project(path) if path is None else Path(path).resolve()
    if not source.is_dir():
        raise InterlaceError(f"project folder {source} does not exist")
    root = source
    if workdir is not None:
        root = Path(workdir).resolve() / source.name
        shutil.copytree(source, root, ignore=shutil.ignore_patterns(*COPY_IGNORE))
    folder = ProjectFolder(root, env)
    return ProjectRun(folder.run(select, exclude, **kwargs), folder)
