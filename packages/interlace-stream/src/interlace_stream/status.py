"""Stream state read from disk, without a running server (``interlace stream list`` when no
server runs for the project):
the log's end (scanned read-only), the committed offset and quarantine count (warehouse), the
consumers' cursors (state store) and the recent publish rate (the log's receive times)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from interlace_stream.kind import OFFSETS_TABLE, project_streams
from interlace_stream.log import SUFFIX, decode_all
from interlace_stream.runtime import adapter_configs, streaming_settings

if TYPE_CHECKING:
    from pathlib import Path

    from interlace.project import Project


def _log_end(folder: Path) -> tuple[int, int, list[float]]:
    """(next offset, bytes, receive times of the last minute) of a stream's log folder."""
    next_offset, size = 0, 0
    recent: list[float] = []
    horizon = time.time() - 60
    for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
        data = path.read_bytes()
        records, valid = decode_all(data)
        size += valid
        next_offset = records[-1].offset + 1 if records else max(next_offset, int(path.stem))
        recent.extend(r.received_at for r in records if r.received_at >= horizon)
    return next_offset, size, recent


def offline_status(project: Project, only: str | None = None) -> list[dict[str, Any]]:
    """One summary per stream (the shape of ``GET /api/v1/streams``); each configured adapter
    is listed with the state ``not running`` (its health is known only inside a server)."""
    from interlace.opening import open_engines, open_state

    from interlace_stream.kind import qualified

    streams = project_streams(project)
    settings = streaming_settings(project)
    configured = adapter_configs(project, streams)
    store: Any = open_state(project)
    out = []
    try:
        for name, info in sorted(streams.items()):
            if only is not None and name != only:
                continue
            durable, size, recent = _log_end(settings.log_path(project.root) / name)
            committed = quarantined = 0
            engine = open_engines(project, [info.connection])[info.connection]
            try:
                session = engine.session()
                if session.relation_kind(info.schema, OFFSETS_TABLE) is not None:
                    row = session.fetch_one(
                        f"SELECT committed FROM {qualified(info.schema, OFFSETS_TABLE)} "
                        f"WHERE stream = '{name}'"
                    )
                    committed = int(row[0]) if row else 0
                if session.relation_kind(info.schema, name + "__quarantine") is not None:
                    row = session.fetch_one(
                        f"SELECT count(*) FROM {qualified(info.schema, name + '__quarantine')} "
                        "WHERE replayed_at IS NULL"
                    )
                    quarantined = int(row[0]) if row else 0
                session.close()
            finally:
                engine.close()
            durable = max(durable, committed)
            out.append(
                {
                    "name": name,
                    "mode": info.mode,
                    "table": info.table,
                    "rate": round(len(recent) / 60, 2),
                    "durable_offset": durable,
                    "committed_offset": committed,
                    "lag": durable - committed,
                    "quarantined": quarantined,
                    "log_bytes": size,
                    "consumers": [
                        {
                            "consumer": c.consumer,
                            "committed": c.committed,
                            "lag": max(0, committed - c.committed),
                        }
                        for c in store.stream_cursors(project.env, name)
                    ],
                    # adapters run only inside a server: here they are known by config only
                    "adapters": [
                        {
                            "name": str(a.get("name", "?")),
                            "type": str(a.get("type", "?")),
                            "stream": name,
                            "state": "not running",
                        }
                        for a in configured
                        if a.get("stream") == name
                    ],
                }
            )
    finally:
        store.close()
    return out
