"""Extension points: connection types and quality checks come from other distributions.

Distributions register entry points; core discovers them by name and, when one is missing,
says which distribution to install:

- ``interlace.connections``: name = connection ``type``, object = a :class:`ConnectionType`
- ``interlace.checks``: name ``runner``, object = a :class:`~interlace.quality.CheckRunner`
- ``interlace.state``: name = ``state.type``, object = a :class:`StateStoreType`
- ``interlace.strategies``: name = ``strategy``, object = a
  :class:`~interlace.strategies.Strategy` subclass (see :mod:`interlace.strategy_registry`)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from interlace.errors import ConfigError, ProjectError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic import BaseModel
    from sqlglot import exp

    from interlace.config import ProjectConfig
    from interlace.engines.base import Engine, Session
    from interlace.quality import CheckRunner
    from interlace.state.base import StateStore

_T = TypeVar("_T")

CONNECTION_GROUP = "interlace.connections"
CHECK_GROUP = "interlace.checks"
STATE_GROUP = "interlace.state"

# Types that other distributions provide, for the install hint when they are missing.
KNOWN_CONNECTION_TYPES = {
    "postgres": "interlace-connections",
    "mysql": "interlace-connections",
    "sqlite": "interlace-connections",
    "trino": "interlace-connections",
    "snowflake": "interlace-connections",
    "bigquery": "interlace-connections",
    "pyspark": "interlace-connections",
    "spark": "interlace-connections",
    "ibis": "interlace-connections",
    "filesystem": "interlace-connections",
    "sftp": "interlace-connections",
    "s3": "interlace-connections",
}

# State store types other distributions provide (SQLite is built in).
KNOWN_STATE_TYPES = {"postgres": "interlace-connections"}


@dataclass(frozen=True)
class ConnectionType:
    """How to validate and open one kind of connection."""

    name: str
    config_model: type[BaseModel]
    # SQL dialect of models on it; None for storage-only connections (and for types whose
    # dialect depends on the config: then `dialect_for` says it)
    dialect: str | None
    create_engine: Callable[[str, Any, Path], Engine] | None = None
    create_storage: Callable[[str, Any, Path], Any] | None = None
    # the dialect when it depends on the config (a generic ibis connection's `backend:`)
    dialect_for: Callable[[Any], str | None] | None = None

    def dialect_of(self, config: Any) -> str | None:
        """The SQL dialect of models on a connection of this type with ``config``."""
        return self.dialect_for(config) if self.dialect_for is not None else self.dialect


def _duckdb() -> ConnectionType:
    from interlace.connection_config import DuckDBConnectionConfig

    def create(name: str, config: Any, root: Path) -> Engine:
        from interlace.engines.duckdb import DuckDBEngine

        return DuckDBEngine(name, config, root)

    return ConnectionType("duckdb", DuckDBConnectionConfig, "duckdb", create)


def available_connection_types() -> list[str]:
    """Names of every connection type: DuckDB plus those registered (without loading them)."""
    return sorted({"duckdb", *(ep.name for ep in entry_points(group=CONNECTION_GROUP))})


@functools.cache
def connection_type(name: str) -> ConnectionType:
    """The connection type called ``name``, or a ConfigError with the install hint.

    Only the requested type's entry point is loaded, so a broken plugin for another type
    never affects projects that do not use it.
    """
    if name == "duckdb":
        return _duckdb()
    return _provided(
        CONNECTION_GROUP, name, "connection type", ConnectionType, KNOWN_CONNECTION_TYPES, "duckdb"
    )


@dataclass(frozen=True)
class StateStoreType:
    """How to validate ``state:`` of one kind and open that store (``create(config, root)``)."""

    name: str
    config_model: type[BaseModel]
    create: Callable[[Any, Path], StateStore]


@functools.cache
def state_store_type(name: str) -> StateStoreType:
    """The state store type called ``name`` (not ``sqlite``: that one is built in)."""
    return _provided(
        STATE_GROUP, name, "state store type", StateStoreType, KNOWN_STATE_TYPES, "sqlite"
    )


@functools.cache
def check_runner() -> Any | None:
    """The installed quality-check runner, or None when interlace-quality is missing."""
    for ep in entry_points(group=CHECK_GROUP):
        if ep.name == "runner":
            value = ep.load()
            return value() if isinstance(value, type) else value
    return None


def runner_or_error(model: str, file: str | None, line: int | None) -> CheckRunner:
    """The installed check runner for a model that declares checks, or a ProjectError saying
    to install interlace-quality."""
    runner = check_runner()
    if runner is None:
        raise ProjectError(
            "the model declares quality checks, but no check runner is installed",
            file=file,
            line=line,
            model=model,
            hint="pip install interlace-quality",
        )
    return runner  # type: ignore[no-any-return]


class StorageConnection(Protocol):
    """What core asks of a storage connection (``create_storage`` of a ConnectionType).

    The full file interface (list, write, open, ...) is the plugin's; core reads files into a
    model's engine and writes exports through it, and extensions (the stream ``filesystem``
    adapter) find, read and delete files with the methods below.
    """

    name: str

    def glob(self, pattern: str) -> list[str]:
        """Paths (relative to the connection's base) of the files matching ``pattern``."""

    def read_bytes(self, path: str) -> bytes:
        """The content of the file ``path``."""

    def delete(self, path: str, *, missing_ok: bool = False) -> None:
        """Delete the file ``path``."""

    def url(self, path: str = "") -> str:
        """Where ``path`` is, for people (``s3://bucket/key``, ``sftp://user@host/...``)."""

    def read_into(
        self, session: Session, pattern: str, file_format: str | None = None, **options: Any
    ) -> Any:
        """The files matching ``pattern`` as a lazy ibis table on ``session``'s engine."""

    def export(
        self,
        session: Session,
        query: exp.Expr,
        path: str,
        file_format: str,
        options: Mapping[str, Any],
    ) -> str:
        """Write the rows of ``query`` to ``path`` with the engine's COPY; returns its URL."""

    def close(self) -> None: ...


def open_storage(config: ProjectConfig, name: str, root: Path) -> StorageConnection:
    """The storage connection ``name`` of a project (filesystem, SFTP, S3), opened lazily."""
    connection = config.connections.get(name)
    if connection is None:
        raise ConfigError(
            f"there is no connection called '{name}'",
            hint=f"configured connections: {', '.join(config.connections) or 'none'}",
        )
    kind = connection_type(connection.type)
    if kind.create_storage is None:
        raise ConfigError(
            f"connection '{name}' is a {connection.type} connection, not a storage connection",
            hint="name a connection of type filesystem, sftp or s3",
        )
    storage: StorageConnection = kind.create_storage(name, connection, root)
    return storage


def _provided(
    group: str, name: str, what: str, kind: type[_T], known: dict[str, str], builtin: str
) -> _T:
    """Load the ``name`` entry point of ``group`` as a ``kind``, or explain what to install."""
    for ep in entry_points(group=group, name=name):
        try:
            value = ep.load()
            provided = value() if callable(value) and not isinstance(value, kind) else value
        except Exception as exc:
            raise ConfigError(
                f"{what} '{name}' from {ep.value} failed to load: {exc}",
                hint="reinstall the distribution that provides it",
            ) from None
        if isinstance(provided, kind):
            return provided
        raise ConfigError(
            f"entry point '{name}' ({ep.value}) does not provide a {kind.__name__}",
            hint="report this to the distribution that provides it",
        )
    package = known.get(name)
    if package:
        raise ConfigError(
            f"{what} '{name}' is provided by {package}, which is not installed",
            hint=f"install it: pip install {package}",
        )
    names = sorted({builtin, *(ep.name for ep in entry_points(group=group))})
    raise ConfigError(f"unknown {what} '{name}'", hint=f"available types: {', '.join(names)}")
