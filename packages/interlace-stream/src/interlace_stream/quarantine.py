"""The quarantine of a stream: events that did not fit its fields, kept in
``<stream>__quarantine`` beside its table; listed, and replayed (published again) once the
stream's declaration accepts them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interlace_stream.declaration import ID_COLUMN, OFFSET_COLUMN, RECEIVED_COLUMN

if TYPE_CHECKING:
    from interlace.project import Project

    from interlace_stream.kind import StreamInfo
    from interlace_stream.runtime import StreamRuntime


def _session_do(project: Project, info: StreamInfo, fn: Any) -> Any:
    from interlace.opening import open_engines

    engine = open_engines(project, [info.connection])[info.connection]
    try:
        session = engine.session()
        try:
            return fn(session)
        finally:
            session.close()
    finally:
        engine.close()


def quarantined(
    project: Project, info: StreamInfo, limit: int = 100, *, pending_only: bool = False
) -> list[dict[str, Any]]:
    """The quarantined events of a stream, oldest first (blocking)."""
    from interlace_stream.kind import qualified

    table = qualified(info.schema, info.name + "__quarantine")

    def read(session: Any) -> list[dict[str, Any]]:
        if session.relation_kind(info.schema, info.name + "__quarantine") is None:
            return []
        where = " WHERE replayed_at IS NULL" if pending_only else ""
        rows = session.fetch_all(
            f'SELECT "{OFFSET_COLUMN}", "{ID_COLUMN}", CAST("{RECEIVED_COLUMN}" AS VARCHAR), '
            f"payload, error, CAST(replayed_at AS VARCHAR) FROM {table}{where} "
            f'ORDER BY "{OFFSET_COLUMN}" LIMIT {int(limit)}'
        )
        return [
            {
                "offset": r[0],
                "event_id": r[1],
                "received_at": r[2],
                "payload": r[3],
                "error": r[4],
                "replayed_at": r[5],
            }
            for r in rows
        ]

    result: list[dict[str, Any]] = _session_do(project, info, read)
    return result


async def replay(runtime: StreamRuntime, info: StreamInfo, limit: int = 100_000) -> tuple[int, int]:
    """Publish the quarantined events that were not replayed yet again and mark them replayed;
    returns (replayed, accepted). Events that still do not fit are quarantined again (or, on a
    ``validate`` stream, the replay is refused with the first problem)."""
    import asyncio
    import json

    from interlace_stream.kind import qualified

    rows = await asyncio.to_thread(quarantined, runtime.project, info, limit, pending_only=True)
    if not rows:
        return 0, 0
    events = [json.loads(r["payload"]) for r in rows]
    ids = [f"{r['event_id'] or r['offset']}:replay:{r['offset']}" for r in rows]
    result = await runtime.publisher.publish(info.name, events, ids=ids)
    offsets = ", ".join(str(int(r["offset"])) for r in rows)
    table = qualified(info.schema, info.name + "__quarantine")

    def mark(session: Any) -> None:
        session.execute(
            f"UPDATE {table} SET replayed_at = now()::TIMESTAMP "
            f'WHERE "{OFFSET_COLUMN}" IN ({offsets})'
        )

    await asyncio.to_thread(_session_do, runtime.project, info, mark)
    if runtime.committer is not None:
        runtime.committer.kick()
    return len(rows), result.accepted
