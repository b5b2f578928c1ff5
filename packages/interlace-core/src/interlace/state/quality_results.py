"""Quality results: the outcome of every data quality check of every run, newest first.

Mixed into the SQLite store (and so the PostgreSQL store, which shares its SQL). A run stores
each :class:`~interlace.quality.CheckResult` with :meth:`QualityResultsMixin.add_quality_result`;
the API and ``interlace docs`` read them back. ``prune_runs`` forgets those of old runs.
Example::

    store.add_quality_result("dev", run_id, result, at=time.time())
    latest = store.quality_results("dev", model="orders", limit=10)
"""

from __future__ import annotations

import json

from interlace.quality import CheckResult
from interlace.state.base import StoredCheckResult, where_clause
from interlace.state.mixin import StoreMixin
from interlace.state.rows import columns_of, from_row, names

# quality_results keeps a CheckResult's fields but its duration
_CHECK_COLUMNS = tuple(c for c in columns_of(CheckResult) if c != "duration")


class QualityResultsMixin(StoreMixin):
    """The quality results' queries, mixed into the store (uses its ``_db``, ``_query``,
    ``transaction()``)."""

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
        """The results of ``env`` (of one model, of one run), newest first."""
        clause, params = where_clause(
            [("env = ?", env), ("model = ?", model), ("run_id = ?", run_id)]
        )
        rows = self._query(
            f"SELECT run_id, {names(_CHECK_COLUMNS)}, created_at FROM quality_results"
            f"{clause} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            StoredCheckResult(
                run_id=r[0],
                result=from_row(CheckResult, _CHECK_COLUMNS, r[1:-1], sample=json.loads),
                created_at=r[-1],
            )
            for r in rows
        ]
