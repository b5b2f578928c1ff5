"""``filesystem``: publish the rows of files dropped into a folder, then move each to ``done/``.

Files are JSON (an object or an array of objects), NDJSON (``.ndjson``/``.jsonl``, one object a
line) or CSV (a header row; values stay strings). A file moves to ``done/`` only after all its
rows were published (durable); a file that cannot be read moves to ``failed/`` with a
``<name>.error`` note beside it. Files already in the folder when the adapter starts (those that
arrived while it was stopped) are taken first. Delivery is at-least-once: a crash between
publish and the move publishes the file again on restart, and the stream drops the copies by
their ids (``id_field`` of each row, else ``file:<name>:<content hash>:<row>``).

Write a file under a temporary name and rename it into the folder when it is complete: names
starting with ``.`` or ending in ``.tmp``/``.part`` are ignored. Example::

    adapters:
      - name: drops
        type: filesystem
        stream: orders
        path: inbox/orders          # relative to the project folder
        pattern: "*.ndjson"

With ``connection:`` it polls a storage connection of the project instead (``filesystem``,
``sftp`` or ``s3``, from interlace-connections, opened through core's storage seam): every
``poll_interval`` it lists ``path``/``pattern`` there and publishes each new file. Files stay
where they are (unless ``delete: true``): the adapter remembers each file it ingested, with its
content hash, in ``.interlace/streams/adapters/<name>.files.json`` (written atomically after the
file's rows are durable), so a restart does not publish it again; a crash between the publish
and that write publishes the file again and the stream drops the copies by their ids
(``file:<path>:<content hash>:<row>``). A file removed from the storage is forgotten, so a new
file under the same name is taken. Example::

    adapters:
      - name: landing_orders
        type: filesystem
        stream: orders
        connection: landing         # an s3 / sftp / filesystem connection
        path: orders/incoming       # relative to the connection's base
        pattern: "*.ndjson"
        poll_interval: 30s
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
import time
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from interlace_http.settings import Seconds  # noqa: TC002 (pydantic reads it at runtime)
from pydantic import Field, model_validator

from interlace_stream.adapters.base import Adapter, AdapterConfig, Rejected, wait_for_stop

if TYPE_CHECKING:
    from interlace.plugins import StorageConnection

    from interlace_stream.adapters.base import Publisher

_IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")
_FORMATS: dict[str, Literal["json", "ndjson", "csv"]] = {
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".csv": "csv",
}


class FilesystemConfig(AdapterConfig):
    """Config of a ``filesystem`` adapter (see the module docstring)."""

    type: Literal["filesystem"] = "filesystem"
    # the folder to watch: relative to the project folder, or to the connection's base
    path: str = ""
    # a storage connection of the project (filesystem, sftp, s3) to poll instead of a folder
    connection: str | None = Field(default=None, min_length=1)
    poll_interval: Seconds = Field(default=5.0, gt=0)  # with `connection`: time between looks
    delete: bool = False  # with `connection`: delete each file once its rows are durable
    pattern: str = "*"  # which file names to take (a glob)
    format: Literal["auto", "json", "ndjson", "csv"] = "auto"  # auto: by the file's suffix
    done_dir: str = "done"  # relative to ``path``
    failed_dir: str = "failed"
    id_field: str | None = None
    batch_size: int = Field(default=1000, ge=1)  # rows per publish (one fsync each)
    # a full look at the folder at least this often, besides change notifications (which can
    # miss files: on network mounts, or while the watcher starts)
    rescan_interval: Seconds = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _where(self) -> FilesystemConfig:
        if self.connection is None and not self.path.strip():
            raise ValueError("give 'path' (the folder to watch) or 'connection' (a storage)")
        if self.connection is None and self.delete:
            raise ValueError(
                "'delete' is for a storage 'connection' (a folder's files move to done/)"
            )
        return self


def read_rows(name: str, content: bytes, fmt: str) -> list[dict[str, Any]]:
    """The rows of one file; raises :class:`Rejected` naming the file (and line) when it cannot
    be read."""
    if fmt == "auto":
        suffix = Path(name).suffix.lower()
        if suffix not in _FORMATS:
            raise Rejected(
                f"file '{name}': unknown format (suffix '{suffix}'); name it .json, .ndjson, "
                ".jsonl or .csv, or set 'format' on the adapter"
            )
        fmt = _FORMATS[suffix]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Rejected(f"file '{name}': not UTF-8 ({exc})") from None
    if fmt == "csv":
        return [dict(row) for row in csv.DictReader(io.StringIO(text))]
    if fmt == "ndjson":
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise Rejected(f"file '{name}' line {number}: not JSON ({exc})") from None
            if not isinstance(value, dict):
                raise Rejected(f"file '{name}' line {number}: expected a JSON object")
            rows.append(value)
        return rows
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise Rejected(f"file '{name}': not JSON ({exc})") from None
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise Rejected(f"file '{name}': expected a JSON object or an array of objects")


def _move(path: Path, folder: Path, tag: str) -> Path:
    """Move ``path`` into ``folder`` (created if needed) without overwriting anything there."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{tag}{path.suffix}"
    path.replace(target)
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)  # the move itself survives a crash
    finally:
        os.close(descriptor)
    return target


