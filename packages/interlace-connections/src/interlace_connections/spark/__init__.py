"""Apache Spark as a model engine (``type: spark``), through pyspark and ibis's pyspark backend.

Needs pyspark (``pip install 'pyspark>=3.5,<4.1'``) and a Java 17 runtime; Spark Connect
(``remote: sc://...``) also needs ``pyspark[connect]``.

Example (``config.yaml``)::

    connections:
      cluster:
        type: spark
        master: local[2]          # spark://host:7077, yarn; or remote: sc://host:15002
        conf:
          spark.executor.memory: 2g

Nothing here imports pyspark until a project opens such a connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interlace.plugins import ConnectionType

if TYPE_CHECKING:
    from pathlib import Path

    from interlace.engines.base import Engine


def _create_engine(name: str, config: Any, root: Path) -> Engine:
    from interlace_connections.spark.engine import SparkEngine

    return SparkEngine(name, config, root)


def _dialect(config: Any) -> str:
    return str(config.dialect)


def connection_type() -> ConnectionType:
    """The ``spark`` connection type (entry point ``interlace.connections``)."""
    from interlace_connections.spark.config import SparkConnectionConfig

    return ConnectionType(
        "spark", SparkConnectionConfig, None, _create_engine, dialect_for=_dialect
    )


__all__ = ["connection_type"]
