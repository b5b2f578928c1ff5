"""The ibis backend Python models get on PostgreSQL: ibis' own, on the session's connection.

ibis 12 builds ``DROP`` statements with sqlglot's pre-30 arguments (``Drop(this=...)``), which
sqlglot 30 renders without a name (``DROP VIEW IF EXISTS``). ``backend.sql(...)`` (how a Python
model receives an ephemeral or cursor-filtered upstream) goes through one of them, so that one
method is overridden here with the same logic and a well-formed ``DROP``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg


def backend_on(connection: psycopg.Connection[Any]) -> Any:
    """An ibis PostgreSQL backend that runs everything on ``connection``."""
    import sqlglot
    import sqlglot.expressions as sge
    from ibis.backends.postgres import Backend
    from ibis.util import gen_name

    class InterlaceBackend(Backend):  # type: ignore[misc]
        def _get_schema_using_query(self, query: str) -> Any:
            name = gen_name(f"{self.name}_metadata")
            create = sge.Create(
                kind="VIEW",
                this=sge.table_(name),
                expression=sqlglot.parse_one(query, read=self.dialect),
                properties=sge.Properties(expressions=[sge.TemporaryProperty()]),
            ).sql(self.dialect)
            drop = sge.Drop(kind="VIEW", tables=[sge.table_(name)], exists=True).sql(self.dialect)
            con = self.con
            with con.cursor() as cursor, con.transaction():
                cursor.execute(create)
            try:
                return self.get_schema(name)
            finally:
                with con.cursor() as cursor, con.transaction():
                    cursor.execute(drop)

    return InterlaceBackend.from_connection(connection)
