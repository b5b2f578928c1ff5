"""A state file that is not a SQLite database: every command that reads it says so, cleanly.

The project ran once, then `.interlace/state.db` was overwritten (garbage bytes, or a valid
header over damaged pages). The error names the file, says it is not a valid state database and
what to do (move it aside; a new one is created; the history is lost), never a traceback.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Folder, MakeProject

FILES = {
    "models/orders.sql": "SELECT 1 AS id\n",
    "config.prod.yaml": "executor:\n  max_workers: 2\n",
    "migrations/001_create_audit.up.sql": "CREATE TABLE audit (id INTEGER);\n",
}

COMMANDS = {
    "dlq list": ("dlq", "list"),
    "dlq show": ("dlq", "show", "1"),
    "dlq retry": ("dlq", "retry", "1"),
    "dlq resolve": ("dlq", "resolve", "1"),
    "schema history": ("schema", "history", "orders"),
    "schema diff": ("schema", "diff", "orders"),
    "run": ("run",),
    "info model": ("info", "orders"),
    "migrate": ("migrate",),
    "migrate list": ("migrate", "--list"),
    "promote": ("promote", "--from", "dev", "--to", "prod", "--all"),
}


def garbage(size: int) -> bytes:
    return bytes((i * 37 + 11) % 256 for i in range(size))


@pytest.fixture(scope="module")
def corrupt(shared_project: MakeProject) -> Folder:
    """A project that ran once, whose state file is then overwritten with garbage bytes."""
    project = shared_project("corrupt_state", FILES)
    first = project.interlace("run")
    assert first.code == 0, first
    state = project.root / ".interlace" / "state.db"
    state.write_bytes(garbage(8192))
    return project


@pytest.fixture(scope="module")
def damaged(shared_project: MakeProject) -> Folder:
    """A project whose state file keeps SQLite's header but has garbage behind it."""
    project = shared_project("damaged_state", FILES)
    first = project.interlace("run")
    assert first.code == 0, first
    state = project.root / ".interlace" / "state.db"
    data = state.read_bytes()
    state.write_bytes(data[:100] + garbage(len(data) - 100))
    return project


def assert_reported(project: Folder, args: tuple[str, ...]) -> None:
    result = project.interlace(*args)

    assert result.code == 1, result
    assert not result.has_traceback, result
    state = os.path.join(".interlace", "state.db")
    assert f"{state} is not a valid state database" in result.stderr, result
    assert "move it out of the way" in result.stderr, result
    assert "new, empty state database" in result.stderr, result
    assert "lost" in result.stderr, result
    assert "writable" not in result.output, result


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_state_reading_command_reports_a_corrupt_state_file_without_a_traceback(
    corrupt: Folder, command: str
) -> None:
    assert_reported(corrupt, COMMANDS[command])


@pytest.mark.parametrize("command", ["dlq list", "run", "schema history"])
def test_a_state_file_with_damaged_pages_is_reported_the_same_way(
    damaged: Folder, command: str
) -> None:
    assert_reported(damaged, COMMANDS[command])


def test_moving_the_corrupt_file_aside_lets_the_next_run_start_afresh(
    project: Folder,
) -> None:
    project.write(FILES)
    assert project.interlace("run").code == 0
    state = project.root / ".interlace" / "state.db"
    state.write_bytes(garbage(4096))

    state.rename(state.with_name("state.db.broken"))
    again = project.interlace("run")

    assert again.code == 0, again
    assert "1 succeeded" in again.stdout
