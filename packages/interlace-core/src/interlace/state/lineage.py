"""Column lineage and model versions in the state store (SPEC §13, §15).

Two tables:

- ``column_lineage``: the traced lineage of each model version, keyed by the model and a hash
  of what the lineage depends on (:func:`interlace.lineage.lineage_key`). A project's lineage is
  computed incrementally: a model whose key is stored is not parsed again.
- ``model_versions``: per environment, what each model was when it last ran successfully: its
  fingerprint, the hash of its own definition (without its upstreams), its primary key and the
  lineage key. ``interlace plan`` reads it to tell a code change from an upstream change and a
  key change, and ``state:modified`` compares the project on disk with it.

:class:`LineageMixin` is part of :class:`~interlace.state.sqlite.SQLiteStateStore` (and so of the
PostgreSQL store, which runs the same SQL through a translator): keep its SQL portable.

Example::

    store.save_lineage("orders", key, lineage.to_json(), at=time.time())
    store.lineage_of({"orders": key})  # {"orders": '{"model": "orders", ...}'}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from interlace.state.mixin import StoreMixin

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# the SQLite store's migration that creates these tables (appended to its MIGRATIONS)
MIGRATION = """
    CREATE TABLE column_lineage (
        model TEXT NOT NULL,
        lineage_key TEXT NOT NULL,
        created_at REAL NOT NULL,
        lineage TEXT NOT NULL,
        PRIMARY KEY (model, lineage_key)
    );
    CREATE TABLE model_versions (
        env TEXT NOT NULL,
        model TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        definition TEXT NOT NULL,
        primary_key TEXT NOT NULL,
        lineage_key TEXT,
        run_id TEXT,
        recorded_at REAL NOT NULL,
        PRIMARY KEY (env, model)
    );
"""

KEEP_VERSIONS = 20  # lineage versions kept per model (older ones are pruned on save)


@dataclass(frozen=True, kw_only=True)
class ModelVersion:
    """What a model was when it last ran successfully in an environment."""

    model: str
    fingerprint: str  # covers its upstreams' fingerprints
    definition: str  # its own SQL/source and options, without its upstreams
    primary_key: tuple[str, ...] = ()
    lineage_key: str | None = None
    run_id: str | None = None
    recorded_at: float = 0.0


class LineageMixin(StoreMixin):
    """Column lineage and model versions of a state store."""

    # ------------------------------------------------------------------ lineage

    def save_lineage(self, model: str, key: str, lineage: str, at: float) -> None:
        """Store the lineage (JSON) of one model version; keeps the newest versions only."""
        self.save_lineages([(model, key, lineage)], at)

    def save_lineages(self, items: Iterable[tuple[str, str, str]], at: float) -> None:
        """Store several ``(model, key, lineage JSON)`` in one transaction."""
        rows = list(items)
        if not rows:
            return
        with self.transaction():
            for model, key, lineage in rows:
                self._db.execute(
                    "INSERT OR REPLACE INTO column_lineage (model, lineage_key, created_at, "
                    "lineage) VALUES (?, ?, ?, ?)",
                    (model, key, at, lineage),
                )
            for model in {row[0] for row in rows}:
                keys = self._db.execute(
                    "SELECT lineage_key FROM column_lineage WHERE model = ? "
                    "ORDER BY created_at DESC, lineage_key",
                    (model,),
                ).fetchall()
                for (stale,) in keys[KEEP_VERSIONS:]:
                    self._db.execute(
                        "DELETE FROM column_lineage WHERE model = ? AND lineage_key = ?",
                        (model, stale),
                    )

    def lineage_of(self, keys: Mapping[str, str]) -> dict[str, str]:
        """The stored lineage JSON of each ``model -> key`` that is stored."""
        if not keys:
            return {}
        rows = self._query("SELECT model, lineage_key, lineage FROM column_lineage", ())
        return {model: lineage for model, key, lineage in rows if keys.get(str(model)) == key}

    def stored_lineage(self) -> dict[tuple[str, str], str]:
        """Every stored lineage JSON by ``(model, key)`` (one query for a whole project)."""
        rows = self._query("SELECT model, lineage_key, lineage FROM column_lineage", ())
        return {(str(model), str(key)): str(lineage) for model, key, lineage in rows}

    def latest_lineage(self, models: Iterable[str] | None = None) -> dict[str, str]:
        """The newest stored lineage JSON of each model (of ``models``, else of all)."""
        wanted = set(models) if models is not None else None
        rows = self._query(
            "SELECT model, lineage FROM column_lineage ORDER BY created_at, lineage_key", ()
        )
        return {str(model): lineage for model, lineage in rows if wanted is None or model in wanted}

    def latest_columns(self, env: str) -> dict[str, dict[str, str]]:
        """The columns (name -> type) of each model's newest schema version in ``env``, in
        one query (the schema history of a whole project)."""
        rows = self._query(
            "SELECT s.model, s.columns FROM schema_versions s JOIN (SELECT model, "
            "MAX(version) AS version FROM schema_versions WHERE env = ? GROUP BY model) m "
            "ON m.model = s.model AND m.version = s.version WHERE s.env = ?",
            (env, env),
        )
        return {
            str(model): {str(n): str(t) for n, t in json.loads(columns)} for model, columns in rows
        }

    # ------------------------------------------------------------------ model versions

    def save_model_versions(self, env: str, versions: Iterable[ModelVersion]) -> None:
        """Record what models were when they ran successfully in ``env``."""
        rows = list(versions)
        if not rows:
            return
        with self.transaction():
            for version in rows:
                self._db.execute(
                    "INSERT OR REPLACE INTO model_versions (env, model, fingerprint, definition, "
                    "primary_key, lineage_key, run_id, recorded_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        env,
                        version.model,
                        version.fingerprint,
                        version.definition,
                        json.dumps(list(version.primary_key)),
                        version.lineage_key,
                        version.run_id,
                        version.recorded_at,
                    ),
                )

    def model_versions(self, env: str) -> dict[str, ModelVersion]:
        """What each model was when it last ran successfully in ``env``."""
        rows = self._query(
            "SELECT model, fingerprint, definition, primary_key, lineage_key, run_id, "
            "recorded_at FROM model_versions WHERE env = ?",
            (env,),
        )
        return {
            str(row[0]): ModelVersion(
                model=str(row[0]),
                fingerprint=str(row[1]),
                definition=str(row[2]),
                primary_key=tuple(json.loads(row[3])),
                lineage_key=row[4],
                run_id=row[5],
                recorded_at=float(row[6]),
            )
            for row in rows
        }
