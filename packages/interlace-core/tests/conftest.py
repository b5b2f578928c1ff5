"""Shared helpers: build a real project in ``tmp_path``, run it, read its DuckDB file back
(with :class:`interlace.testing.ProjectFolder`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from interlace.testing import ProjectFolder

DEFAULT_CONFIG = """\
name: test_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
executor:
  max_workers: 4
"""


# the tests' name for the one project-folder helper (type hints import it from here)
ProjectDir = ProjectFolder

MakeProject = Callable[..., ProjectDir]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERLACE_ENV", raising=False)


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """``make_project({"models/a.sql": "..."}, config=...)`` -> a :class:`ProjectDir`.

    Each call creates a fresh folder; ``config=None`` writes no config file at all.
    """
    counter = iter(range(1_000))

    def make(
        files: Mapping[str, str] | None = None, *, config: str | None = DEFAULT_CONFIG
    ) -> ProjectDir:
        root = tmp_path / f"project{next(counter)}"
        root.mkdir()
        return ProjectFolder.create(root, config=config).write(files or {})

    return make
