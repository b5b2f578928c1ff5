"""Alert incidents and their deliveries in the state store, so a restart never re-sends them.

An *incident* is one ongoing problem: a rule, an event kind and a subject (``("failures",
"run_failed", "orders")``). At most one incident per (environment, rule, event, subject) is
open at a time: a unique index on the open
ones makes :meth:`AlertStateMixin.open_incident` idempotent across threads, processes and
servers sharing one store (a second failure of the same model adds an occurrence, it does not
open a second incident). Resolving closes it; the next failure opens a new one.

A *delivery* is one message to one channel (an outbox row): written in the **same
transaction** as the incident change it announces, then taken by a sender with a lease,
retried with backoff, and marked ``sent`` or ``failed``. A process that dies while sending
loses its lease; the row is sent again by whoever looks next (at-least-once delivery).

:class:`AlertStateMixin` is part of :class:`~interlace.state.sqlite.SQLiteStateStore` (and so of
the PostgreSQL store, which runs the same SQL through a translator): keep its SQL portable.
The alerting itself (rules, channels, sending) lives in ``interlace_service.alerts``.

Example::

    with store.transaction():
        incident = store.open_incident(IncidentOpening(env="dev", rule="failures",
                                       subject="orders", event="run_failed", summary="...",
                                       at=time.time()))
        if incident is not None:            # newly opened: announce it
            store.add_delivery(env="dev", channel="ops", kind="alert", payload="{...}",
                               incident_id=incident.id, at=time.time())
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

from interlace.state.mixin import StoreMixin

if TYPE_CHECKING:
    from collections.abc import Sequence

IncidentStatus = Literal["open", "resolved"]
DeliveryKind = Literal["alert", "resolve", "test"]
DeliveryStatus = Literal["pending", "sending", "sent", "failed"]

# the SQLite store's migration that creates these tables (appended to its MIGRATIONS)
MIGRATION = """
    CREATE TABLE alert_incidents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        env TEXT NOT NULL,
        rule TEXT NOT NULL,
        subject TEXT NOT NULL,
        event TEXT NOT NULL,
        status TEXT NOT NULL,
        summary TEXT NOT NULL,
        details TEXT NOT NULL DEFAULT '{}',
        opened_at REAL NOT NULL,
        last_seen_at REAL NOT NULL,
        occurrences INTEGER NOT NULL DEFAULT 1,
        last_run_id TEXT,
        resolved_at REAL,
        resolution TEXT
    );
    CREATE UNIQUE INDEX alert_incidents_open ON alert_incidents (env, rule, event, subject)
        WHERE status = 'open';
    CREATE TABLE alert_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        env TEXT NOT NULL,
        incident_id INTEGER,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL,
        last_attempt_at REAL,
        sent_at REAL,
        last_error TEXT,
        lease_owner TEXT,
        lease_expires REAL
    );
    CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt_at);
    CREATE INDEX alert_deliveries_channel ON alert_deliveries (env, channel, created_at);
    CREATE TABLE alert_cursors (
        env TEXT NOT NULL,
        owner TEXT NOT NULL,
        event_id INTEGER NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (env, owner)
    )
