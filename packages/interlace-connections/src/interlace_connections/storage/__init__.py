"""Storage connections: ``filesystem``, ``sftp`` and ``s3`` (SPEC §7.1, §14.2).

One :class:`~interlace_connections.storage.base.Storage` interface over a local folder, an SFTP
server and an S3 bucket: ``list``, ``glob``, ``exists``, ``read_bytes``/``open(path, "rb")``,
``write_bytes``/``open(path, "wb")`` and ``delete``, with paths relative to the connection's base.
Models reach them through ``context.storage(NAME)`` and ``context.read_files(NAME, pattern)``;
exports write to them with ``export={..., "connection": NAME}``.

Core finds the three types through the ``interlace.connections`` entry points; they have no SQL
dialect (models do not run on them), only ``create_storage``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interlace.plugins import ConnectionType

from interlace_connections.storage.base import Storage, StorageConnectionError
from interlace_connections.storage.paths import StorageError, StoragePathError

if TYPE_CHECKING:
    from pathlib import Path


def _filesystem(name: str, config: Any, root: Path) -> Storage:
    from interlace_connections.storage.filesystem import FilesystemStorage

    return FilesystemStorage(name, config, root)


def _sftp(name: str, config: Any, root: Path) -> Storage:
    from interlace_connections.storage.sftp import SFTPStorage

    return SFTPStorage(name, config, root)


def _s3(name: str, config: Any, root: Path) -> Storage:
    from interlace_connections.storage.s3 import S3Storage

    return S3Storage(name, config, root)


def filesystem_type() -> ConnectionType:
    """The ``filesystem`` connection type (entry point ``interlace.connections``)."""
    from interlace_connections.storage.config import FilesystemConnectionConfig

    return ConnectionType(
        "filesystem", FilesystemConnectionConfig, None, create_storage=_filesystem
    )


def sftp_type() -> ConnectionType:
    """The ``sftp`` connection type (entry point ``interlace.connections``)."""
    from interlace_connections.storage.config import SFTPConnectionConfig

    return ConnectionType("sftp", SFTPConnectionConfig, None, create_storage=_sftp)


def s3_type() -> ConnectionType:
    """The ``s3`` connection type (entry point ``interlace.connections``)."""
    from interlace_connections.storage.config import S3ConnectionConfig

    return ConnectionType("s3", S3ConnectionConfig, None, create_storage=_s3)


__all__ = [
    "Storage",
    "StorageConnectionError",
    "StorageError",
    "StoragePathError",
    "filesystem_type",
    "s3_type",
    "sftp_type",
]
