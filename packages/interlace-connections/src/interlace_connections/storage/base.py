"""The one interface every storage connection implements (filesystem, SFTP, S3).

A :class:`Storage` is a folder of files: paths are relative to the connection's base (a local
folder, a folder on the server, a bucket prefix) and use ``/``. Each type implements a few
primitives (``_list``, ``_read``, ``_write``, ...); this class adds path checks, glob patterns,
read-only enforcement, readable errors, and the bridge to a model's engine: reading files into
it (:meth:`read_into`) and writing exports with its COPY (:meth:`export`).

Example::

    with context.storage("landing") as landing:          # or any Storage
        for path in landing.glob("orders/**/*.csv"):
            print(path, len(landing.read_bytes(path)))
        landing.write_bytes("done/marker.txt", b"ok")
"""

from __future__ import annotations

import builtins
import uuid
from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from interlace.errors import InterlaceConnectionError, InterlaceError

from interlace_connections.storage import engine_io
from interlace_connections.storage.paths import (
    StorageError,
    clean,
    glob_regex,
    has_magic,
    literal_prefix,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from contextlib import AbstractContextManager
    from types import TracebackType
    from typing import IO

    from interlace.connection_config import ConnectionConfig
    from interlace.engines.base import Session
    from sqlglot import exp


class StorageConnectionError(StorageError, InterlaceConnectionError):
    """The storage cannot be reached or refuses the login (host, credentials, host key)."""


class Storage(ABC):
    """Files under one base location, the same way for every storage type."""

    kind: ClassVar[str]

    def __init__(self, name: str, config: ConnectionConfig) -> None:
        self.name = name
        self.config = config

    # ------------------------------------------------------------------ the file interface
    def list(self, prefix: str = "") -> list[str]:
        """Every file whose path starts with ``prefix`` (recursively), sorted.

        ``prefix`` is a plain string prefix, like S3's: ``"orders/"`` lists the folder,
        ``"orders/2024"`` also matches ``orders/2024-01.csv``.
        """
        start = clean(prefix, self.name)
        with self._guard("list", prefix or "the base folder"):
            return sorted(self._list(start))

    def glob(self, pattern: str) -> builtins.list[str]:
        """Files matching ``pattern`` (``*``, ``?``, ``[..]`` within a folder, ``**`` across)."""
        cleaned = clean(pattern, self.name)
        if not has_magic(cleaned):
            return [cleaned] if cleaned and self.exists(cleaned) else []
        regex = glob_regex(cleaned)
        with self._guard("list", pattern):
            return sorted(p for p in self._list(literal_prefix(cleaned)) if regex.fullmatch(p))

    def exists(self, path: str) -> bool:
        """True when ``path`` is a file."""
        file = self._file(path)
        with self._guard("check", file):
            return self._exists(file)

    def read_bytes(self, path: str) -> bytes:
        """The content of the file ``path``."""
        file = self._file(path)
        with self._guard("read", file):
            return self._read(file)

    def read_text(self, path: str, encoding: str = "utf-8") -> str:
        return self.read_bytes(path).decode(encoding)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` (folders are created; the file appears whole or not)."""
        file = self._file(path)
        self._check_writable(file)
        with self._guard("write", file):
            self._write(file, bytes(data))

    def write_text(self, path: str, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(path, text.encode(encoding))

    def open(self, path: str, mode: Literal["rb", "wb"] = "rb") -> IO[bytes]:
        """A binary file object to stream ``path`` (``"rb"``) or write it (``"wb"``)."""
        file = self._file(path)
        if mode == "rb":
            with self._guard("read", file):
                return self._open_read(file)
        if mode == "wb":
            self._check_writable(file)
            with self._guard("write", file):
                return self._open_write(file)
        raise ValueError(f"mode must be 'rb' or 'wb', not {mode!r}")

    def delete(self, path: str, *, missing_ok: bool = False) -> None:
        """Delete the file ``path`` (an error when it does not exist, unless ``missing_ok``)."""
        file = self._file(path)
        self._check_writable(file)
        with self._guard("delete", file):
            if not self._exists(file):
                if missing_ok:
                    return
                raise self._not_found(file)
            self._delete(file)

    @abstractmethod
    def url(self, path: str = "") -> str:
        """Where ``path`` is, for people (``s3://bucket/key``, ``sftp://user@host/...``)."""

    @abstractmethod
    def ping(self) -> None:
        """Raise a :class:`StorageConnectionError` when the storage cannot be reached."""

    def close(self) -> None:  # noqa: B027 (only network storages hold something to release)
        """Release network connections (the storage reconnects when used again)."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.url()}>"

    # ------------------------------------------------------------------ the engine bridge
    def read_into(
        self, session: Session, pattern: str, file_format: str | None = None, **options: Any
    ) -> Any:
        """The files matching ``pattern`` as a lazy ibis table on ``session``'s engine.

        The engine reads the files itself (DuckDB ``read_csv``/``read_parquet``/``read_json``):
        S3 through httpfs, local folders directly; SFTP files are first copied to a local
        temporary folder and loaded into a temporary table of the session.
        """
        fmt = engine_io.reader_format(pattern, file_format, self.name)
        engine_io.require_duckdb(session, self.name, "read files into a model")
        files = self.glob(pattern)
        if not files:
            raise StorageError(
                f"connection '{self.name}': no files match {pattern!r} under {self.url()}",
                hint="check the pattern: '*' stays within a folder, '**' crosses folders",
            )
        try:
            with self._engine_sources(session, files) as (locations, copy_in):
                query = engine_io.reader_query(fmt, locations, options)
                if not copy_in:
                    return session.ibis().sql(query.sql(dialect="duckdb"), dialect="duckdb")
                temp = f"__il_files_{uuid.uuid4().hex[:12]}"
                session.execute(engine_io.create_temp_table(temp, query))
                return session.ibis().table(temp)
        except InterlaceError:
            raise
        except Exception as exc:
            raise self._engine_error(exc, f"read {pattern!r}") from None

    def export(
        self,
        session: Session,
        query: exp.Expr,
        path: str,
        file_format: str,
        options: Mapping[str, Any],
    ) -> str:
        """Write the rows of ``query`` to ``path`` with the engine's COPY; returns its URL."""
        file = self._file(path)
        self._check_writable(file)
        try:
            with self._engine_target(session, file) as location:
                session.copy_to_file(query, location, file_format, options)
        except InterlaceError:
            raise
        except Exception as exc:
            raise self._engine_error(exc, f"write {file!r}") from None
        return self.url(file)

    # ------------------------------------------------------------------ for the types
    @abstractmethod
    def _list(self, prefix: str) -> Iterable[str]:
        """Paths (relative to the base) of the files whose path starts with ``prefix``."""

    @abstractmethod
    def _exists(self, path: str) -> bool: ...

    @abstractmethod
    def _read(self, path: str) -> bytes: ...

    @abstractmethod
    def _write(self, path: str, data: bytes) -> None: ...

    @abstractmethod
    def _open_read(self, path: str) -> IO[bytes]: ...

    @abstractmethod
    def _open_write(self, path: str) -> IO[bytes]: ...

    @abstractmethod
    def _delete(self, path: str) -> None: ...

    @abstractmethod
    def _engine_sources(
        self, session: Session, paths: builtins.list[str]
    ) -> AbstractContextManager[tuple[builtins.list[str], bool]]:
        """Yield ``(locations the engine reads, whether to copy the rows in)`` for ``paths``."""

    @abstractmethod
    def _engine_target(self, session: Session, path: str) -> AbstractContextManager[str]:
        """Yield the location the engine writes ``path`` to; publish it when the block ends."""

    def _translate(self, exc: Exception, action: str, path: str) -> InterlaceError:
        """A readable error for a failed primitive (types add their own causes)."""
        if isinstance(exc, FileNotFoundError):
            return self._not_found(path)
        return StorageError(f"connection '{self.name}': cannot {action} {path!r}: {exc}")

    def _engine_error(self, exc: Exception, action: str) -> InterlaceError:
        """A readable error for a failed engine read or COPY."""
        lines = [line for line in str(exc).strip().splitlines() if line.strip()]
        detail = lines[0] if lines else type(exc).__name__
        return StorageError(
            f"connection '{self.name}': cannot {action} at {self.url()}: {detail}",
            hint="check the path, the file format and the connection's settings",
        )

    # ------------------------------------------------------------------ helpers
    def _file(self, path: str) -> str:
        file = clean(path, self.name)
        if not file or file.endswith("/"):
            raise StorageError(
                f"connection '{self.name}': {path!r} is a folder, not a file path",
                hint="give a file path such as 'orders/2024.csv'",
            )
        return file

    def _check_writable(self, path: str) -> None:
        if self.config.access == "read":
            raise StorageError(
                f"connection '{self.name}' is read-only (access: read): cannot write {path!r}",
                hint="write to another connection, or remove `access: read` from this one",
            )

    def _not_found(self, path: str) -> StorageError:
        return StorageError(
            f"connection '{self.name}': file {path!r} does not exist ({self.url(path)})",
            hint="list the files with storage.list() or check the path",
        )

    @contextmanager
    def _guard(self, action: str, path: str) -> Iterator[None]:
        try:
            yield
        except InterlaceError:
            raise
        except Exception as exc:
            raise self._translate(exc, action, path) from None