"""


@dataclass(frozen=True, kw_only=True)
class Incident:
    """One incident as stored: ``rule`` + ``subject`` name it, ``event`` is its kind
    (``run_failed``, ``check_failed``, ``schedule_missed``, ``schedule_late``, ``sla_breach``)."""

    id: int
    env: str
    rule: str
    subject: str
    event: str
    status: IncidentStatus
    summary: str
    details: dict[str, Any]
    opened_at: float
    last_seen_at: float
    occurrences: int = 1
    last_run_id: str | None = None
    resolved_at: float | None = None
    resolution: str | None = None


@dataclass(frozen=True, kw_only=True)
class IncidentOpening:
    """What opens (or adds an occurrence to) an incident."""

    env: str
    rule: str
    subject: str
    event: str
    summary: str
    at: float
    details: dict[str, Any] | None = None
    run_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """One message to one channel (see the module docstring)."""

    id: int
    env: str
    incident_id: int | None
    channel: str
    kind: DeliveryKind
    payload: str  # the message as JSON, built when it was queued (retries send the same)
    status: DeliveryStatus
    attempts: int
    created_at: float
    next_attempt_at: float
    last_attempt_at: float | None = None
    sent_at: float | None = None
    last_error: str | None = None
    lease_owner: str | None = None
    lease_expires: float | None = None


_INCIDENT = tuple(f.name for f in fields(Incident))
_DELIVERY = tuple(f.name for f in fields(Delivery))
_SELECT_INCIDENT = f"SELECT {', '.join(_INCIDENT)} FROM alert_incidents"
_SELECT_DELIVERY = f"SELECT {', '.join(_DELIVERY)} FROM alert_deliveries"


def _incident(row: Sequence[Any]) -> Incident:
    values = dict(zip(_INCIDENT, row, strict=True))
    values["details"] = json.loads(values["details"] or "{}")
    return Incident(**values)


def _delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(**dict(zip(_DELIVERY, row, strict=True)))


class AlertStateMixin(StoreMixin):
    """Incidents, deliveries and event cursors of the alerts (see the module docstring).

    Relies on the store's ``_db``, ``_query`` and ``transaction()``.
    """

    # ------------------------------------------------------------------ incidents

    def open_incident(self, opening: IncidentOpening) -> Incident | None:
        """Open the incident of (env, rule, event, subject), or count another occurrence of the open
        one. Returns the incident when this call opened it, ``None`` when it was open already
        (so the caller announces each incident once). An occurrence no later than the
        last one counted (the same event seen twice) is not counted again."""
        with self.transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO alert_incidents (env, rule, subject, event, status, "
                "summary, details, opened_at, last_seen_at, occurrences, last_run_id) "
                "VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, 1, ?)",
                (
                    opening.env,
                    opening.rule,
                    opening.subject,
                    opening.event,
                    opening.summary,
                    json.dumps(opening.details or {}, default=str, sort_keys=True),
                    opening.at,
                    opening.at,
                    opening.run_id,
                ),
            )
            opened = int(getattr(cursor, "rowcount", 0) or 0) == 1
            if not opened:
                # an event seen before (by another server, or by a run's own listener and the
                # server reading the event log) or older than the last one counted is not
                # counted again: events are applied in the order of the log
                self._db.execute(
                    "UPDATE alert_incidents SET occurrences = occurrences + 1, "
                    "last_seen_at = ?, last_run_id = ? WHERE env = ? AND rule = ? "
                    "AND event = ? AND subject = ? AND status = 'open' AND last_seen_at < ?",
                    (
                        opening.at,
                        opening.run_id,
                        opening.env,
                        opening.rule,
                        opening.event,
                        opening.subject,
                        opening.at,
                    ),
                )
                return None
            row = self._db.execute(
                f"{_SELECT_INCIDENT} WHERE env = ? AND rule = ? AND event = ? AND subject = ? "
                "AND status = 'open'",
                (opening.env, opening.rule, opening.event, opening.subject),
            ).fetchone()
        return _incident(row) if row else None

    def resolve_incident(
        self,
        env: str,
        rule: str,
        event: str,
        subject: str,
        *,
        at: float,
        resolution: str,
        opened_before: float | None = None,
    ) -> Incident | None:
        """Close the open incident of (env, rule, event, subject) (only if it opened before
        ``opened_before``, when given); it, resolved, or ``None`` when none was open (so a
        resolve is announced once)."""
        with self.transaction():
            row = self._db.execute(
                f"{_SELECT_INCIDENT} WHERE env = ? AND rule = ? AND event = ? AND subject = ? "
                "AND status = 'open'",
                (env, rule, event, subject),
            ).fetchone()
            if row is None:
                return None
            if opened_before is not None and float(row[_INCIDENT.index("opened_at")]) >= (
                opened_before
            ):
                return None
            incident = _incident(row)
            cursor = self._db.execute(
                "UPDATE alert_incidents SET status = 'resolved', resolved_at = ?, "
                "resolution = ? WHERE id = ? AND status = 'open'",
                (at, resolution, incident.id),
            )
            if int(getattr(cursor, "rowcount", 0) or 0) != 1:
                return None
        return Incident(
            **{
                **{name: getattr(incident, name) for name in _INCIDENT},
                "status": "resolved",
                "resolved_at": at,
                "resolution": resolution,
            }
        )

    def incidents(
        self, env: str, status: IncidentStatus | None = None, limit: int = 100
    ) -> list[Incident]:
        """Incidents of ``env`` (with ``status``), newest first."""
        where, params = " WHERE env = ?", [env]
        if status is not None:
            where += " AND status = ?"
            params.append(status)
        rows = self._query(
            f"{_SELECT_INCIDENT}{where} ORDER BY opened_at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [_incident(r) for r in rows]

    def get_incident(self, incident_id: int) -> Incident | None:
        rows = self._query(f"{_SELECT_INCIDENT} WHERE id = ?", (incident_id,))
        return _incident(rows[0]) if rows else None

    # ------------------------------------------------------------------ deliveries

    def add_delivery(
        self,
        *,
        env: str,
        channel: str,
        kind: DeliveryKind,
        payload: str,
        at: float,
        incident_id: int | None = None,
    ) -> int:
        """Queue a message to ``channel`` (due at once); its id."""
        with self.transaction():
            cursor = self._db.execute(
                "INSERT INTO alert_deliveries (env, incident_id, channel, kind, payload, "
                "status, attempts, created_at, next_attempt_at) "
                "VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
                (env, incident_id, channel, kind, payload, at, at),
            )
            return int(cursor.lastrowid or 0)

    def take_deliveries(
        self, owner: str, *, env: str, now: float, lease: float, limit: int = 20
    ) -> list[Delivery]:
        """Take the due deliveries of ``env`` (pending, or sending with an expired lease) for
        ``owner`` with a lease of ``lease`` seconds; each is taken by one owner only."""
        due = self._query(
            "SELECT id FROM alert_deliveries WHERE env = ? AND ((status = 'pending' AND "
            "next_attempt_at <= ?) OR (status = 'sending' AND lease_expires < ?)) "
            "ORDER BY next_attempt_at, id LIMIT ?",
            (env, now, now, limit),
        )
        taken: list[Delivery] = []
        for (delivery_id,) in due:
            with self.transaction():
                cursor = self._db.execute(
                    "UPDATE alert_deliveries SET status = 'sending', lease_owner = ?, "
                    "lease_expires = ? WHERE id = ? AND ((status = 'pending' AND "
                    "next_attempt_at <= ?) OR (status = 'sending' AND lease_expires < ?))",
                    (owner, now + lease, delivery_id, now, now),
                )
                if int(getattr(cursor, "rowcount", 0) or 0) == 1:
                    row = self._db.execute(
                        f"{_SELECT_DELIVERY} WHERE id = ?", (delivery_id,)
                    ).fetchone()
                    taken.append(_delivery(row))
        return taken

    def delivery_attempted(
        self,
        delivery_id: int,
        *,
        at: float,
        error: str | None,
        retry_at: float | None,
    ) -> None:
        """Record one attempt: sent (``error`` is None), to retry at ``retry_at``, or failed
        for good (``retry_at`` is None)."""
        if error is None:
            status: DeliveryStatus = "sent"
        else:
            status = "pending" if retry_at is not None else "failed"
        with self.transaction():
            self._db.execute(
                "UPDATE alert_deliveries SET status = ?, attempts = attempts + 1, "
                "last_attempt_at = ?, sent_at = ?, last_error = COALESCE(?, last_error), "
                "next_attempt_at = ?, lease_owner = NULL, lease_expires = NULL WHERE id = ?",
                (
                    status,
                    at,
                    at if error is None else None,
                    error,
                    retry_at if retry_at is not None else at,
                    delivery_id,
                ),
            )

    def release_deliveries(self, owner: str) -> int:
        """Give back what ``owner`` was sending (it stops): pending again, due at once."""
        with self.transaction():
            cursor = self._db.execute(
                "UPDATE alert_deliveries SET status = 'pending', lease_owner = NULL, "
                "lease_expires = NULL WHERE lease_owner = ? AND status = 'sending'",
                (owner,),
            )
            return int(getattr(cursor, "rowcount", 0) or 0)

    def deliveries(
        self,
        env: str,
        *,
        channel: str | None = None,
        ids: Sequence[int] | None = None,
        limit: int = 50,
    ) -> list[Delivery]:
        """Deliveries of ``env`` (to ``channel``, or with these ``ids``), newest first."""
        where, params = " WHERE env = ?", list[Any]([env])
        if channel is not None:
            where += " AND channel = ?"
            params.append(channel)
        if ids is not None:
            if not ids:
                return []
            where += f" AND id IN ({', '.join('?' * len(ids))})"
            params.extend(ids)
        rows = self._query(
            f"{_SELECT_DELIVERY}{where} ORDER BY created_at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [_delivery(r) for r in rows]

    def last_delivery_attempt(self, env: str, channel: str) -> Delivery | None:
        """The delivery to ``channel`` attempted last (how the channel is doing)."""
        rows = self._query(
            f"{_SELECT_DELIVERY} WHERE env = ? AND channel = ? AND last_attempt_at IS NOT NULL "
            "ORDER BY last_attempt_at DESC, id DESC LIMIT 1",
            (env, channel),
        )
        return _delivery(rows[0]) if rows else None

    def delivery_counts(self, env: str, channel: str) -> dict[str, int]:
        """How many deliveries to ``channel`` have each status."""
        rows = self._query(
            "SELECT status, COUNT(*) FROM alert_deliveries WHERE env = ? AND channel = ? "
            "GROUP BY status",
            (env, channel),
        )
        return {str(status): int(count) for status, count in rows}

    # ------------------------------------------------------------------ event cursors

    def alert_cursor(self, env: str, owner: str) -> int | None:
        """The last event id ``owner`` (a server's alerts) has looked at, if it ever did."""
        rows = self._query(
            "SELECT event_id FROM alert_cursors WHERE env = ? AND owner = ?", (env, owner)
        )
        return int(rows[0][0]) if rows else None

    def save_alert_cursor(self, env: str, owner: str, event_id: int, at: float) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO alert_cursors (env, owner, event_id, updated_at) "
                "VALUES (?, ?, ?, ?)",
                (env, owner, event_id, at),
            )
