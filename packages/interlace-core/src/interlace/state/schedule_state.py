"""Scheduler state: a row per schedule, a row per fired slot, and the schedulers that run.

The scheduler (``interlace serve``) turns time into run requests exactly once per slot. What
makes "exactly once" hold across crashes and across several servers is here:

- ``schedule_fires`` has one row per (environment, schedule, slot), its primary key: a slot's
  row is inserted **in the same transaction** as the run request it queues
  (:meth:`ScheduleState.claim_slot` inside ``store.transaction()`` with
  :meth:`~interlace.state.run_queue.RunQueue.enqueue_run`). Killed before the commit, neither
  exists and the slot fires after the restart; killed after it, both exist and the slot is
  never fired again. Two servers firing the same slot at once: one insert wins, the other
  finds the row and queues nothing.
- ``schedules`` keeps per schedule its selection, the fingerprint of its rules, whether it is
  paused, the last slot handled (fired, skipped or missed: a clock that jumps back never
  re-fires anything at or before it) and the next slot, for ``interlace schedule list``.
- ``scheduler_leases``: which processes run a scheduler. The SQLite store allows one (a second
  ``interlace serve`` is refused and told who holds it); the PostgreSQL store allows many,
  since slots are claimed by the primary key above.

Example::

    with store.transaction():
        if store.claim_slot("dev", "nightly", slot, at=now, outcome="fired", request_id=rid):
            store.enqueue_run(request)
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from interlace.discovery import process_alive
from interlace.state.mixin import StoreMixin

if TYPE_CHECKING:
    from collections.abc import Sequence

SlotOutcome = Literal["fired", "skipped"]

# the SQLite store's migration that creates the scheduler's tables (appended to its MIGRATIONS)
MIGRATION = """
    CREATE TABLE schedules (
        env TEXT NOT NULL,
        name TEXT NOT NULL,
        selection TEXT NOT NULL DEFAULT '[]',
        fingerprint TEXT NOT NULL,
        paused INTEGER NOT NULL DEFAULT 0,
        since REAL NOT NULL,
        last_slot REAL,
        last_fired_at REAL,
        last_request TEXT,
        next_slot REAL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (env, name)
    );
    CREATE TABLE schedule_fires (
        env TEXT NOT NULL,
        schedule TEXT NOT NULL,
        slot REAL NOT NULL,
        fired_at REAL NOT NULL,
        outcome TEXT NOT NULL,
        request_id TEXT,
        PRIMARY KEY (env, schedule, slot)
    );
    CREATE INDEX schedule_fires_at ON schedule_fires (env, fired_at);
    CREATE TABLE scheduler_leases (
        env TEXT NOT NULL,
        owner TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        acquired_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (env, owner)
    );
