"""DuckDB SQL on Spark: constructs whose meaning would change are refused with what to write;
typical model queries give the same rows on DuckDB and on Spark."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import duckdb
import pytest
import sqlglot
from interlace_connections.spark.sql_checks import findings

from .conftest import SparkProject, spark_sql


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("SELECT list(x ORDER BY y) FROM t", "ORDER BY"),
        ("SELECT array_agg(x ORDER BY y DESC) FROM t", "ORDER BY"),
        ("SELECT date_diff('day', a, b) FROM t", "date_diff"),
        ("SELECT d + INTERVAL 1 DAY FROM t", "INTERVAL"),
        ("SELECT len(list(x)) FROM t", "LENGTH"),
        ("SELECT CAST(amount AS INTEGER) FROM t", "CAST"),
        ("SELECT CAST(a / b AS BIGINT) FROM t", "CAST"),
    ],
)
def test_constructs_that_change_meaning_are_found(sql: str, construct: str) -> None:
    found = findings(sqlglot.parse_one(sql, read="duckdb"))
    assert len(found) == 1
    assert construct.lower() in found[0].construct.lower()
    assert found[0].instead


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT list(x) FROM t",
        "SELECT date_diff('day', CAST(a AS DATE), CAST(b AS DATE)) FROM t",
        "SELECT CAST(d AS TIMESTAMP) + INTERVAL 1 DAY FROM t",
        "SELECT length(s), array_length(l) FROM t",
        "SELECT CAST(round(amount) AS INTEGER), CAST(sum(n) AS BIGINT) FROM t",
    ],
)
def test_what_the_hints_say_to_write_passes(sql: str) -> None:
    assert findings(sqlglot.parse_one(sql, read="duckdb")) == []


def test_a_model_with_such_a_construct_fails_naming_it(spark_project: SparkProject) -> None:
    project = spark_project.write(
        {
            "models/src.sql": "SELECT 1 AS x, 2 AS y UNION ALL SELECT 3, 1",
            "models/ordered.sql": "SELECT list(x ORDER BY y) AS xs FROM src",
        }
    )
    result = project.run()
    failed = result.models["ordered"]
    assert failed.status == "failed"
    assert failed.location is not None and failed.location.startswith("models/ordered.sql")
    assert "ARRAY_AGG(x ORDER BY y)" in (failed.error or "")  # list() is DuckDB's array_agg
    assert "list_sort" in (failed.error or "")


# typical model queries: each runs on DuckDB and (translated) on Spark over the same rows
ORDERS = """
SELECT * FROM (VALUES
    (1, 10, 'web', 'paid', 19.5, DATE '2024-01-03', TIMESTAMP '2024-01-03 10:00:00', 'a'),
    (2, 10, 'shop', 'paid', 5.25, DATE '2024-01-04', TIMESTAMP '2024-01-04 23:30:00', NULL),
    (3, 11, 'web', 'refunded', 7.0, DATE '2024-02-01', TIMESTAMP '2024-02-01 08:15:00', 'b'),
    (4, 12, 'web', 'paid', 100.0, DATE '2024-02-11', TIMESTAMP '2024-02-11 12:00:00', 'c'),
    (5, 12, NULL, 'paid', 0.5, DATE '2024-03-01', TIMESTAMP '2024-03-01 00:00:01', 'c')
) AS o(order_id, customer_id, channel, status, amount, ordered_on, ordered_at, code)
"""

CORPUS = [
    "SELECT customer_id, count(*) AS n, sum(amount) AS total, round(avg(amount), 2) AS mean "
    "FROM orders GROUP BY customer_id",
    "SELECT channel, count(*) FILTER (WHERE status = 'paid') AS paid FROM orders GROUP BY channel",
    "SELECT order_id, coalesce(channel, 'unknown') AS channel, upper(code) AS code FROM orders",
    "SELECT order_id, row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at) AS nth, "
    "sum(amount) OVER (PARTITION BY customer_id ORDER BY order_id) AS running FROM orders",
    "SELECT date_trunc('month', ordered_on) AS month, sum(amount) AS total FROM orders GROUP BY 1",
    "SELECT order_id, CASE WHEN amount >= 10 THEN 'big' WHEN amount >= 1 THEN 'mid' "
    "ELSE 'small' END AS size FROM orders",
    "SELECT order_id, date_diff('day', CAST(ordered_at AS DATE), DATE '2024-03-01') AS age "
    "FROM orders",
    "SELECT order_id, extract(year FROM ordered_on) AS y, extract(month FROM ordered_on) AS m "
    "FROM orders",
    "SELECT customer_id, max(ordered_at) AS last_at, min(ordered_on) AS first_on "
    "FROM orders GROUP BY customer_id HAVING count(*) > 1",
    "SELECT o.order_id, c.n FROM orders AS o JOIN (SELECT customer_id, count(*) AS n "
    "FROM orders GROUP BY customer_id) AS c USING (customer_id)",
    "SELECT order_id FROM orders WHERE code IS NULL OR code IN ('a', 'b')",
    "SELECT order_id, CAST(round(amount) AS INTEGER) AS whole, CAST(trunc(amount) AS INTEGER) "
    "AS cut, amount / 2 AS half FROM orders",
    "SELECT customer_id, string_agg(code, ',') AS codes FROM "
    "(SELECT DISTINCT customer_id, code FROM orders WHERE code IS NOT NULL) GROUP BY customer_id "
    "HAVING count(*) = 1",
    "SELECT order_id, concat(channel, '-', status) AS label, length(status) AS l FROM orders",
    "SELECT order_id FROM orders QUALIFY row_number() OVER (PARTITION BY customer_id "
    "ORDER BY amount DESC) = 1",
    "SELECT status, count(DISTINCT customer_id) AS customers FROM orders GROUP BY ALL",
]


def _normal(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, decimal.Decimal):  # Spark keeps decimals where DuckDB gives doubles
        return round(float(value), 6)
    return value


def _rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    normal = [tuple(_normal(v) for v in row) for row in rows]
    return sorted(normal, key=lambda r: tuple((v is None, str(v)) for v in r))


def test_typical_model_queries_give_the_same_rows_on_duckdb_and_spark(spark: Any) -> None:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE orders AS {ORDERS}")
    spark.sql(spark_sql(ORDERS)).createOrReplaceTempView("orders")
    mismatched = []
    for query in CORPUS:
        parsed = sqlglot.parse_one(query, read="duckdb")
        assert findings(parsed) == [], query
        expected = _rows(con.execute(query).fetchall())
        got = _rows([tuple(r) for r in spark.sql(parsed.sql(dialect="spark")).collect()])
        if got != expected:
            mismatched.append(f"{query}\n  duckdb: {expected}\n  spark:  {got}")
    assert not mismatched, "\n".join(mismatched)
