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
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from interlace_http.settings import Seconds  # noqa: TC002 (pydantic reads it at runtime)
from pydantic import Field

from interlace_stream.adapters.base import Adapter, AdapterConfig, Rejected

if TYPE_CHECKING:
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
    path: str = Field(min_length=1)  # the folder to watch (relative to the project folder)
    pattern: str = "*"  # which file names to take (a glob)
    format: Literal["auto", "json", "ndjson", "csv"] = "auto"  # auto: by the file's suffix
    done_dir: str = "done"  # relative to ``path``
    failed_dir: str = "failed"
    id_field: str | None = None
    batch_size: int = Field(default=1000, ge=1)  # rows per publish (one fsync each)
    # a full look at the folder at least this often, besides change notifications (which can
    # miss files: on network mounts, or while the watcher starts)
    rescan_interval: Seconds = Field(default=1.0, gt=0)


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
            ids = []
            for offset, row in enumerate(chunk):
                value = row.get(cfg.id_field) if cfg.id_field else None
                ids.append(
                    str(value)
                    if value not in (None, "")
                    else f"file:{path.name}:{digest}:{start + offset}"
                )
            if not await self.deliver(publisher, chunk, ids):
                self.count("rejected")
                self._fail(path, digest, self._last_error or "rejected by the stream's schema")
                return
        _move(path, self.folder / cfg.done_dir, digest)
        self.count("acked")

    def _fail(self, path: Path, digest: str, reason: str) -> None:
        target = _move(path, self.folder / self.config.failed_dir, digest)
        target.with_name(target.name + ".error").write_text(reason + "\n", encoding="utf-8")
