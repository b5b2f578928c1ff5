"""Writes in flight: models whose write may have reached their table while their state was not
recorded yet.

A model is marked pending (``model_pending``) before it publishes its table and unmarked in the
same commit as its new state. A run that stops in between (killed, or its state commit failed)
leaves the mark; the next run finds the model in :meth:`PendingWritesMixin.interrupted_models`
and :meth:`PendingWritesMixin.recover_model` counts its table as changed, so readers re-read it.
Mixed into the SQLite store (and so the PostgreSQL store, which shares its SQL). Example::

    store.begin_model("dev", "orders", run_id, at=time.time())
    ...                                    # write the table, then in the state commit:
    store.end_model("dev", "orders", run_id)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace.state.base import ModelRunRecord
from interlace.state.mixin import StoreMixin


class PendingWritesMixin(StoreMixin):
    """The pending marks' queries, mixed into the store (uses its ``_db``, ``_query``,
    ``transaction()`` and ``record_model_run``)."""

    if TYPE_CHECKING:  # the store's own

        def record_model_run(self, record: ModelRunRecord) -> None: ...

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
