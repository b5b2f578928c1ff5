"""MySQL and MariaDB as a model engine (``type: mysql``), through ibis' MySQL backend.

Needs the driver: ``pip install 'interlace-connections[mysql]'`` (mysqlclient, which compiles
against libmariadb/libmysqlclient).

Example (``config.yaml``)::

    connections:
      shop:
        type: mysql
        host: db.internal
        database: shop          # where models of the default schema (main) live
        user: interlace
        password: ${MYSQL_PASSWORD}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interlace.plugins import ConnectionType

if TYPE_CHECKING:
    from pathlib import Path

    from interlace.engines.base import Engine


def _create_engine(name: str, config: Any, root: Path) -> Engine:
    from interlace_connections.mysql.engine import MySQLEngine

    return MySQLEngine(name, config, root)


def connection_type() -> ConnectionType:
    """The ``mysql`` connection type (entry point ``interlace.connections``)."""
    from interlace_connections.mysql.config import MySQLConnectionConfig

    return ConnectionType("mysql", MySQLConnectionConfig, "mysql", _create_engine)


__all__ = ["connection_type"]
