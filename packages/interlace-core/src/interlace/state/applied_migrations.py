"""Applied project migrations: which of a project's ``migrations/*.sql`` ran in which
environment, with the checksum they had then (:mod:`interlace.migrations` compares it).

Mixed into the SQLite store (and so the PostgreSQL store, which shares its SQL). Example::

    store.record_migration("prod", AppliedMigration(version=3, name="add_email", ...))
    [m.version for m in store.applied_migrations("prod")]   # [1, 2, 3]
    store.remove_migration("prod", 3)                        # rolled back
"""

from __future__ import annotations

from interlace.state.base import AppliedMigration
from interlace.state.mixin import StoreMixin
from interlace.state.rows import columns_of, from_row, marks, names, values

_COLUMNS = columns_of(AppliedMigration)


class AppliedMigrationsMixin(StoreMixin):
    """The applied migrations' queries, mixed into the store (uses its ``_db``, ``_query``,
    ``transaction()``)."""

    def applied_migrations(self, env: str) -> list[AppliedMigration]:
        """The migrations applied in ``env``, by version."""
        rows = self._query(
            f"SELECT {names(_COLUMNS)} FROM applied_migrations WHERE env = ? ORDER BY version",
            (env,),
        )
        return [from_row(AppliedMigration, _COLUMNS, r) for r in rows]

    def record_migration(self, env: str, migration: AppliedMigration) -> None:
        with self.transaction():
            self._db.execute(
                f"INSERT OR REPLACE INTO applied_migrations (env, {names(_COLUMNS)}) "
                f"VALUES ({marks(1 + len(_COLUMNS))})",
                (env, *values(migration, _COLUMNS)),
            )

    def remove_migration(self, env: str, version: int) -> None:
        with self.transaction():
            self._db.execute(
                "DELETE FROM applied_migrations WHERE env = ? AND version = ?", (env, version)
            )
