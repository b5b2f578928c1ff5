"""Configuration of MySQL / MariaDB connections."""

from __future__ import annotations

from typing import Any, Literal

from interlace.connection_config import ConnectionConfig
from pydantic import ConfigDict, Field


class MySQLConnectionConfig(ConnectionConfig):
    """A MySQL or MariaDB server; a model's schema is a MySQL database."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    type: Literal["mysql"] = "mysql"  # type: ignore[assignment]
    host: str = "localhost"
    """The server's host name."""
    port: int = Field(default=3306, ge=1, le=65535)
    """The server's port."""
    database: str | None = None  # the default database (unqualified names resolve there)
    user: str | None = None
    """The user to log in as."""
    password: str | None = None
    """The password (use `${VAR}` to keep it out of the file)."""
    connect_timeout: float = Field(default=10.0, gt=0)  # seconds
    charset: str = "utf8mb4"
    """The connection's character set."""
    options: dict[str, Any] = Field(default_factory=dict)  # other MySQLdb.connect() keywords

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "connect_timeout": max(1, round(self.connect_timeout)),
            "charset": self.charset,
        }
        if self.database is not None:
            kwargs["database"] = self.database
        if self.user is not None:
            kwargs["user"] = self.user
        if self.password is not None:
            kwargs["password"] = self.password
        return {**kwargs, **self.options}
