"""Shared helpers: build a real project in ``tmp_path``, run it, read its DuckDB file back."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import interlace
import pytest
from interlace.events import Event
from interlace.project import Project
from interlace.results import RunResult

DEFAULT_CONFIG = """\
name: test_project
connections:
  default:
    type: duckdb
    path: data/{env}.duckdb
executor:
  max_workers: 4
"""


class ProjectDir:
    """A project folder under test: write files, run it, look at what it produced."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, files: Mapping[str, str]) -> ProjectDir:
        """Write ``{relative path: text}``; text is dedented so tests can indent it freely."""
        for rel, text in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return self

    def remove(self, rel: str) -> None:
        (self.root / rel).unlink()

    def load(self, env: str | None = None) -> Project:
        return interlace.load_project(self.root, env=env)

    def run(
        self,
        select: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> RunResult:
        return interlace.run_sync(
            self.root,
            select=list(select) if select is not None else None,
            exclude=list(exclude) if exclude is not None else None,
            **kwargs,
        )

    def run_ok(self, select: Iterable[str] | None = None, **kwargs: Any) -> RunResult:
        """Run and fail the test with every model error if the run did not succeed."""
        result = self.run(select, **kwargs)
        problems = {
            name: (r.status, r.error, r.location, r.skip_reason)
            for name, r in result.models.items()
            if not r.ok
        }
        assert result.status == "success", problems
        return result

    def run_events(self, **kwargs: Any) -> tuple[RunResult, list[Event]]:
        events: list[Event] = []
        result = self.run(on_event=events.append, **kwargs)
        return result, events

    def db_path(self, env: str = "dev") -> Path:
        return self.root / "data" / f"{env}.duckdb"

    def sql(self, query: str, env: str = "dev") -> list[tuple[Any, ...]]:
        """Run ``query`` on the project's database, opened read-only after the run."""
        with duckdb.connect(str(self.db_path(env)), read_only=True) as con:
            return con.execute(query).fetchall()

    def rows(self, table: str, order_by: str = "ALL", env: str = "dev") -> list[dict[str, Any]]:
        with duckdb.connect(str(self.db_path(env)), read_only=True) as con:
            cursor = con.execute(f"SELECT * FROM {table} ORDER BY {order_by}")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def count(self, table: str, env: str = "dev") -> int:
        return int(self.sql(f"SELECT count(*) FROM {table}", env)[0][0])

    def columns(self, table: str, schema: str = "main", env: str = "dev") -> dict[str, str]:
        """``{column: DuckDB type}`` of a relation, in column order."""
        rows = self.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = '{schema}' AND table_name = '{table}' "
            "ORDER BY ordinal_position",
            env,
        )
        return dict(rows)  # type: ignore[arg-type]

    def relations(self, env: str = "dev") -> dict[str, str]:
        """``{schema.name: 'BASE TABLE' | 'VIEW'}`` of everything in the database."""
        rows = self.sql(
            "SELECT table_schema || '.' || table_name, table_type FROM information_schema.tables",
            env,
        )
        return dict(rows)  # type: ignore[arg-type]


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
        project = ProjectDir(root)
        if config is not None:
            project.write({"config.yaml": config})
        (root / "models").mkdir()
        project.write(files or {})
        return project

    return make
