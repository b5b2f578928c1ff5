"""PostgreSQL: a model engine (``connections: {x: {type: postgres}}``) and a state store
(``state: {type: postgres}``), both on psycopg 3.

Core finds both through entry points (``interlace.connections`` and ``interlace.state``); nothing
here is imported until a project uses PostgreSQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interlace.plugins import ConnectionType, StateStoreType

if TYPE_CHECKING:
    from pathlib import Path

    from interlace.engines.base import Engine
    from interlace.state.base import StateStore


def _create_engine(name: str, config: Any, root: Path) -> Engine:
    from interlace_connections.postgres.engine import PostgresEngine

    return PostgresEngine(name, config, root)


def _create_state(config: Any, root: Path) -> StateStore:
    from interlace_connections.postgres.state import PostgresStateStore

    return PostgresStateStore(config)


def connection_type() -> ConnectionType:
    """The ``postgres`` connection type (entry point ``interlace.connections``)."""
    from interlace_connections.postgres.config import PostgresConnectionConfig

    return ConnectionType("postgres", PostgresConnectionConfig, "postgres", _create_engine)


def state_store_type() -> StateStoreType:
    """The ``postgres`` state store type (entry point ``interlace.state``)."""
    from interlace_connections.postgres.config import PostgresStateConfig

    return StateStoreType("postgres", PostgresStateConfig, _create_state)


__all__ = ["connection_type", "state_store_type"]
