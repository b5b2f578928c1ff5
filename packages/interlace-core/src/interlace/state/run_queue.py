"""The run queue: a row per run request (what to run, with which flags, who asked), taken by a
server with a lease it renews.

Every run the service executes starts as a request here (``POST /api/v1/runs``, ``interlace run``
submitted to a running server, a dead-letter retry; later the scheduler and stream triggers). A
server *claims* a request atomically (a conditional ``UPDATE ... WHERE status = 'queued'``: two
workers never take the same one, on SQLite or PostgreSQL), renews its lease while the run goes
on, and records how it ended. A request whose lease ran out belongs to a server that stopped
without finishing it: :meth:`RunQueue.take_over_run_requests` puts it back in the queue for
another server (at most a few times), :meth:`RunQueue.expire_run_requests` marks it failed.

Requests whose targets overlap wait for each other in the order they were made: a queued
request is taken only when none of its models is a target of a running request or of a request
queued before it.

Cancelling is a flag on the row (``cancel_requested``): the server holding the run polls it and
cancels its :class:`~interlace.run_session.RunSession`, whichever process received the request.

The SQL is shared with the PostgreSQL store (``?`` parameters, no SQLite-only syntax), which
translates it statement by statement. Example::

    store.enqueue_run(RunRequest(id="r1", env="dev", project="shop", targets=("orders",),
                                 requested_by="api", created_at=time.time()))
    request = store.claim_run("server-1", env="dev", lease=30, now=time.time())
    ...                                          # run it; store.renew_leases(...) meanwhile
    store.finish_run_request(request.id, "done", at=time.time())
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from interlace.state.base import in_list, where_clause
from interlace.state.mixin import StoreMixin

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from interlace.status import RunRequestStatus

ACTIVE: tuple[RunRequestStatus, ...] = ("queued", "running")
FINISHED: tuple[RunRequestStatus, ...] = ("done", "failed", "cancelled")
REQUEST_ENDED = "request.ended"  # the event stored with a request's final status

# the SQLite store's migration that creates the queue's table (appended to its MIGRATIONS)
MIGRATION = """
    CREATE TABLE run_requests (
        id TEXT PRIMARY KEY,
        env TEXT NOT NULL,
        project TEXT NOT NULL,
        selection TEXT NOT NULL DEFAULT '[]',
        exclusions TEXT NOT NULL DEFAULT '[]',
        targets TEXT NOT NULL DEFAULT '[]',
        options TEXT NOT NULL DEFAULT '{}',
        requested_by TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        lease_owner TEXT,
        lease_expires REAL,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        run_ids TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX run_requests_status ON run_requests (env, status, created_at);
"""


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    """One request to run models (built by keyword).

    ``targets`` are the models the selection resolved to when the request was made (what
    overlapping requests wait for); ``options`` holds the run's flags (``force``,
    ``full_refresh``, ``since``, ``until``, ``window``, ...) as JSON data; ``run_ids`` are the
    runs it started (one, or one per window of a ``window`` backfill; the first is ``id``).
    """

    id: str
    env: str
    project: str
    selection: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    requested_by: str
    status: RunRequestStatus = "queued"
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    lease_owner: str | None = None
    lease_expires: float | None = None
    cancel_requested: bool = False
    error: str | None = None
    run_ids: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


_COLUMNS = tuple(f.name for f in fields(RunRequest))
_JSON_TUPLES = ("selection", "exclusions", "targets", "run_ids")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM run_requests"
EXPIRED = "the server running it stopped before it finished (its lease expired)"


def _encode(request: RunRequest) -> tuple[Any, ...]:
    values: list[Any] = []
    for column in _COLUMNS:
        value = getattr(request, column)
        if column in _JSON_TUPLES:
            value = json.dumps(list(value))
        elif column == "options":
            value = json.dumps(value, sort_keys=True, default=str)
        elif column == "cancel_requested":
            value = int(value)
        values.append(value)
    return tuple(values)


def _decode(row: Sequence[Any]) -> RunRequest:
    values = dict(zip(_COLUMNS, row, strict=True))
    for column in _JSON_TUPLES:
        values[column] = tuple(json.loads(values[column] or "[]"))
    values["options"] = json.loads(values["options"] or "{}")
    values["cancel_requested"] = bool(values["cancel_requested"])
    return RunRequest(**values)


class RunQueue(StoreMixin):
    """The run queue's queries, mixed into the SQLite store (and so the PostgreSQL store).

    Relies on the store's ``_db`` (a connection with ``execute``), ``_query`` and
    ``transaction()``.
    """

    if TYPE_CHECKING:  # the store's own

        def add_event(self, env: str, run_id: str, kind: str, at: float, payload: str) -> int: ...

    # ------------------------------------------------------------------ requests

    def enqueue_run(self, request: RunRequest) -> None:
        """Add a request (normally ``queued``); its id must be new."""
        with self.transaction():
            self._db.execute(
                f"INSERT INTO run_requests ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                _encode(request),
            )

    def get_run_request(self, request_id: str) -> RunRequest | None:
        rows = self._query(f"{_SELECT} WHERE id = ?", (request_id,))
        return _decode(rows[0]) if rows else None

    def run_requests(
        self,
        env: str | None = None,
        statuses: Iterable[RunRequestStatus] | None = None,
        limit: int = 100,
    ) -> list[RunRequest]:
        """Requests (of ``env``, with one of ``statuses``), oldest first."""
        where, params = self._filters(env, statuses)
        rows = self._query(f"{_SELECT}{where} ORDER BY created_at, id LIMIT ?", (*params, limit))
        return [_decode(r) for r in rows]

    @staticmethod
    def _filters(
        env: str | None, statuses: Iterable[RunRequestStatus] | None
    ) -> tuple[str, tuple[Any, ...]]:
        wanted = None if statuses is None else tuple(statuses)
        return where_clause([("env = ?", env), (in_list("status", wanted or ()), wanted)])

    # ------------------------------------------------------------------ taking and leases

    def claim_run(self, owner: str, *, env: str, lease: float, now: float) -> RunRequest | None:
        """Take the oldest queued request of ``env`` that may start now (none of its targets is
        a target of a running request or of an older queued one) for ``owner`` with a lease of
        ``lease`` seconds; ``None`` when there is none. Atomic: a request is taken once."""
        waiting = self._query(
            "SELECT id FROM run_requests WHERE env = ? AND status = 'queued' LIMIT 1", (env,)
        )
        if not waiting:  # the usual case of an idle server: no write lock taken
            return None
        with self.transaction():
            rows = self._db.execute(
                f"{_SELECT} WHERE env = ? AND status IN ('queued', 'running') "
                "ORDER BY created_at, id",
                (env,),
            ).fetchall()
            active = [_decode(r) for r in rows]
            busy = {t for r in active if r.status == "running" for t in r.targets}
            for request in (r for r in active if r.status == "queued"):
                targets = set(request.targets)
                if targets & busy:
                    busy |= targets  # later requests for these models wait behind this one
                    continue
                taken = self._db.execute(
                    "UPDATE run_requests SET status = 'running', started_at = ?, "
                    "lease_owner = ?, lease_expires = ? WHERE id = ? AND status = 'queued'",
                    (now, owner, now + lease, request.id),
                )
                if getattr(taken, "rowcount", 0) == 1:
                    return _decode(
                        self._db.execute(f"{_SELECT} WHERE id = ?", (request.id,)).fetchone()
                    )
                busy |= targets
        return None

    def renew_leases(self, owner: str, until: float) -> int:
        """Extend the leases of ``owner``'s running requests to ``until``; returns how many."""
        with self.transaction():
            cursor = self._db.execute(
                "UPDATE run_requests SET lease_expires = ? "
                "WHERE lease_owner = ? AND status = 'running'",
                (until, owner),
            )
            return int(getattr(cursor, "rowcount", 0) or 0)

    def add_request_run(self, request_id: str, run_id: str) -> None:
        """Note a run the request started (a window backfill starts one per window)."""
        with self.transaction():
            rows = self._db.execute(
                "SELECT run_ids FROM run_requests WHERE id = ?", (request_id,)
            ).fetchall()
            if not rows:
                return
            run_ids = [*json.loads(rows[0][0] or "[]"), run_id]
            self._db.execute(
                "UPDATE run_requests SET run_ids = ? WHERE id = ?",
                (json.dumps(run_ids), request_id),
            )

    def finish_run_request(
        self, request_id: str, status: RunRequestStatus, *, at: float, error: str | None = None
    ) -> None:
        """Record how a request ended; its lease goes."""
        with self.transaction():
            self._db.execute(
                "UPDATE run_requests SET status = ?, finished_at = ?, error = ?, "
                "lease_owner = NULL, lease_expires = NULL WHERE id = ?",
                (status, at, error, request_id),
            )
            self._record_end(request_id)

    def expire_run_requests(self, now: float) -> list[RunRequest]:
        """Mark running requests whose lease ran out as failed (their server stopped); returns
        them as they were."""
        with self.transaction():
            rows = self._db.execute(
                f"{_SELECT} WHERE status = 'running' AND lease_expires < ?", (now,)
            ).fetchall()
            expired = [_decode(r) for r in rows]
            for request in expired:
                self._db.execute(
                    "UPDATE run_requests SET status = 'failed', finished_at = ?, error = ?, "
                    "lease_owner = NULL, lease_expires = NULL "
                    "WHERE id = ? AND status = 'running' AND lease_expires < ?",
                    (now, EXPIRED, request.id, now),
                )
                self._record_end(request.id)
        return expired

    def take_over_run_requests(self, now: float, max_takeovers: int = 3) -> list[RunRequest]:
        """Put running requests whose lease ran out (their server died: killed, crashed, cut
        off) back in the queue, so another server runs them again; returns them as they are
        now. A request already taken over ``max_takeovers`` times fails instead (a run that
        kills its server every time must not go round forever). Each take-over counts in the
        request's ``options["takeovers"]``; the runs the dead server started are marked
        ``killed``. Running again is right for Interlace's materializations: a model's write is
        atomic and idempotent, so a run cut short either published or left the table as it
        was."""
        if not self._query(
            "SELECT id FROM run_requests WHERE status = 'running' AND lease_expires < ? LIMIT 1",
            (now,),
        ):
            return []  # the usual case: no write lock taken
        with self.transaction():
            rows = self._db.execute(
                f"{_SELECT} WHERE status = 'running' AND lease_expires < ?", (now,)
            ).fetchall()
            changed: list[RunRequest] = []
            for request in (_decode(r) for r in rows):
                count = int(request.options.get("takeovers", 0)) + 1
                if count > max_takeovers:
                    self._db.execute(
                        "UPDATE run_requests SET status = 'failed', finished_at = ?, error = ?, "
                        "lease_owner = NULL, lease_expires = NULL "
                        "WHERE id = ? AND status = 'running' AND lease_expires < ?",
                        (now, f"{EXPIRED}, {max_takeovers} times", request.id, now),
                    )
                    self._record_end(request.id)
                else:
                    options = json.dumps(
                        {**request.options, "takeovers": count}, sort_keys=True, default=str
                    )
                    self._db.execute(
                        "UPDATE run_requests SET status = 'queued', started_at = NULL, "
                        "lease_owner = NULL, lease_expires = NULL, options = ? "
                        "WHERE id = ? AND status = 'running' AND lease_expires < ?",
                        (options, request.id, now),
                    )
                for run_id in request.run_ids:
                    self._db.execute(
                        "UPDATE runs SET status = 'killed', finished_at = ?, error = ? "
                        "WHERE run_id = ? AND status = 'running'",
                        (now, EXPIRED, run_id),
                    )
                after = self._db.execute(f"{_SELECT} WHERE id = ?", (request.id,)).fetchone()
                if after is not None:
                    changed.append(_decode(after))
        return changed

    def release_run_requests(self, owner: str, at: float, reason: str) -> list[str]:
        """A stopping server lets go of what it still holds: its running requests fail with
        ``reason``; returns their ids."""
        with self.transaction():
            rows = self._db.execute(
                "SELECT id FROM run_requests WHERE lease_owner = ? AND status = 'running'",
                (owner,),
            ).fetchall()
            self._db.execute(
                "UPDATE run_requests SET status = 'failed', finished_at = ?, error = ?, "
                "lease_owner = NULL, lease_expires = NULL "
                "WHERE lease_owner = ? AND status = 'running'",
                (at, reason, owner),
            )
            for row in rows:
                self._record_end(str(row[0]))
        return [str(r[0]) for r in rows]

    # ------------------------------------------------------------------ cancelling

    def request_cancel(self, request_id: str, at: float) -> RunRequest | None:
        """Cancel a request: a queued one at once (``cancelled``), a running one by flag (its
        server cancels the run and records the end). Returns the request as it is now, or
        ``None`` when there is no such request; a finished one is left as it was."""
        with self.transaction():
            cancelled = self._db.execute(
                "UPDATE run_requests SET status = 'cancelled', finished_at = ?, "
                "cancel_requested = 1, error = 'cancelled before it started' "
                "WHERE id = ? AND status = 'queued'",
                (at, request_id),
            )
            if getattr(cancelled, "rowcount", 0) == 1:
                self._record_end(request_id)
            self._db.execute(
                "UPDATE run_requests SET cancel_requested = 1 WHERE id = ? AND status = 'running'",
                (request_id,),
            )
            row = self._db.execute(f"{_SELECT} WHERE id = ?", (request_id,)).fetchone()
        return _decode(row) if row else None

    # ------------------------------------------------------------------ the end event

    def _record_end(self, request_id: str) -> None:
        """Store the request's ``request.ended`` event in the transaction that recorded its end,
        so whoever sees the event reads the request's final status (a run's own
        ``run.completed`` comes before the server records how the request ended)."""
        row = self._db.execute(f"{_SELECT} WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            return
        request = _decode(row)
        if not request.finished:
            return
        at = request.finished_at or 0.0
        payload = {
            "type": REQUEST_ENDED,
            "run_id": request.id,
            "at": at,
            "status": request.status,
            "error": request.error,
            "run_ids": list(request.run_ids),
        }
        self.add_event(request.env, request.id, REQUEST_ENDED, at, json.dumps(payload))

    def cancel_requested(self, owner: str) -> list[str]:
        """Ids of ``owner``'s running requests that someone asked to cancel."""
        rows = self._query(
            "SELECT id FROM run_requests WHERE lease_owner = ? AND status = 'running' "
            "AND cancel_requested = 1",
            (owner,),
        )
        return [str(r[0]) for r in rows]
