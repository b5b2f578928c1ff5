"""Dead letters: models that failed for good (their retries spent), kept until someone deals
with them.

Mixed into the SQLite store (and so the PostgreSQL store, which shares its SQL). A run adds one
per model that exhausted its retries; ``interlace dlq`` and the API list them, retry them or
mark them resolved. Example::

    letter_id = store.add_dead_letter(DeadLetter(env="dev", model="orders", ...))
    store.set_dead_letter_status(letter_id, "resolved", "fixed upstream", at=time.time())
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlace.state.base import DeadLetter, where_clause
from interlace.state.mixin import StoreMixin
from interlace.state.rows import columns_of, from_row, marks, names, values

if TYPE_CHECKING:
    from interlace.status import DeadLetterStatus

_COLUMNS = columns_of(DeadLetter)


class DeadLettersMixin(StoreMixin):
    """The dead letters' queries, mixed into the store (uses its ``_db``, ``_query``,
    ``transaction()``)."""

    def add_dead_letter(self, letter: DeadLetter) -> int:
        """Store a dead letter; returns the id the store gave it."""
        with self.transaction():
            columns = [c for c in _COLUMNS if c != "id"]  # the store numbers it
            cursor = self._db.execute(
                f"INSERT INTO dead_letters ({names(columns)}) VALUES ({marks(len(columns))})",
                values(letter, columns),
            )
            return int(cursor.lastrowid or 0)

    def dead_letters(
        self, env: str | None = None, status: DeadLetterStatus | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        """Dead letters (of ``env``, with ``status``), newest first."""
        clause, params = where_clause([("env = ?", env), ("status = ?", status)])
        rows = self._query(
            f"SELECT {names(_COLUMNS)} FROM dead_letters{clause} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [from_row(DeadLetter, _COLUMNS, r) for r in rows]

    def get_dead_letter(self, letter_id: int) -> DeadLetter | None:
        rows = self._query(f"SELECT {names(_COLUMNS)} FROM dead_letters WHERE id = ?", (letter_id,))
        return from_row(DeadLetter, _COLUMNS, rows[0]) if rows else None

    def set_dead_letter_status(
        self, letter_id: int, status: DeadLetterStatus, resolution: str | None, at: float
    ) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE dead_letters SET status = ?, resolution = ?, resolved_at = ? WHERE id = ?",
                (status, resolution, at, letter_id),
            )
