"""On MySQL a schema is a database: models in the default schema (``main``, with
``models.default_schema`` left alone) live in the connection's own database, run after run and
with every strategy; a model with a schema of its own lives in the database of that name. The
same for a MySQL database attached to DuckDB."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from interlace.testing import ProjectFolder
from interlace_connections.mysql.engine import in_databases

from . import mysql_server as _mysql
from .mysql_server import mysql_connect, mysql_sql, mysql_yaml
from .test_duckdb_attach import project

mysql_server = _mysql.mysql_server
mysql_database = _mysql.mysql_database


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            "SELECT * FROM main.orders AS o JOIN archive.x ON TRUE",
            "SELECT * FROM `shop`.orders AS o JOIN archive.x ON TRUE",
        ),
        ("INSERT INTO main.t SELECT * FROM main.s", "INSERT INTO `shop`.t SELECT * FROM `shop`.s"),
        ("SELECT * FROM orders", "SELECT * FROM orders"),
        (
            "ALTER TABLE main.__il_stage_t RENAME t",
            "ALTER TABLE `shop`.__il_stage_t RENAME `shop`.t",
        ),
        ("ALTER TABLE archive.staged RENAME t", "ALTER TABLE archive.staged RENAME archive.t"),
        (  # the atomic swap of a replace: both names change in one statement
            "RENAME TABLE `main`.`t` TO `main`.`__il_stage_t_old`, `main`.`__il_stage_t` TO `main`.`t`",
            "RENAME TABLE `shop`.`t` TO `shop`.`__il_stage_t_old`, `shop`.`__il_stage_t` TO `shop`.`t`",
        ),
    ],
)
def test_mysql_statements_name_the_default_schema_as_the_connection_database(
    statement: str, expected: str
) -> None:
    def database_of(schema: str) -> str:
        return "shop" if schema == "main" else schema

    parsed = sqlglot.parse_one(statement, read="mysql")
    assert in_databases(parsed, database_of).sql("mysql") == expected


@pytest.fixture
def other_database(mysql_server: dict[str, Any]) -> Iterator[str]:
    """A second database on the test server, for models with a schema of their own."""
    name = f"interlace_other_{uuid.uuid4().hex[:12]}"
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


def tables(database: str) -> list[tuple[str, str]]:
    return sorted(
        mysql_sql(
            database,
            "SELECT table_name, table_type FROM information_schema.tables "
            f"WHERE table_schema = '{database}'",
        )
    )


MODELS = {
    "models/orders.py": """
        import json
        from pathlib import Path

        from interlace import model

        @model(strategy="merge_by_key", primary_key="id")
        def orders():
            return json.loads((Path(__file__).parent.parent / "orders.json").read_text())
    """,
    "models/sql.sql": """
        -- @name: totals
        SELECT customer, SUM(amount) AS total FROM orders GROUP BY customer

        -- @name: order_log
        -- @strategy: append
        SELECT id, amount FROM orders

        -- @name: new_orders
        -- @strategy: append
        -- @cursor: id
        SELECT id, customer FROM orders

        -- @name: big_orders
        -- @materialize: view
        SELECT id FROM orders WHERE amount > 10

        -- @name: cheap
        -- @materialize: ephemeral
        SELECT id FROM orders WHERE amount < 10
    """,
    "models/counts.py": """
        from interlace import model

        @model
        def counts(cheap, totals):
            return [{"cheap": int(cheap.count().execute()), "customers": int(totals.count().execute())}]
    """,
}
ORDERS = [
    {"id": 1, "customer": "ann", "amount": 5.0},
    {"id": 2, "customer": "bob", "amount": 20.0},
    {"id": 3, "customer": "ann", "amount": 12.5},
]


def test_mysql_default_schema_is_the_connection_database_on_every_run(
    mysql_database: str, other_database: str, tmp_path: Path
) -> None:
    folder = ProjectFolder.create(
        tmp_path / "shop",
        config=f"""
            name: shop
            connections:
              default: {{type: mysql, {mysql_yaml(mysql_database)}}}
        """,
    )
    folder.write(
        {
            **MODELS,
            "models/archive.sql": f"-- @schema: {other_database}\nSELECT id FROM orders\n",
            "orders.json": json.dumps(ORDERS),
        }
    )

    def rows(table: str, database: str = mysql_database) -> list[tuple[Any, ...]]:
        return mysql_sql(database, f"SELECT * FROM {table} ORDER BY 1, 2")

    for _ in range(3):  # the same data again and again: merges change nothing, appends add
        folder.run_ok(force=True)
    assert rows("orders") == [(1, "ann", 5.0), (2, "bob", 20.0), (3, "ann", 12.5)]
    assert rows("totals") == [("ann", 17.5), ("bob", 20.0)]
    assert rows("order_log") == [(i, a) for i, a in ((1, 5.0), (2, 20.0), (3, 12.5)) for _ in "xyz"]
    assert rows("new_orders") == [(1, "ann"), (2, "bob"), (3, "ann")]  # only rows after its cursor
    assert mysql_sql(mysql_database, "SELECT id FROM big_orders ORDER BY id") == [(2,), (3,)]
    assert rows("counts") == [(1, 2)]
    assert mysql_sql(other_database, "SELECT id FROM archive ORDER BY id") == [(1,), (2,), (3,)]

    changed = [{**ORDERS[1], "amount": 2.0}, {"id": 4, "customer": "cy", "amount": 30.0}]
    folder.write({"orders.json": json.dumps([ORDERS[0], *changed, ORDERS[2]])})
    result = folder.run_ok()
    # no MERGE on MySQL: the batch's rows whose key existed are rewritten, and counted so
    assert result.models["orders"].stats == {"inserted": 1, "updated": 3}
    assert rows("orders") == [(1, "ann", 5.0), (2, "bob", 2.0), (3, "ann", 12.5), (4, "cy", 30.0)]
    assert rows("totals") == [("ann", 17.5), ("bob", 2.0), ("cy", 30.0)]
    assert len(rows("order_log")) == 9 + 4
    assert rows("new_orders") == [(1, "ann"), (2, "bob"), (3, "ann"), (4, "cy")]
    assert mysql_sql(mysql_database, "SELECT id FROM big_orders ORDER BY id") == [(3,), (4,)]
    assert rows("counts") == [(2, 3)]
    assert mysql_sql(other_database, "SELECT id FROM archive ORDER BY id") == [
        (i,) for i in (1, 2, 3, 4)
    ]

    # each model in its database, and nothing staged left behind
    assert tables(mysql_database) == [
        ("big_orders", "VIEW"),
        ("counts", "BASE TABLE"),
        ("new_orders", "BASE TABLE"),
        ("order_log", "BASE TABLE"),
        ("orders", "BASE TABLE"),
        ("totals", "BASE TABLE"),
    ]
    assert tables(other_database) == [("archive", "BASE TABLE")]


def test_mysql_default_schema_without_a_database_is_a_clear_error(
    mysql_server: dict[str, Any], tmp_path: Path
) -> None:
    keys = mysql_yaml("x").replace(", database: x", "")
    folder = ProjectFolder.create(
        tmp_path / "nodb",
        config=f"name: nodb\nconnections:\n  default: {{type: mysql, {keys}}}\n",
    )
    folder.write({"models/t.sql": "SELECT 1 AS x"})

    result = folder.run()

    failed = result.models["t"]
    assert failed.status == "failed"
    assert failed.error == (
        "connection 'default' has no `database`: models in the default schema (main) live in "
        "the connection's database on MySQL (hint: set `database` of this connection, or give "
        "the models a schema of their own (models.default_schema, or schema= per model): on "
        "MySQL it is a database)"
    )


def test_mysql_attachment_default_schema_is_its_database_on_every_run(
    mysql_database: str, tmp_path: Path
) -> None:
    item = f"name: shop, type: mysql, {mysql_yaml(mysql_database)}"
    files = {
        "models/my.sql": """
            -- @name: src
            SELECT range AS id FROM range(4)
            -- @name: copied
            -- @database: shop
            SELECT * FROM src
            -- @name: appended
            -- @database: shop
            -- @strategy: append
            SELECT * FROM src
            -- @name: back
            SELECT count(*) AS n FROM shop.main.appended
        """,
    }
    folder = project(tmp_path, [item], files)

    for _ in range(3):
        folder.run_ok(force=True)

    assert mysql_sql(mysql_database, "SELECT id FROM copied ORDER BY id") == [
        (i,) for i in range(4)
    ]
    assert mysql_sql(mysql_database, "SELECT count(*), count(DISTINCT id) FROM appended") == [
        (12, 4)
    ]
    assert tables(mysql_database) == [("appended", "BASE TABLE"), ("copied", "BASE TABLE")]
    result = folder.run_ok(["back"], force=True)
    assert result.models["back"].status == "success"
    assert folder.rows("back") == [{"n": 12}]
