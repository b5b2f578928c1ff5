"""Real projects in ``tmp_path``: write models, run them, read what they wrote and checked."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest
from interlace.api import check_sync
from interlace.quality import CheckResult
from interlace.results import RunResult
from interlace.state import SQLiteStateStore
from interlace.state.base import StoredCheckResult
from interlace.testing import ProjectFolder

CONFIG = """\
name: quality_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
executor:
  max_workers: 4
"""


class QualityProject(ProjectFolder):
    """A project folder under test, with its quality checks and their stored results."""

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
        return QualityProject.create(root, config=config).write(files or {})

    return make
