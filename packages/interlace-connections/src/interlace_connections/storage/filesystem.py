"""``type: filesystem``: a base folder on the local (or a mounted) file system."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from interlace_connections.storage.base import Storage, StorageConnectionError
from interlace_connections.storage.paths import StorageError, StoragePathError, folder_of

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import IO

    from interlace.engines.base import Session

    from interlace_connections.storage.config import FilesystemConnectionConfig


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")


def _is_partial(name: str) -> bool:
    return name.startswith(".") and name.endswith(".partial")


class FilesystemStorage(Storage):
    """Files under ``path`` (relative to the project folder, or absolute).

    Symbolic links that lead out of the base folder are refused like ``..`` paths.
    """

    kind: ClassVar[str] = "filesystem"
    config: FilesystemConnectionConfig

    def __init__(self, name: str, config: FilesystemConnectionConfig, root: Path) -> None:
        super().__init__(name, config)
        base = Path(config.path).expanduser()
        self.base = (base if base.is_absolute() else root / base).resolve()

    def url(self, path: str = "") -> str:
        return str(self.base / path) if path else str(self.base)

    def ping(self) -> None:
        if self.base.is_dir():
            return
        if self.base.exists():
            raise StorageConnectionError(
                f"connection '{self.name}': {self.base} is not a folder",
                hint="point `path` of this connection at a folder",
            )
        if not self.config.create:
            raise StorageConnectionError(
                f"connection '{self.name}': folder {self.base} does not exist",
                hint="create it, fix `path`, or set `create: true`",
            )
        folder = self.base.parent
        while not folder.exists():
            folder = folder.parent
        if not os.access(folder, os.W_OK):
            raise StorageConnectionError(
                f"connection '{self.name}': cannot create {self.base}: {folder} is not writable",
                hint="fix `path` of this connection or the folder's permissions",
            )

    # ------------------------------------------------------------------ primitives
    def _local(self, path: str) -> Path:
        """The local file of ``path``; refuses links that resolve outside the base."""
        local = self.base / path if path else self.base
        real = local.resolve()
        if real != self.base and not real.is_relative_to(self.base):
            raise StoragePathError(
                f"connection '{self.name}': path {path!r} leads outside the base folder "
                f"{self.base} (through a symbolic link)",
                hint="keep the files inside the connection's folder",
            )
        return local

    def _list(self, prefix: str) -> Iterable[str]:
        folder = self._local(folder_of(prefix))
        if not folder.is_dir():
            return []
        found = []
        for current, dirs, files in os.walk(folder):
            dirs.sort()
            here = Path(current)
            for file in files:
                if _is_partial(file):
                    continue
                rel = (here / file).relative_to(self.base).as_posix()
                if rel.startswith(prefix) and (here / file).is_file():
                    found.append(rel)
        return found

    def _exists(self, path: str) -> bool:
        return self._local(path).is_file()

    def _read(self, path: str) -> bytes:
        return self._local(path).read_bytes()

    def _write(self, path: str, data: bytes) -> None:
        target = self._prepare(path)
        partial = _partial(target)
        try:
            partial.write_bytes(data)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)

    def _open_read(self, path: str) -> IO[bytes]:
        return open(self._local(path), "rb")

    def _open_write(self, path: str) -> IO[bytes]:
        return open(self._prepare(path), "wb")

    def _delete(self, path: str) -> None:
        self._local(path).unlink()

    def _prepare(self, path: str) -> Path:
        """The local file to write ``path`` to, with its folder created."""
        if not self.base.is_dir() and not self.config.create:
            raise StorageError(
                f"connection '{self.name}': folder {self.base} does not exist",
                hint="create it, fix `path`, or set `create: true`",
            )
        target = self._local(path)
        if target.is_dir():
            raise StorageError(
                f"connection '{self.name}': cannot write {path!r}: it is a folder",
                hint="give a file name, e.g. exports/orders.parquet",
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    # ------------------------------------------------------------------ engine bridge
    @contextmanager
    def _engine_sources(
        self, session: Session, paths: list[str]
    ) -> Iterator[tuple[list[str], bool]]:
        yield [str(self._local(p)) for p in paths], False

    @contextmanager
    def _engine_target(self, session: Session, path: str) -> Iterator[str]:
        with self._guard("write", path):
            target = self._prepare(path)
        partial = _partial(target)
        try:
            yield str(partial)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
