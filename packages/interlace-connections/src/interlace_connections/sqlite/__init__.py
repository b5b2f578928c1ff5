"""SQLite as a model engine (``type: sqlite``), through ibis' SQLite backend.

Example (``config.yaml``)::

    connections:
      local:
        type: sqlite
        path: data/{env}.sqlite     # relative to the project; created on first use
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interlace.plugins import ConnectionType

if TYPE_CHECKING:
    from pathlib import Path

    from interlace.engines.base import Engine


def _create_engine(name: str, config: Any, root: Path) -> Engine:
    from interlace_connections.sqlite.engine import SQLiteEngine

    return SQLiteEngine(name, config, root)


def connection_type() -> ConnectionType:
    """The ``sqlite`` connection type (entry point ``interlace.connections``)."""
    from interlace_connections.sqlite.config import SQLiteConnectionConfig

    return ConnectionType("sqlite", SQLiteConnectionConfig, "sqlite", _create_engine)


__all__ = ["connection_type"]