"""


@dataclass(frozen=True, kw_only=True)
class ScheduleRecord:
    """The stored state of one schedule (times are Unix seconds).

    ``since``: slots before it are not owed (when the schedule was first seen, changed or
    resumed); ``last_slot``: the newest slot handled; ``next_slot``: the next one as of the
    last tick (for display).
    """

    env: str
    name: str
    selection: tuple[str, ...]
    fingerprint: str
    paused: bool
    since: float
    last_slot: float | None
    last_fired_at: float | None
    last_request: str | None
    next_slot: float | None
    updated_at: float


@dataclass(frozen=True, kw_only=True)
class SlotRecord:
    """One fired (or skipped) slot."""

    schedule: str
    slot: float
    fired_at: float
    outcome: SlotOutcome
    request_id: str | None


@dataclass(frozen=True, kw_only=True)
class SchedulerLease:
    """A process that runs a scheduler on this store."""

    owner: str
    host: str
    pid: int
    acquired_at: float
    expires_at: float


_SCHEDULE_COLUMNS = (
    "env, name, selection, fingerprint, paused, since, last_slot, last_fired_at, "
    "last_request, next_slot, updated_at"
)


def _schedule(row: Sequence[Any]) -> ScheduleRecord:
    return ScheduleRecord(
        env=row[0],
        name=row[1],
        selection=tuple(json.loads(row[2] or "[]")),
        fingerprint=row[3],
        paused=bool(row[4]),
        since=float(row[5]),
        last_slot=None if row[6] is None else float(row[6]),
        last_fired_at=None if row[7] is None else float(row[7]),
        last_request=row[8],
        next_slot=None if row[9] is None else float(row[9]),
        updated_at=float(row[10]),
    )


class ScheduleState(StoreMixin):
    """The scheduler's queries, mixed into the SQLite store (and so the PostgreSQL store).

    Relies on the store's ``_db``, ``_query`` and ``transaction()``. ``several_schedulers``
    says whether several processes may run a scheduler on the store at once (the PostgreSQL
    store: yes).
    """

    several_schedulers = False

    # ------------------------------------------------------------------ schedules

    def schedule_records(self, env: str) -> dict[str, ScheduleRecord]:
        """Every stored schedule of ``env`` by name."""
        rows = self._query(f"SELECT {_SCHEDULE_COLUMNS} FROM schedules WHERE env = ?", (env,))
        return {r[1]: _schedule(r) for r in rows}

    def schedule_record(self, env: str, name: str) -> ScheduleRecord | None:
        rows = self._query(
            f"SELECT {_SCHEDULE_COLUMNS} FROM schedules WHERE env = ? AND name = ?", (env, name)
        )
        return _schedule(rows[0]) if rows else None

    def sync_schedule(
        self, env: str, name: str, selection: Sequence[str], fingerprint: str, now: float
    ) -> ScheduleRecord:
        """Make sure ``name`` has a row: a new schedule, or one whose rules changed, starts
        owing slots from ``now`` (it does not run its past); its last slot stays, so nothing
        already fired fires again. Returns the row as it is now."""
        encoded = json.dumps(list(selection))
        with self.transaction():
            self._db.execute(
                f"INSERT OR IGNORE INTO schedules ({_SCHEDULE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, 0, ?, NULL, NULL, NULL, NULL, ?)",
                (env, name, encoded, fingerprint, now, now),
            )
            self._db.execute(
                "UPDATE schedules SET fingerprint = ?, selection = ?, since = ?, updated_at = ? "
                "WHERE env = ? AND name = ? AND fingerprint <> ?",
                (fingerprint, encoded, now, now, env, name, fingerprint),
            )
            row = self._db.execute(
                f"SELECT {_SCHEDULE_COLUMNS} FROM schedules WHERE env = ? AND name = ?",
                (env, name),
            ).fetchone()
        assert row is not None
        return _schedule(row)

    def set_schedule_paused(
        self, env: str, name: str, paused: bool, now: float, *, fingerprint: str = ""
    ) -> ScheduleRecord:
        """Pause or resume ``name`` (a row is made if the scheduler never saw it). Resuming
        owes slots from ``now`` on: the slots of the pause are not run afterwards."""
        with self.transaction():
            self._db.execute(
                f"INSERT OR IGNORE INTO schedules ({_SCHEDULE_COLUMNS}) "
                "VALUES (?, ?, '[]', ?, 0, ?, NULL, NULL, NULL, NULL, ?)",
                (env, name, fingerprint, now, now),
            )
            if paused:
                self._db.execute(
                    "UPDATE schedules SET paused = 1, updated_at = ? WHERE env = ? AND name = ?",
                    (now, env, name),
                )
            else:
                self._db.execute(
                    "UPDATE schedules SET paused = 0, since = ?, updated_at = ? "
                    "WHERE env = ? AND name = ? AND paused = 1",
                    (now, now, env, name),
                )
            row = self._db.execute(
                f"SELECT {_SCHEDULE_COLUMNS} FROM schedules WHERE env = ? AND name = ?",
                (env, name),
            ).fetchone()
        assert row is not None
        return _schedule(row)

    def set_next_slot(self, env: str, name: str, next_slot: float | None) -> None:
        """Note the schedule's next slot (display only; never decides a fire)."""
        with self.transaction():
            self._db.execute(
                "UPDATE schedules SET next_slot = ? WHERE env = ? AND name = ?",
                (next_slot, env, name),
            )

    # ------------------------------------------------------------------ slots

    def claim_slot(
        self,
        env: str,
        name: str,
        slot: float,
        *,
        at: float,
        outcome: SlotOutcome,
        request_id: str | None = None,
        next_slot: float | None = None,
    ) -> bool:
        """Record that ``slot`` of ``name`` fired (or was skipped) and move the schedule's last
        slot up to it; ``False`` (and nothing written) when the slot was already claimed.

        Call it inside ``store.transaction()`` together with the writes of the fire (the run
        request, the event): they commit together or not at all.
        """
        with self.transaction():
            inserted = self._db.execute(
                "INSERT OR IGNORE INTO schedule_fires (env, schedule, slot, fired_at, outcome, "
                "request_id) VALUES (?, ?, ?, ?, ?, ?)",
                (env, name, slot, at, outcome, request_id),
            )
            if int(getattr(inserted, "rowcount", 0) or 0) != 1:
                return False
            self._db.execute(
                "UPDATE schedules SET last_slot = ?, next_slot = ? "
                "WHERE env = ? AND name = ? AND (last_slot IS NULL OR last_slot < ?)",
                (slot, next_slot, env, name, slot),
            )
            if outcome == "fired":
                self._db.execute(
                    "UPDATE schedules SET last_fired_at = ?, last_request = ? "
                    "WHERE env = ? AND name = ?",
                    (at, request_id, env, name),
                )
        return True

    def pass_slots(self, env: str, name: str, up_to: float, next_slot: float | None) -> bool:
        """Move the schedule's last slot up to ``up_to`` without firing (missed slots that the
        catch-up policy does not run); ``False`` when another process already did."""
        with self.transaction():
            cursor = self._db.execute(
                "UPDATE schedules SET last_slot = ?, next_slot = ? "
                "WHERE env = ? AND name = ? AND (last_slot IS NULL OR last_slot < ?)",
                (up_to, next_slot, env, name, up_to),
            )
            return int(getattr(cursor, "rowcount", 0) or 0) == 1

    def schedule_fires(
        self, env: str, name: str | None = None, limit: int = 100
    ) -> list[SlotRecord]:
        """Fired and skipped slots (of ``name``, or all), newest slot first."""
        where, params = "env = ?", [env]
        if name is not None:
            where += " AND schedule = ?"
            params.append(name)
        rows = self._query(
            "SELECT schedule, slot, fired_at, outcome, request_id FROM schedule_fires "
            f"WHERE {where} ORDER BY slot DESC, schedule LIMIT ?",
            (*params, limit),
        )
        return [
            SlotRecord(
                schedule=r[0],
                slot=float(r[1]),
                fired_at=float(r[2]),
                outcome=r[3],
                request_id=r[4],
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ who runs a scheduler

    def acquire_scheduler(
        self, env: str, owner: str, *, now: float, ttl: float
    ) -> SchedulerLease | None:
        """Register ``owner`` as a scheduler of ``env`` for ``ttl`` seconds (renew by calling
        again). On a store that allows one scheduler, returns the live holder that keeps
        ``owner`` out (a holder on this host whose process is gone is replaced at once);
        ``None`` when ``owner`` holds it."""
        host, pid = socket.gethostname(), os.getpid()
        with self.transaction():
            if not self.several_schedulers:
                for holder in self._leases(env, "owner <> ? AND expires_at >= ?", (owner, now)):
                    if holder.host == host and not process_alive(holder.pid):
                        self._db.execute(
                            "DELETE FROM scheduler_leases WHERE env = ? AND owner = ?",
                            (env, holder.owner),
                        )
                        continue
                    return holder
            self._db.execute(
                "DELETE FROM scheduler_leases WHERE env = ? AND expires_at < ?", (env, now)
            )
            self._db.execute(
                "INSERT OR IGNORE INTO scheduler_leases (env, owner, host, pid, acquired_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (env, owner, host, pid, now, now + ttl),
            )
            self._db.execute(
                "UPDATE scheduler_leases SET expires_at = ? WHERE env = ? AND owner = ?",
                (now + ttl, env, owner),
            )
        return None

    def release_scheduler(self, env: str, owner: str) -> None:
        with self.transaction():
            self._db.execute(
                "DELETE FROM scheduler_leases WHERE env = ? AND owner = ?", (env, owner)
            )

    def schedulers(self, env: str, now: float) -> list[SchedulerLease]:
        """The processes whose scheduler lease on ``env`` is live."""
        return self._leases(env, "expires_at >= ?", (now,))

    def _leases(self, env: str, where: str, params: tuple[Any, ...]) -> list[SchedulerLease]:
        rows = self._query(
            "SELECT owner, host, pid, acquired_at, expires_at FROM scheduler_leases "
            f"WHERE env = ? AND {where} ORDER BY acquired_at",
            (env, *params),
        )
        return [
            SchedulerLease(
                owner=r[0],
                host=r[1],
                pid=int(r[2]),
                acquired_at=float(r[3]),
                expires_at=float(r[4]),
            )
            for r in rows
        ]
