"""Helpers for behaviour tests of the `interlace` command.

Every test runs the real console script in a subprocess with ``cwd`` set to a folder under
``tmp_path``, then looks at the exit code, the text a person reads and the DuckDB file it wrote
(read with :class:`interlace.testing.ProjectFolder`, the base of :class:`Folder`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from interlace.testing import ProjectFolder
from interlace_service.testing import cli_env

INTERLACE = Path(sys.executable).parent / "interlace"

CONFIG = """\
name: test_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
executor:
  max_workers: 4
"""


class Result:
    """What one `interlace` invocation did."""

    def __init__(self, args: tuple[str, ...], code: int, stdout: str, stderr: str) -> None:
        self.args = args
        self.code = code
        self.stdout = stdout
        self.stderr = stderr

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def has_traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.output

    def __repr__(self) -> str:
        return (
            f"`interlace {' '.join(self.args)}` exited {self.code}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


class Folder(ProjectFolder):
    """A folder under test: write files into it, run `interlace` in it, read its database."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.processes: list[subprocess.Popen[str]] = []

    def sub(self, rel: str) -> Folder:
        """A folder below this one (it need not exist yet)."""
        return Folder(self.root / rel)

    def interlace(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 600
    ) -> Result:
        """Run ``interlace ARGS`` here and capture what it printed."""
        completed = subprocess.run(
            [str(INTERLACE), *args],
            cwd=self.root,
            env=cli_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(args, completed.returncode, completed.stdout, completed.stderr)

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        """Start ``interlace ARGS`` here without waiting (for signal tests)."""
        process = subprocess.Popen(
            [str(INTERLACE), *args],
            cwd=self.root,
            env=cli_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def stop_processes(self) -> None:
        """Kill what :meth:`start` started and a failing test left running."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.communicate()

    def copy_to(self, target: Path) -> Folder:
        """A copy of this folder (project files, database, state) at ``target``."""
        shutil.copytree(self.root, target)
        return Folder(target)

    def db(self, env: str = "dev") -> Path:
        """Where the default config keeps the environment's database (``data/{env}.duckdb``),
        whether or not the config accepts ``env``."""
        return self.root / "data" / f"{env}.duckdb"


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Folder]:
    """An empty folder (for `interlace init`)."""
    folder = Folder(tmp_path)
    yield folder
    folder.stop_processes()


def make_project(root: Path, files: Mapping[str, str] | None = None) -> Folder:
    """A project at ``root``: the default config, a `models/` folder and ``files``."""
    (root / "models").mkdir(parents=True)
    return Folder(root).write({"config.yaml": CONFIG, **(files or {})})


MakeProject = Callable[[str, Mapping[str, str]], Folder]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Folder]:
    """A project with a config and an empty `models/` folder; tests add the models."""
    project = make_project(tmp_path)
    yield project
    project.stop_processes()


@pytest.fixture(scope="session")
def shared_project(tmp_path_factory: pytest.TempPathFactory) -> MakeProject:
    """``shared_project(name, files)``: a project for module-scoped fixtures (built once)."""

    def make(name: str, files: Mapping[str, str]) -> Folder:
        return make_project(tmp_path_factory.mktemp(name), files)

    return make
