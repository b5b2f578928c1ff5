"""The MySQL/MariaDB test server (``INTERLACE_TEST_MYSQL_HOST``/``_PORT``/``_USER``/``_PASSWORD``,
default ``127.0.0.1:3306`` as root without a password). Tests that use it skip when it cannot
be reached, except in CI (``CI=true``), where they fail. Each test gets a fresh database,
dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from interlace.testing.prerequisites import require

MYSQL = {
    "host": os.environ.get("INTERLACE_TEST_MYSQL_HOST", "127.0.0.1"),
    "port": int(os.environ.get("INTERLACE_TEST_MYSQL_PORT", "3306")),
    "user": os.environ.get("INTERLACE_TEST_MYSQL_USER", "root"),
    "password": os.environ.get("INTERLACE_TEST_MYSQL_PASSWORD", ""),
}


def mysql_connect(database: str | None = None) -> Any:
    import MySQLdb

    params: dict[str, Any] = {**MYSQL, "autocommit": True, "connect_timeout": 5}
    if database:
        params["database"] = database
    return MySQLdb.connect(**params)


def mysql_sql(database: str, query: str) -> list[tuple[Any, ...]]:
    con = mysql_connect(database)
    try:
        cursor = con.cursor()
        cursor.execute(query)
        return list(cursor.fetchall()) if cursor.description else []
    finally:
        con.close()


def mysql_fetch(database: str, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and rows of ``query`` on ``database``."""
    con = mysql_connect(database)
    try:
        cursor = con.cursor()
        cursor.execute(query)
        names = [d[0] for d in cursor.description or ()]
        return names, list(cursor.fetchall()) if cursor.description else []
    finally:
        con.close()


@pytest.fixture(scope="session")
def mysql_server() -> dict[str, Any]:
    require(
        lambda: mysql_connect().close(),
        f"the MySQL/MariaDB test server at {MYSQL['host']}:{MYSQL['port']} as {MYSQL['user']}",
        "start it (e.g. `start-stop-daemon --start --background --exec /usr/sbin/mariadbd`) "
        "or point INTERLACE_TEST_MYSQL_HOST/_PORT/_USER/_PASSWORD at one",
    )
    return MYSQL


@pytest.fixture
def mysql_database(mysql_server: dict[str, Any]) -> Iterator[str]:
    name = f"interlace_test_{uuid.uuid4().hex[:12]}"
    con = mysql_connect()
    try:
        con.cursor().execute(f"CREATE DATABASE `{name}`")
    finally:
        con.close()
    try:
        yield name
    finally:
        con = mysql_connect()
        try:
            con.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            con.close()


def mysql_yaml(database: str, **extra: Any) -> str:
    """Flow-style YAML keys of a connection to ``database`` on the test server."""
    keys = {
        "host": MYSQL["host"],
        "port": MYSQL["port"],
        "user": MYSQL["user"],
        "database": database,
        **({"password": MYSQL["password"]} if MYSQL["password"] else {}),
        **extra,
    }
    return ", ".join(f"{k}: {v}" for k, v in keys.items())
