"""Idempotency: event ids a stream has stored recently, so a retried publish stores nothing twice.

The ids live in the log records themselves; when the log drops a segment, the ids of it still
inside the window are first written to ``dedup.snapshot`` (a new file renamed over the old, so
a crash leaves one or the other), and :meth:`Deduplicator.load` reads that file back at start
before the log's segments add theirs. Memory is bounded by ``max_ids`` (the oldest go first).
"""

from __future__ import annotations

import json
import os
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

DEFAULT_WINDOW = 24 * 3600.0
DEFAULT_MAX_IDS = 1_000_000
SNAPSHOT = "dedup.snapshot"


class Deduplicator:
    """Event id -> (offset, received_at) within ``window`` seconds."""

    def __init__(
        self, folder: Path, *, window: float = DEFAULT_WINDOW, max_ids: int = DEFAULT_MAX_IDS
    ) -> None:
        self.folder = folder
        self.window = window
        self.max_ids = max_ids
        self._ids: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def load(self) -> None:
        path = self.folder / SNAPSHOT
        if not path.exists():
            return
        horizon = time.time() - self.window
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                event_id, offset, at = json.loads(line)
            except ValueError:
                continue  # never a torn file (it is renamed into place), but be lenient
            if at >= horizon:
                self._ids[event_id] = (int(offset), float(at))

    def get(self, event_id: str) -> int | None:
        """The offset ``event_id`` was stored at, when it is inside the window."""
        found = self._ids.get(event_id)
        if found is None:
            return None
        if found[1] < time.time() - self.window:
            del self._ids[event_id]
            return None
        return found[0]

    def add(self, event_id: str, offset: int, at: float) -> None:
        if not event_id:
            return
        self._ids[event_id] = (offset, at)
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.max_ids:
            self._ids.popitem(last=False)

    def add_many(self, items: Iterable[tuple[str, int, float]]) -> None:
        for event_id, offset, at in items:
            self.add(event_id, offset, at)

    def save(self) -> None:
        """Write the ids inside the window to the snapshot (atomically)."""
        horizon = time.time() - self.window
        path = self.folder / SNAPSHOT
        temporary = path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            for event_id, (offset, at) in list(self._ids.items()):  # a copy: the loop adds
                if at >= horizon:
                    handle.write(json.dumps([event_id, offset, at]) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
        dir_fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
