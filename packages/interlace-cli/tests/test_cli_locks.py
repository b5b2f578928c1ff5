"""`interlace run` while another process writes the database: it waits (saying who holds the
lock) up to --lock-timeout, or fails at once with --no-wait; never a traceback."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from conftest import Folder


def test_run_waits_for_a_database_another_process_holds_then_says_who(project: Folder) -> None:
    project.write({"models/one.sql": "SELECT 1 AS id"})
    assert project.interlace("run").code == 0
    holder = duckdb.connect(str(project.db()))  # this test's process holds the file
    try:
        no_wait = project.interlace("run", "--no-wait")
        assert no_wait.code == 1, no_wait
        assert not no_wait.has_traceback, no_wait
        assert re.search(r"database file .* is locked by another run \(pid \d+\)", no_wait.output)
        assert "--no-wait was given" in no_wait.output

        waited = project.interlace("run", "--lock-timeout", "1s")
        assert waited.code == 1, waited
        assert not waited.has_traceback, waited
        assert "waiting for connection 'default': the database file" in waited.output
        assert "waited 1 s" in waited.output

        bad = project.interlace("run", "--lock-timeout", "soon")
        assert bad.code == 1 and "--lock-timeout: invalid duration 'soon'" in bad.output
    finally:
        holder.close()
    assert project.interlace("run", "--lock-timeout", "0").code == 0
