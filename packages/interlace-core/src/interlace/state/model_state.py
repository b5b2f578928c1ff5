"""What each model of an environment was when it last ran: its state (fingerprint, data
version, content hash, the upstream versions it read), its incremental watermark and the
versions of its schema.

Change detection reads these to decide what runs (``model_states``); incremental models resume
from their watermark; schema changes add a version. Mixed into the SQLite store (and so the
PostgreSQL store, which shares its SQL). Example::

    states = store.model_states("dev", ["orders"])
    store.save_watermark("dev", Watermark(model="orders", cursor_column="updated_at", ...))
    version = store.add_schema_version("dev", "orders", [("id", "BIGINT")], None, run_id, at)
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from interlace.state.base import ModelState, SchemaVersion, Watermark, in_list, where_clause
from interlace.state.mixin import StoreMixin
from interlace.state.rows import column_pairs, columns_of, from_row, marks, names, values

if TYPE_CHECKING:
    from collections.abc import Iterable

_MODEL_STATE_COLUMNS = columns_of(ModelState)
_WATERMARK_COLUMNS = columns_of(Watermark)
_SCHEMA_VERSION_COLUMNS = columns_of(SchemaVersion)


class ModelStateMixin(StoreMixin):
    """The per-model state's queries, mixed into the store (uses its ``_db``, ``_query``,
    ``transaction()``)."""

    # ------------------------------------------------------------------ change detection

    def model_states(self, env: str, models: Iterable[str] | None = None) -> dict[str, ModelState]:
        """The stored state of every model of ``env`` (or only of ``models``)."""
        wanted = None if models is None else tuple(models)
        clause, params = where_clause([("env = ?", env), (in_list("model", wanted or ()), wanted)])
        rows = self._query(f"SELECT {names(_MODEL_STATE_COLUMNS)} FROM model_state{clause}", params)
        states = (
            from_row(ModelState, _MODEL_STATE_COLUMNS, r, upstream_versions=json.loads)
            for r in rows
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

    # ------------------------------------------------------------------ watermarks

    def get_watermark(self, env: str, model: str) -> Watermark | None:
        rows = self._query(
            f"SELECT {names(_WATERMARK_COLUMNS)} FROM watermarks WHERE env = ? AND model = ?",
            (env, model),
        )
        return from_row(Watermark, _WATERMARK_COLUMNS, rows[0]) if rows else None

    def save_watermark(self, env: str, watermark: Watermark) -> None:
        with self.transaction():
            self._db.execute(
                f"INSERT OR REPLACE INTO watermarks (env, {names(_WATERMARK_COLUMNS)}) "
                f"VALUES ({marks(1 + len(_WATERMARK_COLUMNS))})",
                (env, *values(watermark, _WATERMARK_COLUMNS)),
            )

    # ------------------------------------------------------------------ schema versions

    def schema_versions(self, env: str, model: str) -> list[SchemaVersion]:
        rows = self._query(
            f"SELECT {names(_SCHEMA_VERSION_COLUMNS)} FROM schema_versions "
            "WHERE env = ? AND model = ? ORDER BY version",
            (env, model),
        )
        return [
            from_row(SchemaVersion, _SCHEMA_VERSION_COLUMNS, r, columns=column_pairs) for r in rows
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
