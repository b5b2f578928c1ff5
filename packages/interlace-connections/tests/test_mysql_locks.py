"""Two runs never write one MySQL table at once: a named lock (GET_LOCK) on the table's
database and name, which another process (any client of the server) can see and wait for."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from interlace.testing import ProjectFolder

from . import mysql_server as _mysql
from .mysql_server import mysql_connect, mysql_yaml

mysql_server = _mysql.mysql_server
mysql_database = _mysql.mysql_database


def lock_name(database: str, table: str) -> str:
    digest = hashlib.blake2b(f"{database}\0{table}".encode(), digest_size=16).hexdigest()
    return f"interlace:{digest}"


def test_a_table_locked_by_another_session_fails_its_model_naming_the_holder(
    mysql_database: str, tmp_path: Path
) -> None:
    folder = ProjectFolder.create(
        tmp_path / "shop",
        config=f"""
            name: shop
            connections:
              default: {{type: mysql, {mysql_yaml(mysql_database)}}}
        """,
    )
    folder.write({"models/orders.sql": "SELECT 1 AS id", "models/other.sql": "SELECT 2 AS id"})
    folder.run_ok()
    holder: Any = mysql_connect()
    try:
        cursor = holder.cursor()
        cursor.execute("SELECT GET_LOCK(%s, 0)", (lock_name(mysql_database, "orders"),))
        assert cursor.fetchone() == (1,)
        result = folder.run(force=True, lock_timeout=0.3)
        orders = result.models["orders"]
        assert orders.status == "failed" and orders.error_type == "LockTimeoutError"
        assert orders.error is not None
        assert f"table {mysql_database}.orders is locked by another run" in orders.error
        assert "server connection" in orders.error and "waited 0.3 s" in orders.error
        assert result.models["other"].status == "success"  # no collision, no wait
    finally:
        holder.close()  # the server releases the lock with the session
    assert folder.run_ok(force=True).models["orders"].status == "success"
