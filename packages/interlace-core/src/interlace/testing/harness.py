"""Whole-project test helpers: build a project from strings, or run a real one on a copy.

Example::

    folder = ProjectFolder.create(tmp_path / "shop")
    folder.write({"models/orders.sql": "select 1 as id"})
    folder.run_ok()
    assert folder.rows("orders") == [{"id": 1}]

    run = run_project("examples/quickstart", workdir=tmp_path)
    assert run.result.success
    assert run.count("daily_revenue") == 366
"""

from __future__ import annotations

import os
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.errors import InterlaceError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    import pyarrow as pa

    from interlace.project import Project
    from interlace.results import RunResult

DEFAULT_CONFIG = """\
name: test_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
"""
CONFIG_NAMES = ("config.yaml", "interlace.yaml")
# left out when a project is copied for a test: state, databases, caches
COPY_IGNORE = (".interlace", "*.duckdb", "*.duckdb.wal", "__pycache__", ".pytest_cache", ".venv")


class ProjectFolder:
    """A project folder under test: write files into it, run it, read what it built."""

    def __init__(self, root: str | Path, env: str | None = None) -> None:
        self.root = Path(root).resolve()
        self.env = env
        self._project: Project | None = None

    @classmethod
    def create(
        cls, root: str | Path, *, config: str | None = DEFAULT_CONFIG, env: str | None = None
    ) -> ProjectFolder:
        """A new project at ``root`` with ``config`` (DuckDB in ``data/{env}.duckdb``) and an
        empty ``models/`` folder."""
        folder = cls(root, env)
        (folder.root / "models").mkdir(parents=True, exist_ok=True)
        if config is not None:
            folder.write({"config.yaml": config})
        return folder

    # ------------------------------------------------------------------ files

    def write(self, files: Mapping[str, str]) -> ProjectFolder:
        """Write ``{relative path: text}``; text is dedented, so tests can indent it."""
        for rel, text in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        self._project = None
        return self

    # ------------------------------------------------------------------ running

    def load(self) -> Project:
        """The project as it is on disk now (cached until files are written)."""
        from interlace.project import load_project

        if self._project is None:
            self._project = load_project(self.root, env=self.env)
        return self._project

    def run(
        self,
        select: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> RunResult:
        """Run the project (``interlace.run_sync``); model failures are in the result."""
        from interlace.api import run_sync

        self._project = None  # model files may have changed on disk
        return run_sync(
            self.load(),
            list(select) if select is not None else None,
            list(exclude) if exclude is not None else None,
            **kwargs,
        )

    def run_ok(
        self,
        select: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> RunResult:
        """Run and raise AssertionError naming every model that did not succeed."""
        result = self.run(select, exclude, **kwargs)
        assert_success(result)
        return result

    # ------------------------------------------------------------------ reading

    def query(self, sql: str, connection: str | None = None) -> list[dict[str, Any]]:
        """Rows of ``sql`` on a connection of the project (default: the default connection)."""
        rows: list[dict[str, Any]] = self.arrow(sql, connection).to_pylist()
        return rows

    def arrow(self, sql: str, connection: str | None = None) -> pa.Table:
        """``sql`` on a connection of the project, as a pyarrow Table."""
        from interlace.opening import open_engines

        project = self.load()
        name = connection or project.config.default_connection
        engine = open_engines(project, [name])[name]
        try:
            session = engine.session()
            try:
                return session.fetch_arrow(sql)
            finally:
                session.close()
        finally:
            engine.close()

    def table(self, name: str) -> pa.Table:
        """A model's table (by model name or ``schema.name``) as a pyarrow Table."""
        return self.arrow(f"SELECT * FROM {self._relation(name)}", self._connection_of(name))

    def rows(self, name: str, order_by: str | None = None) -> list[dict[str, Any]]:
        """A model's rows as dicts, optionally ordered (``order_by="id"``)."""
        order = f" ORDER BY {order_by}" if order_by else ""
        return self.query(f"SELECT * FROM {self._relation(name)}{order}", self._connection_of(name))

    def count(self, name: str) -> int:
        rows = self.query(
            f"SELECT count(*) AS n FROM {self._relation(name)}", self._connection_of(name)
        )
        return int(rows[0]["n"])

    def _relation(self, name: str) -> str:
        project = self.load()
        key = project.aliases.get(name, name)
        if key in project.models:
            spec = project.models[key]
            return f'"{spec.schema}"."{spec.name}"'
        return name

    def _connection_of(self, name: str) -> str | None:
        project = self.load()
        key = project.aliases.get(name, name)
        return project.models[key].connection if key in project.models else None


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


def assert_success(result: RunResult) -> None:
    """Raise AssertionError listing every model that failed or was skipped for a failure."""
    if result.success:
        return
    problems = [
        f"{m.name}: {m.status}: {m.error or m.skip_reason or ''}"
        for m in result.models.values()
        if not m.ok
    ]
    detail = "\n  ".join(problems) or (result.error or result.status)
    raise AssertionError(f"the run did not succeed:\n  {detail}")


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
