"""Generic ibis backends as model engines: ``type: <backend>`` for the backends Interlace
knows by name (trino, snowflake, bigquery, pyspark, mssql, ...), or ``type: ibis`` with
``backend: <name>`` for any other. SQLite and MySQL have their own folders (they add
transactions and catalog queries on top of this).

Nothing here imports ibis until a project opens such a connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interlace.plugins import ConnectionType

if TYPE_CHECKING:
    from pathlib import Path

    from interlace.engines.base import Engine


def _create_engine(name: str, config: Any, root: Path) -> Engine:
    from interlace_connections.ibis.engine import IbisEngine

    return IbisEngine(name, config, root, config.backend_name, config.sql_dialect)


def _dialect(config: Any) -> str:
    return str(config.sql_dialect)


def connection_type() -> ConnectionType:
    """The generic ibis connection type (entry point ``interlace.connections``; one entry per
    backend name, all pointing here)."""
    from interlace_connections.ibis.config import IbisConnectionConfig

    return ConnectionType("ibis", IbisConnectionConfig, None, _create_engine, dialect_for=_dialect)


__all__ = ["connection_type"]
