"""Configuration of PostgreSQL connections and of the PostgreSQL state store.

Example (``config.yaml``)::

    connections:
      warehouse:
        type: postgres
        host: db.internal
        database: analytics
        user: interlace
        password: ${PGPASSWORD}
        search_path: [analytics, public]
        pool_max_size: 8
        statement_timeout: 30min

    state:
      type: postgres
      host: db.internal
      database: interlace
      schema: interlace_state
"""

from __future__ import annotations

import math
from typing import Any, Literal

from interlace.config import StateStoreConfig
from interlace.connection_config import ConnectionConfig
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

SSLMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
Setting = str | int | float | bool


class PostgresParams(BaseModel):
    """Where the server is and how to log in (shared by connections and the state store)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True
    )

    dsn: str | None = None  # a libpq URL or key=value string; the keys below override it
    host: str | None = None  # localhost unless the dsn names one
    port: int | None = Field(default=None, ge=1, le=65535)  # 5432
    database: str | None = None  # postgres unless the dsn names one
    user: str | None = None
    """The user to log in as (default: from the dsn, else the operating system user)."""
    password: str | None = None
    """The password (use `${VAR}` to keep it out of the file; default: from the dsn or
    ~/.pgpass)."""
    sslmode: SSLMode | None = None
    """libpq's `sslmode`: `disable`, `allow`, `prefer`, `require`, `verify-ca` or `verify-full`
    (default: from the dsn, else `prefer`)."""
    connect_timeout: float = Field(default=10.0, gt=0)  # seconds, per connection attempt
    statement_timeout: str | float | None = None  # seconds, or a PostgreSQL duration '30min'
    timezone: str | None = "UTC"  # session TimeZone; None keeps the server's default
    application_name: str = "interlace"
    """The name the server shows for these connections (`pg_stat_activity`)."""
    options: dict[str, Setting] = Field(default_factory=dict)  # other server settings

    @field_validator("statement_timeout")
    @classmethod
    def _positive_timeout(cls, value: str | float | None) -> str | float | None:
        if isinstance(value, (int, float)) and value <= 0:
            raise ValueError("statement_timeout must be positive (seconds), or omitted")
        return value

    def server_settings(self) -> dict[str, Setting]:
        """Session settings sent at connect time (they survive RESET/DISCARD ALL)."""
        settings: dict[str, Setting] = {}
        if self.timezone:
            settings["TimeZone"] = self.timezone
        if self.statement_timeout is not None:
            timeout = self.statement_timeout
            if isinstance(timeout, (int, float)):
                timeout = f"{max(1, math.ceil(timeout * 1000))}ms"
            settings["statement_timeout"] = timeout
        settings.update(self.options)
        return settings

    def extra_settings(self) -> dict[str, Setting]:
        return {}

    def conninfo(self) -> str:
        """A libpq connection string (the password included: never log it)."""
        from psycopg.conninfo import make_conninfo

        settings = {**self.server_settings(), **self.extra_settings()}
        options = " ".join(f"-c {k}={_escape_option(_setting(v))}" for k, v in settings.items())
        defaults = {} if self.dsn else {"host": "localhost", "port": 5432, "dbname": "postgres"}
        params: dict[str, Any] = {
            **defaults,
            **{k: v for k, v in (("host", self.host), ("port", self.port)) if v is not None},
            **({"dbname": self.database} if self.database is not None else {}),
            "user": self.user,
            "password": self.password,
            "sslmode": self.sslmode,
            # libpq counts whole seconds (and treats 1 as 2)
            "connect_timeout": max(2, math.ceil(self.connect_timeout)),
            "application_name": self.application_name,
            "options": options or None,
        }
        return make_conninfo(self.dsn or "", **{k: v for k, v in params.items() if v is not None})

    def target(self) -> str:
        """``host:port/database as user`` for messages (never the password)."""
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(self.conninfo())
        where = f"{info.get('host', 'localhost')}:{info.get('port', 5432)}"
        who = f" as {info['user']}" if info.get("user") else ""
        return f"{where}/{info.get('dbname', '')}{who}"


class PostgresConnectionConfig(PostgresParams, ConnectionConfig):
    """A PostgreSQL database that models run in (psycopg 3, a pool of connections)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True
    )

    type: Literal["postgres"] = "postgres"  # type: ignore[assignment]
    # unqualified names resolve here first (``schema`` is accepted as a synonym)
    search_path: list[str] | None = Field(
        default=None, validation_alias=AliasChoices("search_path", "schema")
    )
    pool_min_size: int = Field(default=1, ge=0)
    """Connections the pool keeps open while idle."""
    pool_max_size: int = Field(default=10, ge=1)
    """Connections the pool opens at most (models running at once on this connection share them)."""
    pool_timeout: float = Field(default=60.0, gt=0)  # seconds to wait for a free connection

    @field_validator("search_path", mode="before")
    @classmethod
    def _split_path(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _pool_sizes(self) -> PostgresConnectionConfig:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError(
                f"pool_min_size ({self.pool_min_size}) is larger than pool_max_size "
                f"({self.pool_max_size})"
            )
        return self

    def extra_settings(self) -> dict[str, Setting]:
        settings: dict[str, Setting] = {}
        if self.search_path:
            settings["search_path"] = ",".join(_quote_ident(s) for s in self.search_path)
        if self.access == "read":  # enforced by the server, whatever a model runs
            settings["default_transaction_read_only"] = True
        return settings


class PostgresStateConfig(PostgresParams, StateStoreConfig):
    """The state store in a PostgreSQL database (for teams and several service workers)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: Literal["postgres"] = "postgres"  # type: ignore[assignment]
    # the schema holding the state tables (created when missing)
    schema_name: str = Field(
        default="interlace", validation_alias=AliasChoices("schema", "schema_name")
    )

    def extra_settings(self) -> dict[str, Setting]:
        return {"search_path": _quote_ident(self.schema_name)}


def _setting(value: Setting) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _escape_option(value: str) -> str:
    """libpq ``options`` separate words by spaces; a backslash escapes one."""
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def _quote_ident(name: str) -> str:
    if name == "$user" or (name.isidentifier() and name == name.lower()):
        return name
    return '"' + name.replace('"', '""') + '"'
