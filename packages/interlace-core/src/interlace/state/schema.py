"""The state store's tables: ``MIGRATIONS[i]`` takes the schema from version ``i`` to ``i + 1``.

Shared by the SQLite store (which runs them in :meth:`SQLiteStateStore._upgrade`, one transaction
per version, and records the version in ``interlace_meta``) and the PostgreSQL store (which
translates each statement and reads the primary keys from them). A new table or column is a new
entry at the end; an entry that shipped never changes. The tables of one concern live beside its
queries (``run_queue.MIGRATION``, ``alert_state.MIGRATION``, ...) and are listed here in the
order they were added.
"""

from __future__ import annotations

from interlace.state.alert_state import MIGRATION as ALERTS_MIGRATION
from interlace.state.api_keys import MIGRATION as API_KEYS_MIGRATION
from interlace.state.lineage import MIGRATION as LINEAGE_MIGRATION
from interlace.state.run_queue import MIGRATION as RUN_QUEUE_MIGRATION
from interlace.state.schedule_state import MIGRATION as SCHEDULE_MIGRATION
from interlace.state.stream_cursors import MIGRATION as STREAM_CURSORS_MIGRATION

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
