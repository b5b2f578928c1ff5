"""Stream consumer cursors: how far each named consumer of a stream has acknowledged, and who
holds the right to read next (a lease), so two processes consuming under one name never take
the same events at once.

``consume`` takes the lease (free, expired, or already its own) and reads the events after
``committed``; ``ack`` moves ``committed`` forward, only for the lease holder. A consumer that
dies without acking loses its lease when it expires and the next one reads the same events
again: at-least-once. The SQL is shared with the PostgreSQL store. Example::

    cursor = store.lease_stream_cursor("dev", "orders", "billing", owner="p1", lease=30, now=t)
    ...                                   # read the events after cursor.committed
    store.ack_stream_cursor("dev", "orders", "billing", owner="p1", offset=42, now=t)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from interlace.state.mixin import StoreMixin

# the SQLite store's migration that creates the cursors' table (appended to its MIGRATIONS)
MIGRATION = """
    CREATE TABLE stream_cursors (
        env TEXT NOT NULL,
        stream TEXT NOT NULL,
        consumer TEXT NOT NULL,
        committed INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_expires REAL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (env, stream, consumer)
    );
"""


@dataclass(frozen=True, kw_only=True)
class StreamCursor:
    """A consumer's position: ``committed`` is the first offset it has not acknowledged."""

    env: str
    stream: str
    consumer: str
    committed: int
    lease_owner: str | None
    lease_expires: float | None
    updated_at: float


_COLUMNS = tuple(f.name for f in fields(StreamCursor))
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM stream_cursors"


def _cursor(row: Any) -> StreamCursor:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["committed"] = int(values["committed"])
    return StreamCursor(**values)


class StreamCursorsMixin(StoreMixin):
    """The cursors' queries, mixed into the SQLite store (and so the PostgreSQL store)."""

    def lease_stream_cursor(
        self, env: str, stream: str, consumer: str, *, owner: str, lease: float, now: float
    ) -> StreamCursor | None:
        """Take (or renew) the consumer's lease for ``owner``; ``None`` while another owner
        holds an unexpired one."""
        with self.transaction():
            self._db.execute(
                "INSERT OR IGNORE INTO stream_cursors (env, stream, consumer, committed, "
                "updated_at) VALUES (?, ?, ?, 0, ?)",
                (env, stream, consumer, now),
            )
            taken = self._db.execute(
                "UPDATE stream_cursors SET lease_owner = ?, lease_expires = ? "
                "WHERE env = ? AND stream = ? AND consumer = ? AND (lease_owner IS NULL "
                "OR lease_owner = ? OR lease_expires < ?)",
                (owner, now + lease, env, stream, consumer, owner, now),
            )
            if getattr(taken, "rowcount", 0) != 1:
                return None
            row = self._db.execute(
                f"{_SELECT} WHERE env = ? AND stream = ? AND consumer = ?",
                (env, stream, consumer),
            ).fetchone()
        return _cursor(row) if row else None

    def ack_stream_cursor(
        self,
        env: str,
        stream: str,
        consumer: str,
        *,
        owner: str,
        offset: int,
        now: float,
        release: bool = True,
    ) -> bool:
        """Acknowledge every event before ``offset`` (the next one to read) as ``owner``; its
        lease ends unless ``release`` is False. False when ``owner`` does not hold the lease
        (it expired and another consumer took over) or ``offset`` goes backwards."""
        with self.transaction():
            done = self._db.execute(
                "UPDATE stream_cursors SET committed = ?, updated_at = ?"
                + (", lease_owner = NULL, lease_expires = NULL" if release else "")
                + " WHERE env = ? AND stream = ? AND consumer = ? AND lease_owner = ? "
                "AND committed <= ?",
                (offset, now, env, stream, consumer, owner, offset),
            )
            return getattr(done, "rowcount", 0) == 1

    def release_stream_cursor(self, env: str, stream: str, consumer: str, *, owner: str) -> None:
        """Give up the lease without acknowledging (the events will be read again)."""
        with self.transaction():
            self._db.execute(
                "UPDATE stream_cursors SET lease_owner = NULL, lease_expires = NULL "
                "WHERE env = ? AND stream = ? AND consumer = ? AND lease_owner = ?",
                (env, stream, consumer, owner),
            )

    def stream_cursors(self, env: str, stream: str | None = None) -> list[StreamCursor]:
        """The consumers' cursors of ``env`` (of one ``stream``)."""
        if stream is None:
            rows = self._query(f"{_SELECT} WHERE env = ? ORDER BY stream, consumer", (env,))
        else:
            rows = self._query(
                f"{_SELECT} WHERE env = ? AND stream = ? ORDER BY consumer", (env, stream)
            )
        return [_cursor(r) for r in rows]
