"""The event history: every event of every run, numbered by the store.

One sequence serves all the processes that share the store, so a server-sent event stream
resumes from any of them (``Last-Event-ID``) and a feed started in one process sees the runs of
another. Mixed into the SQLite store (and so the PostgreSQL store, which shares its SQL); the
retention setting (``state: {event_retention: 7d}``) applies through
:meth:`EventHistoryMixin.prune_events`. Example::

    event_id = store.add_event("dev", run_id, "model.finished", at=time.time(), payload="{}")
    newer = store.events(after=event_id - 1, run_id=run_id)
"""

from __future__ import annotations

import json

from interlace.state.base import StoredEvent, where_clause
from interlace.state.mixin import StoreMixin


class EventHistoryMixin(StoreMixin):
    """The event history's queries, mixed into the store (uses its ``_db``, ``_query``,
    ``transaction()``)."""

    def add_event(self, env: str, run_id: str, kind: str, at: float, payload: str) -> int:
        """Store one event; returns its id (increasing across every process of this store)."""
        with self.transaction():
            cursor = self._db.execute(
                "INSERT INTO events (env, run_id, type, at, payload) VALUES (?, ?, ?, ?, ?)",
                (env, run_id, kind, at, payload),
            )
            return int(cursor.lastrowid or 0)

    def events(
        self, after: int = 0, run_id: str | None = None, limit: int = 1000
    ) -> list[StoredEvent]:
        """Events with an id above ``after`` (of one run, or all), oldest first."""
        clause, params = where_clause([("id > ?", after), ("run_id = ?", run_id)])
        rows = self._query(
            f"SELECT id, env, run_id, type, at, payload FROM events{clause} ORDER BY id LIMIT ?",
            (*params, limit),
        )
        return [StoredEvent(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def prune_events(self, before: float) -> int:
        """Forget events older than ``before`` (the retention setting); returns how many."""
        with self.transaction():
            cursor = self._db.execute("DELETE FROM events WHERE at < ?", (before,))
            return int(getattr(cursor, "rowcount", 0) or 0)
