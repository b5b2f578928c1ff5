"""Schema modes: what happens when a model's result no longer matches its table (pure logic).

- ``strict``: any column or type change is an error; nothing is written.
- ``safe`` (default): new columns are added, safe widening is applied, removed columns are kept
  (NULL for new rows); an unsafe type change is an error.
- ``flexible``: like safe, and other type changes are coerced to the table's type with a cast.
- ``lenient``: like flexible, never errors (values that do not cast become NULL); says what it did.
- ``ignore``: no checks; the result is written as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from interlace.engines.base import Column

_INT_RANK = {"TINYINT": 1, "SMALLINT": 2, "INTEGER": 3, "BIGINT": 4, "HUGEINT": 5}
_UINT_RANK = {"UTINYINT": 1, "USMALLINT": 2, "UINTEGER": 3, "UBIGINT": 4, "UHUGEINT": 5}
_FLOAT_RANK = {"FLOAT": 1, "REAL": 1, "DOUBLE": 2}
_ALIASES = {
    "INT": "INTEGER",
    "INT4": "INTEGER",
    "INT8": "BIGINT",
    "INT2": "SMALLINT",
    "INT1": "TINYINT",
    "LONG": "BIGINT",
    "SHORT": "SMALLINT",
    "FLOAT4": "FLOAT",
    "FLOAT8": "DOUBLE",
    "DOUBLE PRECISION": "DOUBLE",
    "TEXT": "VARCHAR",
    "MEDIUMTEXT": "VARCHAR",  # MySQL's longer texts (16 MB, 4 GB)
    "LONGTEXT": "VARCHAR",
    "CHARACTER": "CHAR",
    "STRING": "VARCHAR",
    "BOOL": "BOOLEAN",
    "CHARACTER VARYING": "VARCHAR",
    "NUMERIC": "DECIMAL",
    # PostgreSQL spellings
    "BYTEA": "BLOB",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "TIME WITHOUT TIME ZONE": "TIME",
    "TIME WITH TIME ZONE": "TIMETZ",
}


def normalize(type_name: str) -> str:
    text = re.sub(r"\s+", " ", type_name.strip().upper())
    base, _, rest = text.partition("(")
    base = _ALIASES.get(base.strip(), base.strip())
    return f"{base}({rest}" if rest else base


def _text(type_name: str) -> tuple[str, int | None] | None:
    """``("VARCHAR", 3)`` for ``VARCHAR(3)``, ``("VARCHAR", None)`` for unbounded text, None
    for other types."""
    match = re.fullmatch(r"(VARCHAR|CHAR)(?:\((\d+)\))?", type_name)
    if match is None:
        return None
    kind, length = match.group(1), match.group(2)
    return kind, int(length) if length is not None else (None if kind == "VARCHAR" else 1)


def _decimal(type_name: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", type_name)
    return (int(match.group(1)), int(match.group(2))) if match else None


def is_widening(old: str, new: str) -> bool:
    """True when every value of type ``old`` fits type ``new`` (SPEC §4.2)."""
    old, new = normalize(old), normalize(new)
    if old == new:
        return True
    for ranks in (_INT_RANK, _UINT_RANK, _FLOAT_RANK):
        if old in ranks and new in ranks:
            return ranks[new] >= ranks[old]
    if (old in _INT_RANK or old in _UINT_RANK) and new == "DOUBLE":
        return True
    old_text, new_text = _text(old), _text(new)
    if old_text and new_text:  # CHAR(n) and VARCHAR(n) fit any text type at least as long
        if new_text[1] is None:
            return True
        return old_text[1] is not None and new_text[1] >= old_text[1] and new_text[0] != "CHAR"
    old_dec, new_dec = _decimal(old), _decimal(new)
    if old_dec and new_dec:
        return new_dec[1] >= old_dec[1] and new_dec[0] - new_dec[1] >= old_dec[0] - old_dec[1]
    if old in _INT_RANK and new_dec:
        digits = {1: 3, 2: 5, 3: 10, 4: 19, 5: 39}[_INT_RANK[old]]
        return new_dec[0] - new_dec[1] >= digits
    return False


@dataclass(frozen=True)
class TypeChange:
    column: str
    old: str
    new: str


@dataclass
class SchemaPlan:
    """What to do before publishing, or why not to publish at all."""

    error: str | None = None
    add_to_target: list[Column] = field(default_factory=list)
    widen_target: list[TypeChange] = field(default_factory=list)
    add_to_staging: list[Column] = field(default_factory=list)  # kept columns, NULL-filled
    cast_staging: list[TypeChange] = field(default_factory=list)  # staged column -> table type
    try_cast: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def changes_schema(self) -> bool:
        return bool(self.add_to_target or self.widen_target or self.add_to_staging)


def plan_schema(
    staged: Iterable[Column],
    target: Iterable[Column],
    mode: str,
    *,
    incremental: bool,
    ignore: frozenset[str] = frozenset(),
    null_only: frozenset[str] = frozenset(),
) -> SchemaPlan:
    """Compare the staged result with the published table under ``mode``.

    ``incremental`` is true for strategies that write into the existing table (append, merge,
    SCD2); for ``replace`` the staged table takes the old one's place. ``null_only`` names
    table columns that hold no value yet (their type was a guess): any type change to them is
    safe.
    """
    plan = SchemaPlan()
    if mode == "ignore":
        return plan
    staged_map = {c.name: c for c in staged if c.name not in ignore}
    target_map = {c.name: c for c in target if c.name not in ignore}
    added = [c for name, c in staged_map.items() if name not in target_map]
    removed = [c for name, c in target_map.items() if name not in staged_map]
    changed = [
        TypeChange(name, target_map[name].type, c.type)
        for name, c in staged_map.items()
        if name in target_map and normalize(target_map[name].type) != normalize(c.type)
    ]
    if mode == "strict":
        problems = [f"new column(s) {_names(added)}"] if added else []
        problems += [f"removed column(s) {_names(removed)}"] if removed else []
        problems += [f"type change {c.column}: {c.old} -> {c.new}" for c in changed]
        if problems:
            plan.error = "schema_mode strict forbids changes: " + "; ".join(problems)
        return plan
    if incremental:
        plan.add_to_target = added
    if removed:
        if not incremental:
            plan.add_to_staging = removed
        plan.notes.append(f"kept removed column(s) {_names(removed)} (NULL for new rows)")
    unsafe: list[TypeChange] = []
    for change in changed:
        if change.column in null_only or is_widening(change.old, change.new):
            # a column holding only NULLs so far has no values to lose: it takes the new type
            if incremental:
                plan.widen_target.append(change)
            plan.notes.append(f"widened {change.column}: {change.old} -> {change.new}")
        elif is_widening(change.new, change.old):
            plan.cast_staging.append(change)  # narrower values fit the table's type
        else:
            unsafe.append(change)
    if unsafe:
        if mode == "safe":
            plan.error = "unsafe type change(s): " + "; ".join(
                f"{c.column}: {c.old} -> {c.new}" for c in unsafe
            )
            return plan
        plan.cast_staging.extend(unsafe)
        plan.try_cast = mode == "lenient"
        plan.notes.append(
            (
                "coerced (TRY_CAST, NULL where a value does not fit) "
                if plan.try_cast
                else "coerced "
            )
            + ", ".join(f"{c.column}: {c.new} -> {c.old}" for c in unsafe)
        )
    return plan


def differences(
    staged: Iterable[Column], target: Iterable[Column], *, ignore: frozenset[str] = frozenset()
) -> list[str]:
    """How the result's columns differ from the table's, in words.

    ``ignore`` writes without checking, so when the database refuses the write this is what
    says which columns did not fit (the database's own message names our internal aliases).
    """
    staged_map = {c.name: c for c in staged if c.name not in ignore}
    target_map = {c.name: c for c in target if c.name not in ignore}
    out = []
    for name, column in staged_map.items():
        old = target_map.get(name)
        if old is None:
            out.append(f"column '{name}' ({column.type}) is not in the table")
        elif normalize(old.type) != normalize(column.type):
            out.append(
                f"column '{name}' is {old.type} in the table but {column.type} in the result"
            )
    out += [
        f"column '{name}' of the table is not in the result"
        for name in target_map
        if name not in staged_map
    ]
    return out


def _names(columns: list[Column]) -> str:
    return ", ".join(c.name for c in columns)
