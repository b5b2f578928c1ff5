"""SQLite state store (the default): a WAL-mode file under `.interlace/`.

WAL lets another process (the CLI, the service) read while a run writes. The store upgrades its
own schema: ``MIGRATIONS[i]`` takes version ``i`` to ``i + 1``.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from interlace.errors import StateStoreError
from interlace.quality import CheckResult
from interlace.state.alert_state import MIGRATION as ALERTS_MIGRATION
from interlace.state.alert_state import AlertStateMixin
from interlace.state.api_keys import MIGRATION as API_KEYS_MIGRATION
from interlace.state.api_keys import ApiKeysMixin
from interlace.state.base import (
    AppliedMigration,
    DeadLetter,
    ModelRunRecord,
    ModelState,
    RunRecord,
    SchemaVersion,
    StoredCheckResult,
    StoredEvent,
    Watermark,
    where_clause,
)
from interlace.state.lineage import MIGRATION as LINEAGE_MIGRATION
from interlace.state.lineage import LineageMixin
from interlace.state.run_history import RunHistory
from interlace.state.run_queue import MIGRATION as RUN_QUEUE_MIGRATION
from interlace.state.run_queue import RunQueue
from interlace.state.schedule_state import MIGRATION as SCHEDULE_MIGRATION
from interlace.state.schedule_state import ScheduleState
from interlace.state.stream_cursors import MIGRATION as STREAM_CURSORS_MIGRATION
from interlace.state.stream_cursors import StreamCursorsMixin

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from interlace.status import DeadLetterStatus, RunOutcome

R = TypeVar("R")

MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        env TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        selection TEXT NOT NULL DEFAULT '',
        models INTEGER NOT NULL DEFAULT 0,
        succeeded INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
    CREATE INDEX runs_started ON runs (started_at);
    CREATE TABLE model_runs (
        run_id TEXT NOT NULL REFERENCES runs (run_id),
        model TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at REAL,
        finished_at REAL,
        duration REAL,
        rows INTEGER,
        materialize TEXT,
        strategy TEXT,
        error TEXT,
        error_type TEXT,
        location TEXT,
        skip_reason TEXT,
        PRIMARY KEY (run_id, model)
    );
    CREATE INDEX model_runs_model ON model_runs (model, finished_at);
    """,
    """
    ALTER TABLE model_runs ADD COLUMN rows_inserted INTEGER;
    ALTER TABLE model_runs ADD COLUMN rows_updated INTEGER;
    ALTER TABLE model_runs ADD COLUMN rows_deleted INTEGER;
    ALTER TABLE model_runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE model_runs ADD COLUMN fingerprint TEXT;
    CREATE TABLE model_state (
        env TEXT NOT NULL,
        model TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        data_version INTEGER NOT NULL DEFAULT 0,
        content_hash TEXT,
        upstream_versions TEXT NOT NULL DEFAULT '{}',
        last_run_id TEXT,
        last_success_at REAL,
        PRIMARY KEY (env, model)
    );
    CREATE TABLE watermarks (
        env TEXT NOT NULL,
        model TEXT NOT NULL,
        cursor_column TEXT NOT NULL,
        value TEXT NOT NULL,
        value_type TEXT NOT NULL,
        run_id TEXT,
        updated_at REAL NOT NULL,
        PRIMARY KEY (env, model)
    );
    CREATE TABLE schema_versions (
        env TEXT NOT NULL,
        model TEXT NOT NULL,
        version INTEGER NOT NULL,
        columns TEXT NOT NULL,
        change TEXT,
        run_id TEXT,
        created_at REAL NOT NULL,
        PRIMARY KEY (env, model, version)
    );
    CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        env TEXT NOT NULL,
        model TEXT NOT NULL,
        run_id TEXT NOT NULL,
        error TEXT NOT NULL,
        error_type TEXT,
        location TEXT,
        traceback TEXT,
        attempts INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',
        created_at REAL NOT NULL,
        resolved_at REAL,
        resolution TEXT
    );
    CREATE INDEX dead_letters_status ON dead_letters (status, created_at);
    """,
    """
    CREATE TABLE quality_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        env TEXT NOT NULL,
        run_id TEXT NOT NULL,
        model TEXT NOT NULL,
        name TEXT NOT NULL,
        check_type TEXT NOT NULL,
        severity TEXT NOT NULL,
        status TEXT NOT NULL,
        failing_rows INTEGER NOT NULL DEFAULT 0,
        sample TEXT NOT NULL DEFAULT '[]',
        sql TEXT,
        message TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX quality_results_model ON quality_results (env, model, created_at);
    """,
    """
    CREATE TABLE applied_migrations (
        env TEXT NOT NULL,
        version INTEGER NOT NULL,
        name TEXT NOT NULL,
        checksum TEXT NOT NULL,
        connection TEXT NOT NULL,
        applied_at REAL NOT NULL,
        duration REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (env, version)
    );
    """,
    """
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN host TEXT;
    """,
    # a model whose write may have reached its table while its state was not recorded: written
    # before the publish, removed in the state commit (see begin_model / interrupted_models)
    """
    CREATE TABLE model_pending (
        env TEXT NOT NULL,
        model TEXT NOT NULL,
        run_id TEXT NOT NULL,
        started_at REAL NOT NULL,
        PRIMARY KEY (env, model, run_id)
    );
    """,
    # every event of every run, numbered by the store (one sequence for all processes that
    # share it): the history server-sent events replay from (Last-Event-ID)
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        env TEXT NOT NULL,
        run_id TEXT NOT NULL,
        type TEXT NOT NULL,
        at REAL NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE INDEX events_run ON events (run_id, id);
    CREATE INDEX events_at ON events (at);
    """,
    # the run queue: a row per run request, taken by a server with a lease (state/run_queue.py)
    RUN_QUEUE_MIGRATION,
    # API keys (digests only) and browser sessions of the HTTP servers (state/api_keys.py)
    API_KEYS_MIGRATION,
    # scheduler state: schedules, fired slots, scheduler leases (state/schedule_state.py)
    SCHEDULE_MIGRATION,
    # alert incidents, their deliveries (an outbox) and event cursors (state/alert_state.py)
    ALERTS_MIGRATION,
    # column lineage per model version, and what each model was when it last ran
    # (state/lineage.py)
    LINEAGE_MIGRATION,
    # stream consumer cursors and their leases (state/stream_cursors.py)
    STREAM_CURSORS_MIGRATION,
]


def _columns(record: type[Any]) -> tuple[str, ...]:
    """The columns of a record's table: each field of the record is the column of its name."""
    return tuple(f.name for f in fields(record))


