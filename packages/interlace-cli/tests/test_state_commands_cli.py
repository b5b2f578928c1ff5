"""`interlace schema` and `interlace dlq` against projects built through the Python API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from interlace.state import SQLiteStateStore
from interlace.state.base import DeadLetter
from interlace.testing import ProjectFolder

INTERLACE = Path(sys.executable).parent / "interlace"


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[Mapping[str, str]], ProjectFolder]:
    """A project (DuckDB in data/{env}.duckdb) built from files, run through the Python API."""
    counter = iter(range(1_000))

    def make(files: Mapping[str, str]) -> ProjectFolder:
        return ProjectFolder.create(tmp_path / f"project{next(counter)}").write(files)

    return make


MakeProject = Callable[[Mapping[str, str]], ProjectFolder]


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


def flaky_project(make_project: MakeProject, failures: int, options: str = POLICY) -> ProjectFolder:
    project = make_project(
        {
            "models/flaky.py": FLAKY.format(options=options),
            "models/downstream.sql": "SELECT id, status FROM flaky",
        }
    )
    project.write({"failures_left": str(failures)})
    return project


def dead_letters(project: ProjectFolder, status: str | None = None) -> list[DeadLetter]:
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


def test_dlq_retry_of_a_model_reading_another_connection_reads_it_there(tmp_path: Path) -> None:
    """docs/connections.md's example: `kinds` (default connection) reads `events` on `lake`."""
    project = ProjectFolder.create(
        tmp_path / "cross",
        config="""
            name: cross
            connections:
              default: {type: duckdb, path: "data/{env}.duckdb"}
              lake: {type: duckdb, path: "data/lake.duckdb"}
        """,
    )
    project.write(
        {
            "models/lake.sql": """
                -- @name: events
                -- @connection: lake
                select range as id, range % 3 as kind from range(250000)
            """,
            "models/warehouse.sql": """
                -- @name: kinds
                select kind, count(*) as n from events group by kind, no_such_column
            """,
        }
    )
    assert project.run().models["kinds"].status == "failed"
    (letter,) = dead_letters(project)
    project.write(
        {
            "models/warehouse.sql": """
                -- @name: kinds
                select kind, count(*) as n from events group by kind
            """
        }
    )

    retried = interlace_cli(project.root, "dlq", "retry", str(letter.id))

    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert f"dead letter {letter.id} retried successfully" in retried.stdout
    assert project.rows("kinds", "kind") == [
        {"kind": 0, "n": 83334},
        {"kind": 1, "n": 83333},
        {"kind": 2, "n": 83333},
    ]
    assert [item.status for item in dead_letters(project)] == ["retried"]
