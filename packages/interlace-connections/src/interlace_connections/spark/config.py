"""Configuration of Apache Spark connections (``type: spark``).

Example (``config.yaml``)::

    connections:
      cluster:
        type: spark
        master: local[2]            # or spark://host:7077, yarn; or remote: sc://host:15002
        warehouse: spark/warehouse  # where managed tables' files go (relative to the project)
        metastore: spark/metastore  # the embedded Derby metastore (one process at a time)
        keep_versions: 1            # published versions kept besides the current one
        conf:                       # any Spark setting, passed through
          spark.executor.memory: 2g
"""

from __future__ import annotations

import re
from typing import Any, Literal

from interlace.connection_config import ConnectionConfig
from pydantic import ConfigDict, Field, field_validator, model_validator

_MASTER = re.compile(r"^(local(\[(\*|\d+)(,\s*\d+)?\])?|spark://\S+|yarn|k8s://\S+|mesos://\S+)$")

# settings Interlace relies on: Arrow transfer (without it pandas turns NULL strings into 'NaN'),
# UTC timestamps, no web UI (a port per process), few shuffle partitions for small data
DEFAULT_CONF: dict[str, str] = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.legacy.createHiveTableByDefault": "false",
}


class SparkConnectionConfig(ConnectionConfig):
    """An Apache Spark cluster (or local mode) reached through pyspark, or a Spark Connect
    server (``remote: sc://host:15002``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    type: Literal["spark"] = "spark"  # type: ignore[assignment]
    master: str | None = None  # local[*], local[2], spark://host:7077, yarn
    remote: str | None = None  # Spark Connect: sc://host:15002
    app_name: str = "interlace"
    """The Spark application's name (shown in the Spark UI)."""
    # the dialect SQL models are written in: DuckDB's (translated by sqlglot, refusing the
    # constructs whose meaning would change, see interlace_connections.spark.sql_checks), or
    # Spark SQL as it is
    dialect: Literal["duckdb", "spark"] = "duckdb"
    # the Hive catalog: tables persist between runs; `in-memory` forgets them with the process
    catalog: Literal["hive", "in-memory"] = "hive"
    warehouse: str = "spark/warehouse"  # relative to the project folder
    # the embedded Derby metastore's folder (relative to the project); ignored when `conf:` sets
    # an external metastore (spark.hadoop.javax.jdo.option.ConnectionURL, hive.metastore.uris)
    metastore: str = "spark/metastore"
    keep_versions: int = Field(default=1, ge=0)  # older published versions kept (for readers)
    log_level: str = "ERROR"  # what Spark itself prints (WARN, INFO, ... for debugging)
    connect_timeout: float = Field(default=60.0, gt=0)  # seconds to start or reach Spark
    conf: dict[str, Any] = Field(default_factory=dict)
    """Other Spark settings, passed as they are (`spark.sql.shuffle.partitions: 8`)."""

    @field_validator("master")
    @classmethod
    def _known_master(cls, value: str | None) -> str | None:
        if value is not None and not _MASTER.match(value.strip()):
            raise ValueError(
                f"master '{value}' is not a Spark master URL: use local[*], local[N], "
                "spark://host:7077, yarn or k8s://..."
            )
        return value

    @field_validator("remote")
    @classmethod
    def _connect_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("sc://"):
            raise ValueError(f"remote '{value}' is not a Spark Connect URL: use sc://host:15002")
        return value

    @model_validator(mode="after")
    def _one_way_in(self) -> SparkConnectionConfig:
        if self.master is not None and self.remote is not None:
            raise ValueError(
                "set either `master` (Spark in this process) or `remote` (a Spark Connect "
                "server), not both"
            )
        return self

    @property
    def effective_master(self) -> str:
        return self.master or "local[*]"

    def settings(self) -> dict[str, str]:
        """Spark settings: Interlace's defaults, then ``conf:`` (which wins)."""
        out = dict(DEFAULT_CONF)
        out.update({str(k): _text(v) for k, v in self.conf.items()})
        return out

    @property
    def external_metastore(self) -> bool:
        """Whether ``conf:`` points the catalog at a metastore other than the embedded Derby."""
        keys = {str(k) for k in self.conf}
        return bool(
            keys
            & {"spark.hadoop.javax.jdo.option.ConnectionURL", "spark.hadoop.hive.metastore.uris"}
            or "spark.sql.catalog.spark_catalog" in keys
        )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
