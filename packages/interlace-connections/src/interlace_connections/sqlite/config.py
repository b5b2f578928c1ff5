"""Configuration of SQLite connections."""

from __future__ import annotations

from typing import Literal

from interlace.connection_config import ConnectionConfig
from pydantic import ConfigDict, Field


class SQLiteConnectionConfig(ConnectionConfig):
    """A SQLite database file (created on first use), or ``:memory:``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["sqlite"] = "sqlite"  # type: ignore[assignment]
    path: str = ":memory:"
    busy_timeout: float = Field(default=30.0, ge=0)  # seconds to wait for another writer
