"""`interlace schema` and `interlace dlq` against projects built through the Python API."""

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
from interlace.events import Event
from interlace.project import Project
from interlace.results import RunResult
from interlace.state import SQLiteStateStore
from interlace.state.base import DeadLetter

INTERLACE = Path(sys.executable).parent / "interlace"

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


BASE = "SELECT * FROM (VALUES (1::INTEGER, 'a', 10::INTEGER)) AS t(id, v, n)"
CHANGES = {
    "added": "SELECT * FROM (VALUES (2::INTEGER, 'b', 20::INTEGER, 'x')) AS t(id, v, n, x)",
    "removed": "SELECT * FROM (VALUES (2::INTEGER, 'b')) AS t(id, v)",
    "widened": "SELECT * FROM (VALUES (2::INTEGER, 'b', 20::BIGINT)) AS t(id, v, n)",
    "varchar_to_int": "SELECT * FROM (VALUES (2::INTEGER, 5::INTEGER, 20::INTEGER)) AS t(id, v, n)",
    "int_to_varchar": "SELECT * FROM (VALUES (2::INTEGER, 'b', 'abc')) AS t(id, v, n)",
}


def model_sql(strategy: str, mode: str | None, query: str) -> str:
    header = f"-- @strategy: {strategy}\n"
    if mode is not None:
        header += f"-- @schema_mode: {mode}\n"
    return header + query + "\n"


# Fails while the number in `failures_left` is above zero, counting down on every attempt.
FLAKY = """
from pathlib import Path

from interlace import model
from interlace.retry import RetryPolicy

ROOT = Path(__file__).parent.parent

@model({options})
def flaky():
    counter = ROOT / "failures_left"
    left = int(counter.read_text()) if counter.exists() else 0
    with (ROOT / "attempts.log").open("a") as log:
        log.write("x")
    if left > 0:
        counter.write_text(str(left - 1))
        raise ConnectionError(f"upstream API unavailable ({{left}} failures left)")
    return [{{"id": 1, "status": "ok"}}]
"""

POLICY = "retry_policy=RetryPolicy(max_attempts=3, initial_delay=0, jitter=0)"


def flaky_project(make_project: MakeProject, failures: int, options: str = POLICY) -> ProjectDir:
    project = make_project(
        {
            "models/flaky.py": FLAKY.format(options=options),
            "models/downstream.sql": "SELECT id, status FROM flaky",
        }
    )
    project.write({"failures_left": str(failures)})
    return project


def dead_letters(project: ProjectDir, status: str | None = None) -> list[DeadLetter]:
    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        return store.dead_letters("dev", status)
    finally:
        store.close()


# ---------------------------------------------------------------------------- CLI


