"""Configuration of a generic ibis backend connection (``type: trino``, ``type: ibis``, ...).

Example (``config.yaml``)::

    connections:
      lake:
        type: trino              # any ibis backend by name; or `type: ibis` + `backend: trino`
        host: trino.internal
        port: 8080
        user: interlace
        database: hive           # the catalog, for Trino
        options:                 # any other keyword of ibis.trino.connect(...)
          schema: analytics
"""

from __future__ import annotations

from typing import Any

from interlace.connection_config import ConnectionConfig
from pydantic import ConfigDict, Field, model_validator

# ibis backend -> sqlglot dialect of SQL models on it (when the names differ)
DIALECTS = {
    "pyspark": "spark",
    "mssql": "tsql",
    "impala": "hive",
    "singlestoredb": "singlestore",
    "datafusion": "postgres",
    "flink": "hive",
}

# ibis backends Interlace knows by name (`type: <name>`); others work through `type: ibis`
NAMED_BACKENDS = (
    "athena",
    "bigquery",
    "clickhouse",
    "databricks",
    "datafusion",
    "druid",
    "exasol",
    "impala",
    "mssql",
    "oracle",
    "pyspark",
    "risingwave",
    "singlestoredb",
    "snowflake",
    "trino",
)


def dialect_for(backend: str) -> str:
    return DIALECTS.get(backend, backend)


class IbisConnectionConfig(ConnectionConfig):
    """A database reached through ``ibis.<backend>.connect(...)``."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    type: str = "ibis"
    backend: str | None = None  # required with `type: ibis`; defaults to `type` otherwise
    dialect: str | None = None  # the SQL dialect of models (default: from the backend)
    host: str | None = None
    """The server's host name, passed to the backend's `connect()`."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """The server's port, passed to `connect()`."""
    database: str | None = None
    """The database (or catalog) to use, passed to `connect()`."""
    user: str | None = None
    """The user to log in as, passed to `connect()`."""
    password: str | None = None
    """The password, passed to `connect()` (use `${VAR}` to keep it out of the file)."""
    path: str | None = None  # file-based backends (relative to the project)
    options: dict[str, Any] = Field(default_factory=dict)  # other connect() keywords

    @model_validator(mode="after")
    def _backend_named(self) -> IbisConnectionConfig:
        if self.type == "ibis":
            if not self.backend:
                raise ValueError(
                    "a connection of type ibis needs `backend:` (an ibis backend name, "
                    "e.g. trino, snowflake, bigquery)"
                )
        elif self.backend is not None and self.backend != self.type:
            raise ValueError(
                f"type '{self.type}' and backend '{self.backend}' disagree; drop backend"
            )
        import sqlglot

        try:
            sqlglot.Dialect.get_or_raise(self.sql_dialect)
        except ValueError:
            raise ValueError(
                f"SQL dialect '{self.sql_dialect}' is unknown to sqlglot; set `dialect:` to one "
                "it knows (e.g. trino, spark, tsql, hive)"
            ) from None
        return self

    @property
    def backend_name(self) -> str:
        return self.backend or self.type

    @property
    def sql_dialect(self) -> str:
        return self.dialect or dialect_for(self.backend_name)

    def connect_kwargs(self) -> dict[str, Any]:
        given = {
            key: getattr(self, key)
            for key in ("host", "port", "database", "user", "password")
            if getattr(self, key) is not None
        }
        return {**given, **self.options}
