"""Records to rows and back: the column lists and converters the state store's queries share.

Each field of a record (``RunRecord``, ``DeadLetter``, ...) is the table column of its name, so
a query selects ``names(COLUMNS)`` and builds the record with :func:`from_row`. The SQL these
helpers write is shared with the PostgreSQL store (``?`` parameters). Example::

    COLUMNS = columns_of(Watermark)
    rows = store._query(f"SELECT {names(COLUMNS)} FROM watermarks WHERE env = ?", ("dev",))
    watermark = from_row(Watermark, COLUMNS, rows[0])
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

R = TypeVar("R")


def columns_of(record: type[Any]) -> tuple[str, ...]:
    """The columns of a record's table: each field of the record is the column of its name."""
    return tuple(f.name for f in fields(record))


def names(columns: Sequence[str]) -> str:
    """``a, b, c``: a column list for SELECT or INSERT."""
    return ", ".join(columns)


def marks(count: int) -> str:
    """``?, ?, ?``: ``count`` parameters."""
    return ", ".join("?" * count)


def values(record: object, columns: Sequence[str]) -> tuple[Any, ...]:
    """A record's fields in the order of ``columns``, to insert."""
    return tuple(getattr(record, column) for column in columns)


def from_row(
    record: Callable[..., R],
    columns: Sequence[str],
    row: Sequence[Any],
    /,
    **decode: Callable[[Any], Any],  # by field name: `columns` may be one
) -> R:
    """A record from a row selected as ``columns``: each column fills the field of its name;
    ``decode`` turns a column's stored text into its field's value (JSON)."""
    by_name = dict(zip(columns, row, strict=True))
    for name, convert in decode.items():
        by_name[name] = convert(by_name[name])
    return record(**by_name)


def column_pairs(text: str) -> list[tuple[str, str]]:
    """A schema version's stored ``[[name, type], ...]`` as pairs."""
    return [(name, kind) for name, kind in json.loads(text)]