_RUN_COLUMNS = _columns(RunRecord)
_MODEL_RUN_COLUMNS = _columns(ModelRunRecord)
_MODEL_STATE_COLUMNS = _columns(ModelState)
_WATERMARK_COLUMNS = _columns(Watermark)
_SCHEMA_VERSION_COLUMNS = _columns(SchemaVersion)
_DEAD_LETTER_COLUMNS = _columns(DeadLetter)
_MIGRATION_COLUMNS = _columns(AppliedMigration)
# quality_results keeps a CheckResult's fields but its duration
_CHECK_COLUMNS = tuple(c for c in _columns(CheckResult) if c != "duration")


def _names(columns: Sequence[str]) -> str:
    return ", ".join(columns)


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _values(record: object, columns: Sequence[str]) -> tuple[Any, ...]:
    """A record's fields in the order of ``columns``, to insert."""
    return tuple(getattr(record, column) for column in columns)


def _record(
    record: Callable[..., R],
    columns: Sequence[str],
    row: Sequence[Any],
    /,
    **decode: Callable[[Any], Any],  # by field name: `columns` may be one
) -> R:
    """A record from a row selected as ``columns``: each column fills the field of its name;
    ``decode`` turns a column's stored text into its field's value (JSON)."""
    values = dict(zip(columns, row, strict=True))
    for name, convert in decode.items():
        values[name] = convert(values[name])
    return record(**values)


