"""`interlace run --quality-only` and check lines in `interlace run` output (the CLI side of
interlace-quality)."""

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


SHOP = {
    "models/shop.sql": """
        -- @name: customers
        -- @quality_checks: [{unique: id}, {row_count: {max: 5}, severity: warn}]
        SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, name)

        -- @name: orders
        -- @quality_checks: [{not_null: customer_id}]
        SELECT * FROM (VALUES (10, 1), (11, 2)) AS t(id, customer_id)

        -- @name: summary
        SELECT count(*) AS n FROM orders
    """
}


def _tamper(project: QualityProject, *statements: str) -> None:
    """Change published data behind Interlace's back (a manual fix, another tool...)."""
    with duckdb.connect(str(project.root / "data" / "dev.duckdb")) as con:
        for statement in statements:
            con.execute(statement)


def test_quality_only_cli_prints_checks_by_model_and_fails_on_an_error_check(
    make_project: MakeProject,
) -> None:
    project = make_project(SHOP)
    assert project.interlace("run").code == 0
    _tamper(project, "INSERT INTO orders VALUES (12, NULL), (13, NULL)")

    done = project.interlace("run", "--quality-only")

    assert done.code == 1, done
    assert "Traceback" not in done.output
    lines = done.stdout.splitlines()
    assert "  customers" in lines
    assert "    ✓ unique(id)" in lines
    assert "    ✓ row_count(max=5) (warn)" in lines
    assert (
        "    ✗ not_null(customer_id): 2 row(s) have NULL in customer_id  "
        "e.g. {id: 12, customer_id: None}"
    ) in lines
    assert "Failed in" in done.stdout and "1 error check(s) failed, 2 passed" in done.stdout
    assert project.sql("SELECT count(*) FROM orders") == [(4,)]  # not rebuilt


def test_quality_only_cli_exits_0_when_only_warn_checks_fail_and_honours_the_selection(
    make_project: MakeProject,
) -> None:
    project = make_project(SHOP)
    assert project.interlace("run").code == 0
    _tamper(project, "INSERT INTO customers SELECT range + 10, 'x' FROM range(5)")

    done = project.interlace("run", "--quality-only", "customers")

    assert done.code == 0, done
    assert "quality checks of 1 model(s)" in done.stdout
    assert "    ! row_count(max=5) (warn): 7 row(s), more than the maximum 5" in done.stdout
    assert "orders" not in done.stdout
    assert "1 passed, 1 warning(s)" in done.stdout


def test_quality_only_refuses_options_that_build(make_project: MakeProject) -> None:
    project = make_project(SHOP)
    done = project.interlace("run", "--quality-only", "--full-refresh")
    assert done.code == 1
    assert (
        "error: --quality-only checks the existing tables; it cannot be combined with "
        "--full-refresh"
    ) in done.stderr


def test_run_output_lists_checks_under_their_model(make_project: MakeProject) -> None:
    project = make_project(
        {
            "models/shop.sql": """
                -- @name: orders
                -- @quality_checks: [{unique: id}, {accepted_values: {column: status, values: [new]}, severity: warn}]
                SELECT * FROM (VALUES (1, 'new'), (2, 'lost')) AS t(id, status)

                -- @name: broken
                -- @quality_checks: [{expression: "amount > 0"}]
                SELECT -5 AS amount
            """
        }
    )
    done = project.interlace("run")
    assert done.code == 1, done
    assert "Traceback" not in done.output
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  ✓ orders"))
    assert lines[at + 1 : at + 3] == [
        "    ✓ unique(id)",
        "    ! accepted_values(status) (warn): 1 row(s) have a status outside ['new']  "
        "e.g. {id: 2, status: 'lost'}",
    ]
    failed = next(i for i, line in enumerate(lines) if line.startswith("  ✗ broken"))
    assert lines[failed + 1] == (
        "    ✗ expression(amount > 0): 1 row(s) where amount > 0 is not true  e.g. {amount: -5}"
    )


def test_a_bad_check_declaration_is_a_clean_cli_error(make_project: MakeProject) -> None:
    project = make_project(
        {"models/orders.sql": "-- @quality_checks: [{uniqe: id}]\nSELECT 1 AS id\n"}
    )
    for args in (("run",), ("run", "--quality-only")):
        done = project.interlace(*args)
        assert done.code == 1
        assert "Traceback" not in done.output
        assert (
            "error: models/orders.sql:1: model 'orders': quality check #1 {'uniqe': 'id'}: "
            "unknown check type 'uniqe'"
        ) in done.stderr
        assert "hint: did you mean 'unique'?" in done.stderr
