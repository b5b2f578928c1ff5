"""Real projects in ``tmp_path``: write models, run them (API or CLI), read what they wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import interlace
import pytest
from interlace.api import check_sync
from interlace.quality import CheckResult
from interlace.results import RunResult
from interlace.state import SQLiteStateStore
from interlace.state.base import StoredCheckResult

INTERLACE = Path(sys.executable).parent / "interlace"

CONFIG = """\
name: quality_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
executor:
  max_workers: 4
"""


class CLIResult:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code = code
        self.stdout = stdout
        self.stderr = stderr

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __repr__(self) -> str:
        return f"exit {self.code}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


class QualityProject:
    """A project folder under test."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, files: Mapping[str, str]) -> QualityProject:
        for rel, text in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return self

    def load(self) -> interlace.Project:
        return interlace.load_project(self.root)

    def run(self, select: Iterable[str] | None = None, **kwargs: Any) -> RunResult:
        return interlace.run_sync(
            self.root, select=list(select) if select is not None else None, **kwargs
        )

    def run_ok(self, select: Iterable[str] | None = None, **kwargs: Any) -> RunResult:
        result = self.run(select, **kwargs)
        problems = {n: (m.status, m.error) for n, m in result.models.items() if not m.ok}
        assert result.success, problems
        return result

    def check(self, select: Iterable[str] | None = None) -> list[CheckResult]:
        return check_sync(self.root, list(select) if select is not None else None)

    def checks_of(self, result: RunResult, model: str) -> dict[str, CheckResult]:
        return {c.name: c for c in result.models[model].checks}

    def stored(self, env: str = "dev") -> list[StoredCheckResult]:
        store = SQLiteStateStore(self.root / ".interlace" / "state.db")
        try:
            return store.quality_results(env)
        finally:
            store.close()

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.root / "data" / "dev.duckdb"), read_only=True) as con:
            return con.execute(query).fetchall()

    def interlace(self, *args: str) -> CLIResult:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLACE_")}
        for key in ("FORCE_COLOR", "COLUMNS", "LINES"):
            env.pop(key, None)
        env.update({"NO_COLOR": "1", "TERM": "dumb", "PYTHONUNBUFFERED": "1"})
        done = subprocess.run(
            [str(INTERLACE), *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return CLIResult(done.returncode, done.stdout, done.stderr)


MakeProject = Callable[..., QualityProject]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERLACE_ENV", raising=False)


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """``make_project({"models/a.sql": "..."}, config=...)``: a fresh project folder."""
    counter = iter(range(1_000))

    def make(files: Mapping[str, str] | None = None, *, config: str = CONFIG) -> QualityProject:
        root = tmp_path / f"project{next(counter)}"
        (root / "models").mkdir(parents=True)
        project = QualityProject(root)
        project.write({"config.yaml": config, **(files or {})})
        return project

    return make