def _column_pairs(text: str) -> list[tuple[str, str]]:
    return [(name, kind) for name, kind in json.loads(text)]


class SQLiteStateStore(
    RunQueue,
    RunHistory,
    ApiKeysMixin,
    ScheduleState,
    AlertStateMixin,
    LineageMixin,
    StreamCursorsMixin,
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
            and (not _alive(int(pid)) or (int(pid) == me and run_id not in LIVE_RUNS))
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
                f"INSERT OR REPLACE INTO model_runs ({_names(_MODEL_RUN_COLUMNS)}) "
                f"VALUES ({_marks(len(_MODEL_RUN_COLUMNS))})",
                _values(record, _MODEL_RUN_COLUMNS),
            )

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self._query(f"SELECT {_names(_RUN_COLUMNS)} FROM runs WHERE run_id = ?", (run_id,))
        return _record(RunRecord, _RUN_COLUMNS, row[0]) if row else None

    def list_runs(self, limit: int = 20, offset: int = 0) -> list[RunRecord]:
        rows = self._query(
            f"SELECT {_names(_RUN_COLUMNS)} FROM runs ORDER BY started_at DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_record(RunRecord, _RUN_COLUMNS, r) for r in rows]

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
            f"SELECT {_names(_MODEL_RUN_COLUMNS)} FROM model_runs{clause} "
            "ORDER BY COALESCE(finished_at, started_at) DESC LIMIT ?",
            (*params, limit),
        )
        return [_record(ModelRunRecord, _MODEL_RUN_COLUMNS, r) for r in rows]

    # ------------------------------------------------------------------ change detection

    def model_states(self, env: str, models: Iterable[str] | None = None) -> dict[str, ModelState]:
        """The stored state of every model of ``env`` (or only of ``models``)."""
        sql = f"SELECT {_names(_MODEL_STATE_COLUMNS)} FROM model_state WHERE env = ?"
        params: tuple[Any, ...] = (env,)
        if models is not None:
            wanted = tuple(models)
            sql += f" AND model IN ({', '.join('?' * len(wanted))})" if wanted else " AND 0 = 1"
            params += wanted
        states = (
            _record(ModelState, _MODEL_STATE_COLUMNS, r, upstream_versions=json.loads)
            for r in self._query(sql, params)
        )
        return {state.model: state for state in states}

    def save_model_state(self, env: str, state: ModelState) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO model_state (env, model, fingerprint, data_version, "
                "content_hash, upstream_versions, last_run_id, last_success_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    env,
                    state.model,
                    state.fingerprint,
                    state.data_version,
                    state.content_hash,
                    json.dumps(state.upstream_versions, sort_keys=True),
                    state.last_run_id,
                    state.last_success_at,
                ),
            )

    # ------------------------------------------------------------------ events

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
        where, params = "id > ?", [after]
        if run_id is not None:
            where += " AND run_id = ?"
            params.append(run_id)  # type: ignore[arg-type]
        rows = self._query(
            f"SELECT id, env, run_id, type, at, payload FROM events WHERE {where} "
            "ORDER BY id LIMIT ?",
            (*params, limit),
        )
        return [StoredEvent(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def prune_events(self, before: float) -> int:
        """Forget events older than ``before`` (the retention setting); returns how many."""
        with self.transaction():
            cursor = self._db.execute("DELETE FROM events WHERE at < ?", (before,))
            return int(getattr(cursor, "rowcount", 0) or 0)

    # ------------------------------------------------------------------ writes in flight

    def begin_model(self, env: str, model: str, run_id: str, at: float) -> None:
        """Say that ``model`` is about to write its table in ``run_id`` (before the publish):
        until :meth:`end_model` (in the same commit as the model's state), a run that stops
        finds it in :meth:`interrupted_models`."""
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO model_pending (env, model, run_id, started_at) "
                "VALUES (?, ?, ?, ?)",
                (env, model, run_id, at),
            )
            self.record_model_run(
                ModelRunRecord(run_id=run_id, model=model, status="running", started_at=at)
            )

    def end_model(self, env: str, model: str, run_id: str) -> None:
        with self.transaction():
            self._db.execute(
                "DELETE FROM model_pending WHERE env = ? AND model = ? AND run_id = ?",
                (env, model, run_id),
            )

    def interrupted_models(self, env: str) -> list[str]:
        """Models of ``env`` whose write may have reached their table in a run that is over
        (killed, or its state commit failed) while their state was never recorded."""
        rows = self._query(
            "SELECT DISTINCT p.model FROM model_pending p LEFT JOIN runs r ON r.run_id = p.run_id "
            "WHERE p.env = ? AND (r.status IS NULL OR r.status <> 'running') ORDER BY p.model",
            (env,),
        )
        return [r[0] for r in rows]

    def recover_model(self, env: str, model: str) -> None:
        """Count an interrupted model's table as changed: readers re-read it (its data version
        moves on, its content hash is forgotten); its pending marks go."""
        with self.transaction():
            self._db.execute(
                "UPDATE model_state SET data_version = data_version + 1, content_hash = NULL "
                "WHERE env = ? AND model = ?",
                (env, model),
            )
            self._db.execute(
                "UPDATE model_runs SET status = 'interrupted', skip_reason = ? "
                "WHERE model = ? AND status = 'running' AND run_id IN (SELECT run_id FROM "
                "model_pending WHERE env = ? AND model = ?) AND run_id NOT IN "
                "(SELECT run_id FROM runs WHERE status = 'running')",
                ("stopped before its state was recorded", model, env, model),
            )
            self._db.execute(
                "DELETE FROM model_pending WHERE env = ? AND model = ? AND run_id NOT IN "
                "(SELECT run_id FROM runs WHERE status = 'running')",
                (env, model),
            )

    def is_transient(self, exc: BaseException) -> bool:
        """Whether a failed write may succeed when tried again (a busy SQLite file)."""
        return isinstance(exc, sqlite3.OperationalError) and (
            "locked" in str(exc) or "busy" in str(exc)
        )

    def reconnect(self) -> None:
        """Drop a broken connection so the next statement opens a new one (SQLite: nothing)."""
        return None

    # ------------------------------------------------------------------ watermarks

    def get_watermark(self, env: str, model: str) -> Watermark | None:
        rows = self._query(
            f"SELECT {_names(_WATERMARK_COLUMNS)} FROM watermarks WHERE env = ? AND model = ?",
            (env, model),
        )
        return _record(Watermark, _WATERMARK_COLUMNS, rows[0]) if rows else None

    def save_watermark(self, env: str, watermark: Watermark) -> None:
        with self.transaction():
            self._db.execute(
                f"INSERT OR REPLACE INTO watermarks (env, {_names(_WATERMARK_COLUMNS)}) "
                f"VALUES ({_marks(1 + len(_WATERMARK_COLUMNS))})",
                (env, *_values(watermark, _WATERMARK_COLUMNS)),
            )

    # ------------------------------------------------------------------ schema versions

    def schema_versions(self, env: str, model: str) -> list[SchemaVersion]:
        rows = self._query(
            f"SELECT {_names(_SCHEMA_VERSION_COLUMNS)} FROM schema_versions "
            "WHERE env = ? AND model = ? ORDER BY version",
            (env, model),
        )
        return [
            _record(SchemaVersion, _SCHEMA_VERSION_COLUMNS, r, columns=_column_pairs) for r in rows
        ]

    def add_schema_version(
        self,
        env: str,
        model: str,
        columns: list[tuple[str, str]],
        change: str | None,
        run_id: str | None,
        at: float,
    ) -> int:
        with self.transaction():
            row = self._db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM schema_versions WHERE env = ? AND model = ?",
                (env, model),
            ).fetchone()
            version = int(row[0]) + 1
            self._db.execute(
                "INSERT INTO schema_versions (env, model, version, columns, change, run_id, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (env, model, version, json.dumps(columns), change, run_id, at),
            )
        return version

    # ------------------------------------------------------------------ quality results

    def add_quality_result(self, env: str, run_id: str, result: CheckResult, at: float) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO quality_results (env, run_id, model, name, check_type, severity, "
                "status, failing_rows, sample, sql, message, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    env,
                    run_id,
                    result.model,
                    result.name,
                    result.check_type,
                    result.severity,
                    result.status,
                    result.failing_rows,
                    json.dumps(result.sample, default=str),
                    result.sql,
                    result.message,
                    at,
                ),
            )

    def quality_results(
        self, env: str, model: str | None = None, run_id: str | None = None, limit: int = 100
    ) -> list[StoredCheckResult]:
        where, params = ["env = ?"], [env]
        if model is not None:
            where.append("model = ?")
            params.append(model)
        if run_id is not None:
            where.append("run_id = ?")
            params.append(run_id)
        rows = self._query(
            f"SELECT run_id, {_names(_CHECK_COLUMNS)}, created_at FROM quality_results "
            f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            StoredCheckResult(
                run_id=r[0],
                result=_record(CheckResult, _CHECK_COLUMNS, r[1:-1], sample=json.loads),
                created_at=r[-1],
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ dead letters

    def add_dead_letter(self, letter: DeadLetter) -> int:
        with self.transaction():
            columns = [c for c in _DEAD_LETTER_COLUMNS if c != "id"]  # the store numbers it
            cursor = self._db.execute(
                f"INSERT INTO dead_letters ({_names(columns)}) VALUES ({_marks(len(columns))})",
                _values(letter, columns),
            )
            return int(cursor.lastrowid or 0)

    def dead_letters(
        self, env: str | None = None, status: DeadLetterStatus | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        where, params = [], []
        if env is not None:
            where.append("env = ?")
            params.append(env)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._query(
            f"SELECT {_names(_DEAD_LETTER_COLUMNS)} FROM dead_letters {clause} "
            "ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [_record(DeadLetter, _DEAD_LETTER_COLUMNS, r) for r in rows]

    def get_dead_letter(self, letter_id: int) -> DeadLetter | None:
        rows = self._query(
            f"SELECT {_names(_DEAD_LETTER_COLUMNS)} FROM dead_letters WHERE id = ?", (letter_id,)
        )
        return _record(DeadLetter, _DEAD_LETTER_COLUMNS, rows[0]) if rows else None

    def set_dead_letter_status(
        self, letter_id: int, status: DeadLetterStatus, resolution: str | None, at: float
    ) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE dead_letters SET status = ?, resolution = ?, resolved_at = ? WHERE id = ?",
                (status, resolution, at, letter_id),
            )

    # ------------------------------------------------------------------ project migrations

    def applied_migrations(self, env: str) -> list[AppliedMigration]:
        rows = self._query(
            f"SELECT {_names(_MIGRATION_COLUMNS)} FROM applied_migrations "
            "WHERE env = ? ORDER BY version",
            (env,),
        )
        return [_record(AppliedMigration, _MIGRATION_COLUMNS, r) for r in rows]

    def record_migration(self, env: str, migration: AppliedMigration) -> None:
        with self.transaction():
            self._db.execute(
                f"INSERT OR REPLACE INTO applied_migrations (env, {_names(_MIGRATION_COLUMNS)}) "
                f"VALUES ({_marks(1 + len(_MIGRATION_COLUMNS))})",
                (env, *_values(migration, _MIGRATION_COLUMNS)),
            )

    def remove_migration(self, env: str, version: int) -> None:
        with self.transaction():
            self._db.execute(
                "DELETE FROM applied_migrations WHERE env = ? AND version = ?", (env, version)
            )

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


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


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
