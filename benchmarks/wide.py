"""Wide random data: what users upsert and historise, rather than tidy sequences.

Every value comes from DuckDB's ``hash(i, k)`` of the row number ``i`` and a column number ``k``,
so the data is deterministic, looks random (no run-length or delta compression to lean on) and
builds in seconds inside DuckDB.

* **upsert**: a target table ``target`` of ``id BIGINT, a INT, b INT, c VARCHAR ('name_' ||
  hash), d VARCHAR (37 categories), x DOUBLE, created_at TIMESTAMP, updated_at TIMESTAMP`` and
  a batch ``batch`` (same columns, rows in random order): half of it existing ids picked at
  random over the whole table, every value of those rows changed, half new ids.
* **scd2**: a dimension ``id, name, city, score, amount``: ``batch1`` (the first load) and
  ``batch2`` (10% of the keys with one tracked column changed, 1% gone, 1% new), and a view
  ``source`` over ``batch1`` that a benchmark points at ``batch2`` after the first load.

Both are built by :func:`build_upsert` / :func:`build_scd2` into a DuckDB file, once into the
benchmark cache by :func:`prepared_upsert` / :func:`prepared_scd2`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks.core import cached, duckdb_execute

if TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.core import Bench

UPSERT_COLUMNS = ("id", "a", "b", "c", "d", "x", "created_at", "updated_at")
SCD2_COLUMNS = ("id", "name", "city", "score", "amount")
SCD2_TRACKED = SCD2_COLUMNS[1:]
CATEGORIES = 37

# every column of row `i` from hash(i, k); `salt` gives the batch's changed values
_UPSERT_ROW = """
    {i}::BIGINT AS id,
    (hash({i}, {s} + 1) % 2000000000)::INTEGER AS a,
    (hash({i}, {s} + 2) % 100000)::INTEGER AS b,
    'name_' || (hash({i}, {s} + 3) % 100000000)::VARCHAR AS c,
    'category_' || (hash({i}, {s} + 4) % {categories})::VARCHAR AS d,
    (hash({i}, {s} + 5) % 100000000)::DOUBLE / 100 AS x,
    TIMESTAMP '2020-01-01' + to_seconds((hash({i}, {s} + 6) % 126230400)::BIGINT) AS created_at,
    {updated} + to_seconds((hash({i}, {s} + 7) % 31536000)::BIGINT) AS updated_at
"""


def upsert_row_sql(i: str, salt: int, updated_from: str) -> str:
    """The SELECT list of one wide row numbered by the expression ``i``."""
    return _UPSERT_ROW.format(i=i, s=salt, categories=CATEGORIES, updated=updated_from)


def build_upsert(path: Path, target_rows: int, batch_rows: int) -> None:
    """``target`` (``target_rows`` rows) and ``batch`` (half updates, half new ids) in ``path``."""
    half = batch_rows // 2
    stored = upsert_row_sql("range", 0, "TIMESTAMP '2024-01-01'")
    changed = upsert_row_sql("i", 100, "TIMESTAMP '2025-01-01'")
    new = upsert_row_sql(f"{target_rows} + range", 0, "TIMESTAMP '2025-01-01'")
    duckdb_execute(
        path,
        f"CREATE TABLE target AS SELECT {stored} FROM range({target_rows})",
        # the existing half: `half` ids picked at random over the whole table; every value of
        # those rows changes (updated_at moves to 2025, after every stored one)
        f"""
        CREATE TABLE batch AS
        WITH picked AS (
            SELECT range AS i FROM range({target_rows}) ORDER BY hash(range, 99) LIMIT {half}
        ), rows AS (
            SELECT {changed} FROM picked
            UNION ALL
            SELECT {new} FROM range({batch_rows - half})
        )
        SELECT * FROM rows ORDER BY hash(id, 98)
        """,
    )


def prepared_upsert(bench: Bench, target_rows: int, batch_rows: int) -> Path:
    """The upsert data of these sizes (:func:`build_upsert`), built once into the cache."""
    return cached(
        bench.cache / f"merge_wide_{target_rows}_{batch_rows}.duckdb",
        lambda p: build_upsert(p, target_rows, batch_rows),
    )


def upsert_summary_sql(table: str = "target") -> str:
    """Row count and checksums of an upsert result (the same on every correct side; ``x`` is
    summed as integer cents, since a float sum depends on the order DuckDB's threads add in)."""
    return (
        f"SELECT count(*), sum(a), sum(b), sum(round(x * 100)::BIGINT), count(DISTINCT c), "
        f"max(updated_at)::VARCHAR, sum(hash(c, d)) FROM {table}"
    )


def build_scd2(path: Path, rows: int) -> None:
    """``batch1``, ``batch2`` and the view ``source`` (over ``batch1``) in ``path``."""
    duckdb_execute(
        path,
        f"""
        CREATE TABLE batch1 AS
        SELECT range::BIGINT AS id,
               'name_' || (hash(range, 1) % 10000000)::VARCHAR AS name,
               'city_' || (hash(range, 2) % 5000)::VARCHAR AS city,
               (hash(range, 3) % 100000)::DOUBLE / 1000 AS score,
               ((hash(range, 4) % 100000000) / 100)::DECIMAL(12, 2) AS amount
        FROM range({rows})
        """,
        # pick = hash(id, 20) % 100: 0-9 change one tracked column (chosen by hash(id, 21)),
        # 10 is gone; 1% new keys are appended
        f"""
        CREATE TABLE batch2 AS
        WITH b AS (
            SELECT *, hash(id, 20) % 100 AS pick, hash(id, 21) % 4 AS col FROM batch1
        )
        SELECT id,
               CASE WHEN pick < 10 AND col = 0 THEN name || '_renamed' ELSE name END AS name,
               CASE WHEN pick < 10 AND col = 1 THEN city || '_moved' ELSE city END AS city,
               CASE WHEN pick < 10 AND col = 2 THEN score + 1 ELSE score END AS score,
               -- the same type as batch1 (amount + 1 alone would widen to DECIMAL(13, 2))
               CASE WHEN pick < 10 AND col = 3 THEN (amount + 1)::DECIMAL(12, 2)
                    ELSE amount END AS amount
        FROM b WHERE pick <> 10
        UNION ALL
        SELECT {rows} + range AS id,
               'name_' || (hash(range, 31) % 10000000)::VARCHAR AS name,
               'city_' || (hash(range, 32) % 5000)::VARCHAR AS city,
               (hash(range, 33) % 100000)::DOUBLE / 1000 AS score,
               ((hash(range, 34) % 100000000) / 100)::DECIMAL(12, 2) AS amount
        FROM range({rows // 100})
        """,
        "CREATE VIEW source AS SELECT * FROM batch1",
    )


def prepared_scd2(bench: Bench, rows: int) -> Path:
    """The SCD2 data of ``rows`` keys (:func:`build_scd2`), built once into the cache."""
    return cached(bench.cache / f"scd2_wide_v2_{rows}.duckdb", lambda p: build_scd2(p, rows))
