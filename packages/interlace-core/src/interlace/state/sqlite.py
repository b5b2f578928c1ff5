"""SQLite state store (the default): a WAL-mode file under `.interlace/`.

WAL lets another process (the CLI, the service) read while a run writes. The store upgrades its
own schema: ``MIGRATIONS[i]`` (:mod:`interlace.state.schema`) takes version ``i`` to ``i + 1``.
This module holds the connection, the upgrade, transactions and runs; each other concern is a
mixin in a module of its own (``model_state``, ``run_queue``, ``dead_letters``, ...) whose SQL
the PostgreSQL store shares.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interlace.discovery import process_alive
from interlace.errors import StateStoreError
from interlace.state.alert_state import AlertStateMixin
from interlace.state.api_keys import ApiKeysMixin
from interlace.state.applied_migrations import AppliedMigrationsMixin
from interlace.state.base import ModelRunRecord, RunRecord, where_clause
from interlace.state.dead_letters import DeadLettersMixin
from interlace.state.event_history import EventHistoryMixin
from interlace.state.lineage import LineageMixin
from interlace.state.model_state import ModelStateMixin
from interlace.state.pending_writes import PendingWritesMixin
from interlace.state.quality_results import QualityResultsMixin
from interlace.state.rows import columns_of, from_row, marks, names, values
from interlace.state.run_history import RunHistory
from interlace.state.run_queue import RunQueue
from interlace.state.schedule_state import ScheduleState
from interlace.state.schema import MIGRATIONS
from interlace.state.stream_cursors import StreamCursorsMixin

if TYPE_CHECKING:
    from interlace.status import RunOutcome

_RUN_COLUMNS = columns_of(RunRecord)
_MODEL_RUN_COLUMNS = columns_of(ModelRunRecord)


class SQLiteStateStore(
    RunQueue,
    RunHistory,
    ApiKeysMixin,
    ScheduleState,
    AlertStateMixin,
    LineageMixin,
    StreamCursorsMixin,
    ModelStateMixin,
    EventHistoryMixin,
    PendingWritesMixin,
    QualityResultsMixin,
    DeadLettersMixin,
    AppliedMigrationsMixin,
):
    """The state store in one SQLite file. Safe to share between threads of one process."""

    _depth = 0  # nesting of transaction() on the thread holding the lock

    schema_version = len(MIGRATIONS)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, timeout=30, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except (OSError, sqlite3.Error) as exc:
            raise _not_a_state_database(self.path, exc) or StateStoreError(
                f"cannot open the state store at {path}: {exc}",
                hint="check that the project folder is writable (state.path in config)",
            ) from None
        self._lock = threading.RLock()
        try:
            self._upgrade()
        except sqlite3.DatabaseError as exc:  # a header that looks right, garbage behind it
            corrupt = _not_a_state_database(self.path, exc)
            if corrupt is None:
                raise
            self._db.close()
            raise corrupt from None

    # ------------------------------------------------------------------ schema

    def _upgrade(self) -> None:
        with self._lock:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS interlace_meta (key TEXT PRIMARY KEY, value TEXT)"
            )
            row = self._db.execute(
                "SELECT value FROM interlace_meta WHERE key = 'schema_version'"
            ).fetchone()
            current = int(row[0]) if row else 0
            if current > len(MIGRATIONS):
                raise StateStoreError(
                    f"the state store at {self.path} has schema version {current}, newer than "
                    f"this Interlace understands ({len(MIGRATIONS)})",
                    hint="upgrade Interlace, or point state.path at another file",
                )
            for version in range(current, len(MIGRATIONS)):
                try:
                    with self.transaction():
                        for statement in MIGRATIONS[version].split(";"):
                            if statement.strip():
                                self._db.execute(statement)
                        self._db.execute(
                            "INSERT INTO interlace_meta VALUES ('schema_version', ?) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            (str(version + 1),),
                        )
                except sqlite3.Error as exc:  # rolled back: the file stays at `version`
                    self._db.close()
                    raise StateStoreError(
                        f"cannot upgrade the state store at {self.path} from schema version "
                        f"{version} to {version + 1}: {exc}",
                        hint="the file was left unchanged; was it edited by hand? restore a "
                        "backup or point state.path at a new file",
                    ) from exc

    def transaction(self) -> _Transaction:
        """``with store.transaction():`` groups writes into one commit (nestable)."""
        return _Transaction(self)

    # ------------------------------------------------------------------ runs

    def start_run(
        self, run_id: str, project: str, env: str, selection: str, models: int, started_at: float
    ) -> None:
        from interlace.locks import LIVE_RUNS

        LIVE_RUNS.add(run_id)  # its end is recorded by finish_run (or it stopped: see abandon)
        with self.transaction():
            self._db.execute(
                "INSERT INTO runs (run_id, project, env, status, started_at, selection, models, "
                "pid, host) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                (
                    run_id,
                    project,
                    env,
                    started_at,
                    selection,
                    models,
                    os.getpid(),
                    socket.gethostname(),
                ),
            )

    def abandon_dead_runs(self, at: float) -> int:
        """Mark runs of this host whose process is gone (killed, crashed) as ``killed``."""
        host = socket.gethostname()
        rows = self._query(
            "SELECT run_id, pid FROM runs WHERE status = 'running' AND host = ?", (host,)
        )
        from interlace.locks import LIVE_RUNS

        me = os.getpid()
        dead = [
            run_id
            for run_id, pid in rows
            if pid is not None
            and (not process_alive(int(pid)) or (int(pid) == me and run_id not in LIVE_RUNS))
        ]
        for run_id in dead:
            with self.transaction():
                self._db.execute(
                    "UPDATE runs SET status = 'killed', finished_at = ?, error = ? "
                    "WHERE run_id = ? AND status = 'running'",
                    (at, "the process running it stopped (killed or crashed)", run_id),
                )
        return len(dead)

    def finish_run(
        self,
        run_id: str,
        status: RunOutcome,
        finished_at: float,
        succeeded: int,
        failed: int,
        skipped: int,
        error: str | None,
    ) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, succeeded = ?, failed = ?, "
                "skipped = ?, error = ? WHERE run_id = ?",
                (status, finished_at, succeeded, failed, skipped, error, run_id),
            )
        from interlace.locks import LIVE_RUNS

        LIVE_RUNS.discard(run_id)

    def record_model_run(self, record: ModelRunRecord) -> None:
        with self.transaction():
            self._db.execute(
                f"INSERT OR REPLACE INTO model_runs ({names(_MODEL_RUN_COLUMNS)}) "
                f"VALUES ({marks(len(_MODEL_RUN_COLUMNS))})",
                values(record, _MODEL_RUN_COLUMNS),
            )

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self._query(f"SELECT {names(_RUN_COLUMNS)} FROM runs WHERE run_id = ?", (run_id,))
        return from_row(RunRecord, _RUN_COLUMNS, row[0]) if row else None

    def list_runs(self, limit: int = 20, offset: int = 0) -> list[RunRecord]:
        rows = self._query(
            f"SELECT {names(_RUN_COLUMNS)} FROM runs ORDER BY started_at DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [from_row(RunRecord, _RUN_COLUMNS, r) for r in rows]

    def environments(self) -> list[str]:
        rows = self._query(
            "SELECT env FROM runs UNION SELECT env FROM model_state ORDER BY env", ()
        )
        return [str(env) for (env,) in rows]

    def model_runs(
        self,
        run_id: str | None = None,
        model: str | None = None,
        limit: int = 100,
        env: str | None = None,
    ) -> list[ModelRunRecord]:
        clause, params = where_clause(
            [
                ("run_id IN (SELECT run_id FROM runs WHERE env = ?)", env),
                ("run_id = ?", run_id),
                ("model = ?", model),
            ]
        )
        rows = self._query(
            f"SELECT {names(_MODEL_RUN_COLUMNS)} FROM model_runs{clause} "
            "ORDER BY COALESCE(finished_at, started_at) DESC LIMIT ?",
            (*params, limit),
        )
        return [from_row(ModelRunRecord, _MODEL_RUN_COLUMNS, r) for r in rows]

    def is_transient(self, exc: BaseException) -> bool:
        """Whether a failed write may succeed when tried again (a busy SQLite file)."""
        return isinstance(exc, sqlite3.OperationalError) and (
            "locked" in str(exc) or "busy" in str(exc)
        )

    def reconnect(self) -> None:
        """Drop a broken connection so the next statement opens a new one (SQLite: nothing)."""
        return None

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:  # damage in pages the upgrade did not read
                corrupt = _not_a_state_database(self.path, exc)
                if corrupt is None:
                    raise
                raise corrupt from None

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _not_a_state_database(path: Path, exc: BaseException) -> StateStoreError | None:
    """The error for a file SQLite cannot read as a database (garbage, damaged pages), else
    ``None``: moving it aside is the way out, not permissions."""
    codes = (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT)
    if not isinstance(exc, sqlite3.DatabaseError) or exc.sqlite_errorcode not in codes:
        return None
    return StateStoreError(
        f"{path} is not a valid state database ({exc})",
        hint=f"move it out of the way (with any {path.name}-wal and {path.name}-shm beside it), "
        f"e.g. mv {path} {path}.broken; the next command creates a new, empty state database, "
        "and the run history, fingerprints, watermarks and dead letters the old one held are "
        "lost (models run again on the next run)",
    )


class _Transaction:
    """One transaction of the store; nested ones are part of the outermost (one commit)."""

    def __init__(self, store: SQLiteStateStore) -> None:
        self._store = store

    def __enter__(self) -> None:
        store = self._store
        store._lock.acquire()
        if store._depth == 0:
            try:
                store._db.execute("BEGIN IMMEDIATE")
            except BaseException:
                store._lock.release()
                raise
        store._depth += 1

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        store = self._store
        try:
            store._depth -= 1
            if store._depth == 0:
                store._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            store._lock.release()
