"""Settings of connections: the keys every type accepts, and the built-in DuckDB type.

They sit below :mod:`interlace.config` so that the connection-type registry
(:mod:`interlace.plugins`) can name DuckDB's settings without importing the config loader.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CircuitBreakerConfig(_Strict):
    """Fail fast on a connection after repeated engine failures (SPEC §6.4)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    failure_threshold: int = Field(default=5, ge=1)
    """Engine failures in a row that open the breaker: the connection's next calls fail at once."""
    timeout: float = Field(default=60.0, gt=0)
    """Seconds the breaker stays open before one trial call is let through."""
    success_threshold: int = Field(default=1, ge=1)
    """Successful trial calls that close the breaker again."""


class RetryConfig(_Strict):
    """Default retry policy of every model that declares none."""

    max_attempts: int = Field(default=1, ge=1)
    initial_delay: float = Field(default=1.0, ge=0)
    max_delay: float = Field(default=60.0, ge=0)
    exponential_base: float = Field(default=2.0, ge=1)
    jitter: float = Field(default=0.1, ge=0, le=1)


class ConnectionConfig(_Strict):
    """Keys every connection type accepts; each type adds its own (see interlace.plugins)."""

    type: str = "duckdb"
    access: Literal["read", "write"] = "write"
    shared: bool = False
    circuit_breaker: CircuitBreakerConfig | None = None


AttachType = Literal["postgres", "mysql", "sqlite", "duckdb", "ducklake"]
# names DuckDB gives its own catalogs: an attachment cannot take them
RESERVED_CATALOGS = frozenset({"main", "memory", "system", "temp", "information_schema"})


class AttachConfig(_Strict):
    """One database a DuckDB connection ATTACHes when it opens (``attach:`` list item).

    Its tables are then read as ``name.schema.table`` in SQL and from Python models.
    """

    model_config = ConfigDict(use_attribute_docstrings=True)

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The catalog name the attached database gets: its tables are `name.schema.table`."""
    type: AttachType
    """What is attached: `postgres`, `mysql`, `sqlite`, `duckdb` or `ducklake`."""
    path: str | None = None  # sqlite/duckdb file, ducklake catalog file (relative to the project)
    create: bool = False  # sqlite/duckdb: create the file when it is missing
    dsn: str | None = None  # postgres/mysql: a key=value connection string
    host: str | None = None
    """postgres/mysql: the server's host name."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """postgres/mysql: the server's port."""
    database: str | None = None
    """postgres/mysql: the database to attach."""
    user: str | None = None
    """postgres/mysql: the user to log in as."""
    password: str | None = None
    """postgres/mysql: the password (use `${VAR}` to keep it out of the file)."""
    connect_timeout: float = Field(default=10.0, gt=0)  # seconds (postgres, mysql)
    data_path: str | None = None  # ducklake: where the Parquet data files live
    read_only: bool = False
    """Attach read-only: models can read the database's tables but not write them."""

    @model_validator(mode="after")
    def _keys_fit_type(self) -> AttachConfig:
        server = self.type in ("postgres", "mysql")
        if server:
            if self.path is not None:
                raise ValueError(
                    f"a {self.type} attachment takes dsn or host/port/database/user/password, "
                    "not path"
                )
            if self.create:
                raise ValueError("create applies to sqlite and duckdb files only")
        else:
            if self.path is None:
                raise ValueError(f"a {self.type} attachment needs path (its file)")
            given = [
                k
                for k in ("dsn", "host", "port", "database", "user", "password")
                if getattr(self, k) is not None
            ]
            if given:
                raise ValueError(f"a {self.type} attachment takes path, not {', '.join(given)}")
            if self.create and self.type == "ducklake":
                raise ValueError("a ducklake catalog is created when missing; drop create")
        if self.data_path is not None and self.type != "ducklake":
            raise ValueError("data_path applies to ducklake attachments only")
        if self.name.lower() in RESERVED_CATALOGS:
            raise ValueError(f"'{self.name}' is a name DuckDB reserves; choose another name")
        return self


class DuckDBConnectionConfig(ConnectionConfig):
    """An embedded DuckDB database: a file (created on first use) or ``:memory:``.

    ``attach`` lists other databases (PostgreSQL, MySQL, SQLite, DuckDB files, DuckLake) that
    are ATTACHed whenever the database opens; ``extensions`` names extra DuckDB extensions to
    load (from their ``duckdb-extension-<name>`` wheels, never downloaded).
    """

    model_config = ConfigDict(use_attribute_docstrings=True)

    type: Literal["duckdb"] = "duckdb"
    path: str = ":memory:"
    read_only: bool = False
    threads: int | None = Field(default=None, ge=1)
    memory_limit: str | None = None
    settings: dict[str, str | int | float | bool] = Field(default_factory=dict)
    attach: list[AttachConfig] = Field(default_factory=list)
    """Other databases (PostgreSQL, MySQL, SQLite, DuckDB files, DuckLake) attached whenever the
    database opens."""
    extensions: list[str] = Field(default_factory=list)
    """Extra DuckDB extensions to load, from their installed `duckdb-extension-<name>` packages
    (never downloaded)."""

    @model_validator(mode="after")
    def _unique_attachments(self) -> DuckDBConnectionConfig:
        seen: set[str] = set()
        for item in self.attach:
            if item.name.lower() in seen:
                raise ValueError(f"two attachments are named '{item.name}'; names must differ")
            seen.add(item.name.lower())
        return self
