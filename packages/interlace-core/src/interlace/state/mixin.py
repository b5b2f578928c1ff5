"""The base of the state store's mixins (run history, run queue, API keys, lineage, ...).

Each mixin holds the queries of one part of the state and is mixed into
:class:`~interlace.state.sqlite.SQLiteStateStore` (and so into the stores built on its SQL).
:class:`StoreMixin` declares, for the type checker only, what every mixin uses of the store:
its connection ``_db``, ``transaction()`` and ``_query()``. The store defines them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3
    from contextlib import AbstractContextManager


class StoreMixin:
    """What a mixin of the state store uses of the store (declared here, defined by the store)."""

    if TYPE_CHECKING:  # the store's own
        _db: sqlite3.Connection

        def transaction(self) -> AbstractContextManager[None]: ...
        def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]: ...