def interlace_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLACE_")}
    env.update({"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"})
    return subprocess.run(
        [str(INTERLACE), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_schema_history_and_diff_show_every_recorded_version(make_project: MakeProject) -> None:
    project = make_project({"models/m.sql": model_sql("append", "safe", BASE)})
    project.run_ok()
    project.write(
        {
            "models/m.sql": model_sql(
                "append",
                "safe",
                "SELECT * FROM (VALUES (2::INTEGER, 'b', 20::BIGINT, 'x')) AS t(id, v, n, x)",
            )
        }
    )
    project.run_ok()
    project.run_ok(force=True)  # same schema again: no new version
    # a blocked change records nothing
    project.write({"models/m.sql": model_sql("append", "strict", CHANGES["removed"])})
    assert project.run().models["m"].status == "failed"

    store = SQLiteStateStore(project.root / ".interlace" / "state.db")
    try:
        recorded = store.schema_versions("dev", "m")
    finally:
        store.close()
    assert [(v.version, v.change) for v in recorded] == [
        (1, "created"),
        (2, "+x VARCHAR, ~n INTEGER -> BIGINT"),
    ]

    history = interlace_cli(project.root, "schema", "history", "m")
    assert history.returncode == 0, history.stderr
    cells = [
        [cell.strip() for cell in line.split("\u2502")[1:-1]]
        for line in history.stdout.splitlines()
        if line.startswith("\u2502")
    ]
    rows = [(c[0], c[3], c[4]) for c in cells]
    assert rows == [
        ("1", "id INTEGER, v VARCHAR, n INTEGER", "created"),
        ("2", "id INTEGER, v VARCHAR, n BIGINT, x VARCHAR", "+x VARCHAR, ~n INTEGER -> BIGINT"),
    ]

    diff = interlace_cli(project.root, "schema", "diff", "m", "--from", "1", "--to", "2")
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout.splitlines() == [
        "m: v1 -> v2",
        "  ~ n INTEGER -> BIGINT",
        "  + x VARCHAR",
    ]
    same = interlace_cli(project.root, "schema", "diff", "m", "--from", "2", "--to", "2")
    assert same.stdout.splitlines() == ["m: v2 -> v2", "  (no differences)"]

    missing = interlace_cli(project.root, "schema", "diff", "m", "--from", "1", "--to", "3")
    assert missing.returncode == 2
    assert "'m' has no schema version 3 (versions 1..2)" in missing.stdout + missing.stderr
    assert "Traceback" not in missing.stdout + missing.stderr


def test_schema_history_of_a_model_that_never_ran_says_so(make_project: MakeProject) -> None:
    project = make_project({"models/m.sql": BASE})
    history = interlace_cli(project.root, "schema", "history", "m")
    assert history.returncode == 0, history.stderr
    assert "no schema versions recorded for 'm'" in history.stdout


# ---------------------------------------------------------------------------- CLI


def table_rows(output: str) -> list[list[str]]:
    """The body rows of a rich table, as lists of stripped cells."""
    return [
        [cell.strip() for cell in line.split("\u2502")[1:-1]]
        for line in output.splitlines()
        if line.startswith("\u2502")
    ]


def test_dlq_cli_lists_shows_resolves_and_retries_dead_letters(make_project: MakeProject) -> None:
    project = flaky_project(make_project, failures=6)
    project.run()  # 3 attempts: 3 failures left
    project.run()  # 3 more: 0 left, but still failed
    first, second = sorted(dead_letters(project), key=lambda letter: letter.id)

    listed = interlace_cli(project.root, "dlq", "list")
    assert listed.returncode == 0, listed.stderr
    rows = table_rows(listed.stdout)
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        (str(second.id), "flaky", "3", "open"),
        (str(first.id), "flaky", "3", "open"),
    ]
    assert rows[1][5] == "ConnectionError: upstream API unavailable (4 failures left)"

    shown = interlace_cli(project.root, "dlq", "show", str(first.id))
    assert shown.returncode == 0, shown.stderr
    fields = dict(
        (line[:11].strip(), line[12:]) for line in shown.stdout.splitlines() if line[:1] != " "
    )
    assert fields["model"] == "flaky"
    assert fields["run_id"] == first.run_id
    assert fields["status"] == "open"
    assert fields["attempts"] == "3"
    assert fields["location"] == "models/flaky.py:16"
    assert "ConnectionError: upstream API unavailable" in fields["error"]
    assert "traceback:" in shown.stdout and "raise ConnectionError" in shown.stdout

    resolved = interlace_cli(
        project.root, "dlq", "resolve", str(first.id), "--note", "known outage"
    )
    assert resolved.returncode == 0, resolved.stderr
    assert "resolved 1 dead letter(s)" in resolved.stdout
    after = {letter.id: letter for letter in dead_letters(project)}
    assert (after[first.id].status, after[first.id].resolution) == ("resolved", "known outage")
    assert after[first.id].resolved_at is not None
    open_rows = table_rows(interlace_cli(project.root, "dlq", "list").stdout)
    assert [r[0] for r in open_rows] == [str(second.id)]
    all_rows = table_rows(interlace_cli(project.root, "dlq", "list", "--status", "all").stdout)
    assert sorted(r[4] for r in all_rows) == ["open", "resolved"]

    # the source has recovered (no failures left): a retry runs the model and closes the letter
    retried = interlace_cli(project.root, "dlq", "retry", str(second.id))
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert f"dead letter {second.id} retried successfully" in retried.stdout
    assert project.rows("flaky") == [{"id": 1, "status": "ok"}]
    assert {letter.id: letter.status for letter in dead_letters(project)} == {
        first.id: "resolved",
        second.id: "retried",
    }
    nothing = interlace_cli(project.root, "dlq", "list")
    assert nothing.returncode == 0
    assert "no open dead letters in env dev" in nothing.stdout


def test_dlq_retry_that_fails_again_keeps_the_letter_open(make_project: MakeProject) -> None:
    project = flaky_project(make_project, failures=100)
    project.run()
    (letter,) = dead_letters(project)
    retried = interlace_cli(project.root, "dlq", "retry", str(letter.id))
    assert retried.returncode != 0
    letters = {item.id: item.status for item in dead_letters(project)}
    assert letters[letter.id] == "open"
    assert len(letters) == 2  # the failed retry is a dead letter of its own


def test_dlq_cli_unknown_letter_is_a_clear_error(make_project: MakeProject) -> None:
    project = flaky_project(make_project, failures=0)
    project.run_ok()
    for command in ("show", "retry", "resolve"):
        out = interlace_cli(project.root, "dlq", command, "999")
        assert out.returncode == 1, (command, out.stdout, out.stderr)
        assert "no dead letter 999 in env dev" in out.stdout + out.stderr
        assert "Traceback" not in out.stdout + out.stderr
