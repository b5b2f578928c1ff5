"""What changed between two recorded schema versions of a model (pure).

Shared by ``interlace schema diff`` and ``GET /api/v1/models/{name}/schema/diff``. Example::

    >>> [str(c) for c in diff_columns([("id", "INTEGER")], [("id", "BIGINT"), ("x", "VARCHAR")])]
    ['~ id INTEGER -> BIGINT', '+ x VARCHAR']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable

ChangeKind = Literal["added", "changed", "removed"]


@dataclass(frozen=True, kw_only=True)
class ColumnChange:
    """One column's change: ``old_type`` is None for an added column, ``new_type`` for a
    removed one."""

    kind: ChangeKind
    column: str
    old_type: str | None = None
    new_type: str | None = None

    def __str__(self) -> str:
        if self.kind == "added":
            return f"+ {self.column} {self.new_type}"
        if self.kind == "removed":
            return f"- {self.column} {self.old_type}"
        return f"~ {self.column} {self.old_type} -> {self.new_type}"


def diff_columns(
    before: Iterable[tuple[str, str]], after: Iterable[tuple[str, str]]
) -> list[ColumnChange]:
    """Added and changed columns in the order of ``after``, then removed ones in the order of
    ``before``."""
    old, new = dict(before), dict(after)
    changes = [
        ColumnChange(kind="added", column=name, new_type=kind)
        if name not in old
        else ColumnChange(kind="changed", column=name, old_type=old[name], new_type=kind)
        for name, kind in new.items()
        if old.get(name) != kind
    ]
    changes += [
        ColumnChange(kind="removed", column=name, old_type=kind)
        for name, kind in old.items()
        if name not in new
    ]
    return changes