class FilesystemAdapter(Adapter):
    """Watches a folder and publishes the rows of each new file (see the module docstring)."""

    type_name: ClassVar[str] = "filesystem"
    config_model: ClassVar[type[AdapterConfig]] = FilesystemConfig
    config: FilesystemConfig

    @property
    def folder(self) -> Path:
        path = Path(self.config.path)
        return path if path.is_absolute() else self.project_dir / path

    async def session(self, publisher: Publisher, stop: asyncio.Event) -> None:
        if self.config.connection is not None:
            await self.storage_session(publisher, stop)
            return
        from watchfiles import awatch

        folder = self.folder
        if not folder.is_dir():
            raise FileNotFoundError(
                f"folder '{folder}' does not exist (create it or fix 'path' of adapter "
                f"'{self.config.name}')"
            )
        self.mark_connected()
        await self.scan(publisher)  # what arrived while the adapter was stopped
        async for _changes in awatch(
            folder,
            stop_event=stop,
            recursive=False,
            debounce=100,
            step=20,
            watch_filter=None,
            rust_timeout=int(self.config.rescan_interval * 1000),
            yield_on_timeout=True,  # an empty set: time for the periodic rescan
        ):
            await self.scan(publisher)
        if not stop.is_set():
            raise FileNotFoundError(f"stopped watching folder '{folder}'")

    def pending_files(self) -> list[Path]:
        """The files waiting in the folder, oldest first."""
        files = []
        for entry in os.scandir(self.folder):
            name = entry.name
            if name.startswith(".") or name.endswith(_IGNORED_SUFFIXES):
                continue
            if not entry.is_file() or not fnmatch(name, self.config.pattern):
                continue
            files.append((entry.stat().st_mtime, name, Path(entry.path)))
        return [path for _, _, path in sorted(files)]

    async def scan(self, publisher: Publisher) -> None:
        """Publish every waiting file, then move it out of the folder."""
        for path in self.pending_files():
            await self.take(path, publisher)

    async def take(self, path: Path, publisher: Publisher) -> None:
        """Publish the rows of one file in batches, then move it to ``done/`` (or ``failed/``)."""
        cfg = self.config
        try:
            content = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:  # taken by someone else meanwhile
            return
        digest = hashlib.sha256(content).hexdigest()[:16]
        self.count("received")
        try:
            rows = read_rows(path.name, content, cfg.format)
        except Rejected as exc:
            self.reject(exc)
            self._fail(path, digest, str(exc))
            return
        for start in range(0, len(rows), cfg.batch_size):
            chunk = rows[start : start + cfg.batch_size]
            ids = row_ids(chunk, cfg.id_field, f"file:{path.name}:{digest}", start)
            if not await self.deliver(publisher, chunk, ids):
                self.count("rejected")
                self._fail(path, digest, self._last_error or "rejected by the stream's schema")
                return
        _move(path, self.folder / cfg.done_dir, digest)
        self.count("acked")

    def _fail(self, path: Path, digest: str, reason: str) -> None:
        target = _move(path, self.folder / self.config.failed_dir, digest)
        target.with_name(target.name + ".error").write_text(reason + "\n", encoding="utf-8")

    # ------------------------------------------------------------------ a storage connection
    @property
    def ledger_file(self) -> Path:
        """Where the files taken from a storage connection are remembered."""
        return self.state_dir / f"{self.config.name}.files.json"

    def load_ledger(self) -> dict[str, dict[str, Any]]:
        """``{"<connection>:<path>": {"status", "digest", "rows", "at", ...}}`` of the files
        already taken (ingested or failed)."""
        value = self.read_state(
            self.ledger_file,
            "delete it to take every file again (the stream drops the copies)",
        )
        files = value.get("files") if isinstance(value, dict) else None
        return dict(files) if isinstance(files, dict) else {}

    def save_ledger(self, files: dict[str, dict[str, Any]]) -> None:
        """Write the file list atomically."""
        self.write_state(self.ledger_file, {"version": 1, "files": files})

    def open_storage(self) -> StorageConnection:
        """The storage connection the config names, opened through core's storage seam."""
        from interlace.plugins import open_storage
        from interlace.project import Project, load_project

        project = self.project if isinstance(self.project, Project) else None
        if project is None:
            project = load_project(self.project_dir)
        assert self.config.connection is not None
        return open_storage(project.config, self.config.connection, project.root)

    def storage_pattern(self) -> str:
        folder = self.config.path.strip().strip("/")
        return f"{folder}/{self.config.pattern}" if folder not in ("", ".") else self.config.pattern

    async def storage_session(self, publisher: Publisher, stop: asyncio.Event) -> None:
        """Poll the storage connection until ``stop`` is set (errors end the session: the
        adapter is down and tries again with backoff)."""
        storage = await asyncio.to_thread(self.open_storage)
        try:
            files = await asyncio.to_thread(self.load_ledger)
            while not stop.is_set():
                await self.poll_storage(storage, files, publisher)
                await wait_for_stop(stop, self.config.poll_interval)
        finally:
            await asyncio.to_thread(storage.close)

    async def poll_storage(
        self, storage: StorageConnection, files: dict[str, dict[str, Any]], publisher: Publisher
    ) -> None:
        """List the storage once and publish each file not taken yet, in name order."""
        connection = self.config.connection
        paths = await asyncio.to_thread(storage.glob, self.storage_pattern())
        self.mark_connected()
        present = {f"{connection}:{path}" for path in paths}
        gone = [key for key in files if key.startswith(f"{connection}:") and key not in present]
        for path in sorted(paths):
            name = path.rsplit("/", 1)[-1]
            if name.startswith(".") or name.endswith(_IGNORED_SUFFIXES):
                continue
            if f"{connection}:{path}" in files:
                continue
            await self.take_from_storage(storage, path, files, publisher)
        if gone:  # removed from the storage: a new file under that name is new
            for key in gone:
                del files[key]
            await asyncio.to_thread(self.save_ledger, files)

    async def take_from_storage(
        self,
        storage: StorageConnection,
        path: str,
        files: dict[str, dict[str, Any]],
        publisher: Publisher,
    ) -> None:
        """Publish the rows of one file, then remember it (and delete it with ``delete``)."""
        cfg = self.config
        key = f"{cfg.connection}:{path}"
        content = await asyncio.to_thread(storage.read_bytes, path)
        digest = hashlib.sha256(content).hexdigest()[:16]
        self.count("received")
        try:
            rows = read_rows(path, content, cfg.format)
        except Rejected as exc:
            self.reject(exc)
            files[key] = {
                "status": "failed",
                "digest": digest,
                "error": str(exc),
                "at": time.time(),
            }
            await asyncio.to_thread(self.save_ledger, files)
            return
        for start in range(0, len(rows), cfg.batch_size):
            chunk = rows[start : start + cfg.batch_size]
            ids = row_ids(chunk, cfg.id_field, f"file:{path}:{digest}", start)
            if not await self.deliver(publisher, chunk, ids):
                self.count("rejected")
                files[key] = {
                    "status": "failed",
                    "digest": digest,
                    "error": self._last_error or "rejected by the stream's schema",
                    "at": time.time(),
                }
                await asyncio.to_thread(self.save_ledger, files)
                return
        # the rows are durable: remember the file (a crash before this publishes it again,
        # and the stream drops the copies by their ids)
        files[key] = {"status": "done", "digest": digest, "rows": len(rows), "at": time.time()}
        await asyncio.to_thread(self.save_ledger, files)
        self.count("acked")
        if cfg.delete:
            await asyncio.to_thread(storage.delete, path, missing_ok=True)


def row_ids(rows: list[dict[str, Any]], id_field: str | None, prefix: str, start: int) -> list[str]:
    """Each row's event id: its ``id_field`` value, else ``prefix:position`` in the file (the
    same file read again gives the same ids, so a redelivery is dropped as a copy)."""
    ids = []
    for offset, row in enumerate(rows):
        value = row.get(id_field) if id_field else None
        ids.append(str(value) if value not in (None, "") else f"{prefix}:{start + offset}")
    return ids
