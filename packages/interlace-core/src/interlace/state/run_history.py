"""Run history: finding runs by status, environment and time, and forgetting old ones.

Mixed into the SQLite store (and so the PostgreSQL store, which shares its SQL). The API's run
history pages through :meth:`RunHistory.search_runs`; ``interlace state prune`` applies the
retention settings (``state: {run_retention: 90d, event_retention: 7d}``) through
:meth:`RunHistory.prune_runs` and the store's ``prune_events``. Example::

    page, total = store.search_runs(env="prod", status="failed", limit=20, offset=40)
    pruned = store.prune_runs(before=time.time() - 90 * 86400)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from interlace.state.base import RunRecord, where_clause
from interlace.state.mixin import StoreMixin

if TYPE_CHECKING:
    from interlace.status import RunStatus

_RUN_COLUMNS = tuple(f.name for f in fields(RunRecord))


@dataclass(frozen=True, kw_only=True)
class Pruned:
    """What one prune forgot, by kind."""

    runs: int = 0
    model_runs: int = 0
    quality_results: int = 0
    run_requests: int = 0
    events: int = 0


class RunHistory(StoreMixin):
    """Run history queries, mixed into the store (uses its ``_db``, ``_query``,
    ``transaction()``)."""

    def search_runs(
        self,
        *,
        env: str | None = None,
        status: RunStatus | None = None,
        since: float | None = None,
        until: float | None = None,
        model: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[RunRecord], int]:
        """One page of runs, newest first, and how many match in all. ``since``/``until``
        bound the start time (``since`` inclusive); ``model`` keeps runs that ran it."""
        clause, params = where_clause(
            [
                ("env = ?", env),
                ("status = ?", status),
                ("started_at >= ?", since),
                ("started_at < ?", until),
                ("run_id IN (SELECT run_id FROM model_runs WHERE model = ?)", model),
            ]
        )
        total = int(self._query(f"SELECT COUNT(*) FROM runs{clause}", params)[0][0])
        rows = self._query(
            f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs{clause} "
            "ORDER BY started_at DESC, run_id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [RunRecord(**dict(zip(_RUN_COLUMNS, r, strict=True))) for r in rows], total

    def latest_event_id(self) -> int:
        """The id of the newest stored event (0 when there is none): where a live event feed
        starts."""
        return int(self._query("SELECT COALESCE(MAX(id), 0) FROM events", ())[0][0])

    def prune_runs(self, before: float) -> Pruned:
        """Forget runs that ended and started before ``before`` (with their model runs and
        quality results) and finished run requests made before it. Model states, watermarks,
        schema versions and dead letters stay: later runs need them."""
        old = "SELECT run_id FROM runs WHERE started_at < ? AND status <> 'running'"
        with self.transaction():
            model_runs = self._db.execute(
                f"DELETE FROM model_runs WHERE run_id IN ({old})", (before,)
            )
            quality = self._db.execute(
                f"DELETE FROM quality_results WHERE run_id IN ({old})", (before,)
            )
            runs = self._db.execute(
                "DELETE FROM runs WHERE started_at < ? AND status <> 'running'", (before,)
            )
            requests = self._db.execute(
                "DELETE FROM run_requests WHERE created_at < ? "
                "AND status IN ('done', 'failed', 'cancelled')",
                (before,),
            )
        return Pruned(
            runs=_count(runs),
            model_runs=_count(model_runs),
            quality_results=_count(quality),
            run_requests=_count(requests),
        )


def _count(cursor: Any) -> int:
    return max(int(getattr(cursor, "rowcount", 0) or 0), 0)
