"""PostgreSQL connections lost mid-run (a server restart, an admin terminating backends): the run
retries and reconnects, and the driver's own warnings about the dead connections it discards
do not reach the terminal.

The server comes from ``INTERLACE_TEST_PG_*`` as in interlace-connections' tests (default
``127.0.0.1:5432``, user ``postgres``, trust auth); each test gets its own database, so only
that database's backends are terminated.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import psycopg
import pytest

if TYPE_CHECKING:
    from conftest import Folder

PG = {
    "host": os.environ.get("INTERLACE_TEST_PG_HOST", "127.0.0.1"),
    "port": os.environ.get("INTERLACE_TEST_PG_PORT", "5432"),
    "user": os.environ.get("INTERLACE_TEST_PG_USER", "postgres"),
    "password": os.environ.get("INTERLACE_TEST_PG_PASSWORD", ""),
    "dbname": os.environ.get("INTERLACE_TEST_PG_DATABASE", "test"),
}


def conninfo(dbname: str) -> str:
    params = {**PG, "dbname": dbname}
    return " ".join(f"{key}={value}" for key, value in params.items() if value)


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards."""
    name = f"interlace_cli_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(conninfo(PG["dbname"]), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(conninfo(PG["dbname"]), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# `cut` terminates every other backend of the project's database on its first attempt (as a
# server restart does), including the pooled connection its own run holds; the retry reconnects
CUT_MODEL = """
from pathlib import Path

import psycopg
from interlace import model

TERMINATE = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@model
def cut():
    flag = Path("terminated.flag")
    if not flag.exists():
        flag.touch()
        with psycopg.connect({conninfo!r}, autocommit=True) as admin:
            admin.execute(TERMINATE)
    return [{{"id": 1}}]
"""


def test_lost_connections_are_retried_without_driver_warnings_on_the_terminal(
    project: Folder, database: str
) -> None:
    connection = "".join(
        f"    {key}: {value}\n"
        for key, value in (("host", PG["host"]), ("port", PG["port"]), ("user", PG["user"]))
    ) + (f"    password: {PG['password']}\n" if PG["password"] else "")
    project.write(
        {
            "config.yaml": (
                "name: lost\nconnections:\n  default:\n    type: postgres\n"
                f"    database: {database}\n{connection}"
                "retry:\n  max_attempts: 3\n  initial_delay: 0.1\n"
            ),
            "models/cut.py": CUT_MODEL.format(conninfo=conninfo(database)),
            "models/after.sql": "SELECT id + 1 AS id FROM cut\n",
        }
    )

    result = project.interlace("run")

    assert result.code == 0, result
    assert "after 2 attempts" in result.stdout, result  # the connection really was lost
    assert "discarding" not in result.output, result
    assert "psycopg.Connection" not in result.output, result
    with psycopg.connect(conninfo(database)) as conn:
        assert conn.execute("SELECT id FROM main.after").fetchall() == [(2,)]
