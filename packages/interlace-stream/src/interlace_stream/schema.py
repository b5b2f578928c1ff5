"""A stream's fields: checking events against them (pure) and their warehouse/Arrow types.

``check_event`` answers the first problem of one event, or ``None``; the publisher turns it into
a 422 naming the field and the event's index (``validate``), sets the event aside
(``quarantine``), or adds a column for an unknown key (``evolve``). Example::

    fields = StreamFields.of({"id": "int64", "amount": "float64"})
    fields.check_event({"id": "x"})    # "field 'id': expected int64, got string 'x'"
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interlace_stream.declaration import ID_COLUMN, OFFSET_COLUMN, RECEIVED_COLUMN

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

Check = Callable[[Any], bool]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_timestamp(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


_CANONICAL = {"TEXT": "VARCHAR", "STRING": "VARCHAR", "INT": "INTEGER", "DATETIME": "TIMESTAMP"}


def _anything(value: Any) -> bool:
    return True


@dataclass(frozen=True)
class FieldType:
    """One declared field: its SQL type (DuckDB spelling), the check of a JSON value and the
    Arrow type events are read as."""

    name: str
    declared: str
    sql: str
    check: Check
    arrow: str  # "int64", "float64", "string", "bool", "timestamp", "date", "json"


def _field(name: str, declared: Any) -> FieldType:
    from interlace.types import to_sql_type
    from sqlglot import exp

    data_type: exp.DataType = to_sql_type(declared)
    sql = data_type.sql(dialect="duckdb")
    sql = _CANONICAL.get(sql.upper(), sql)  # the spelling DuckDB describes the column with
    kind = data_type.this
    types = exp.DataType.Type
    label = declared if isinstance(declared, str) else sql.lower()
    if kind in exp.DataType.INTEGER_TYPES:
        return FieldType(name, label, sql, _is_int, "int64")
    if kind in exp.DataType.REAL_TYPES:
        return FieldType(name, label, sql, _is_number, "float64")
    if kind == types.BOOLEAN:
        return FieldType(name, label, sql, lambda v: isinstance(v, bool), "bool")
    if kind in exp.DataType.TEXT_TYPES or kind == types.UUID:
        return FieldType(name, label, sql, lambda v: isinstance(v, str), "string")
    if kind in (types.DATE, types.DATE32):
        return FieldType(name, label, sql, _is_date, "date")
    if kind in exp.DataType.TEMPORAL_TYPES and kind not in (types.TIME, types.TIMETZ):
        return FieldType(name, label, sql, _is_timestamp, "timestamp")
    return FieldType(name, label, sql, _anything, "json")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def infer_type(value: Any) -> str:
    """The declared type an ``evolve`` stream gives a new key, from its first value."""
    kind = _json_kind(value)
    return {"boolean": "boolean", "integer": "int64", "number": "float64"}.get(kind, "string")


@dataclass(frozen=True)
class StreamFields:
    """The declared fields of a stream, by name (in declaration order)."""

    fields: Mapping[str, FieldType]

    @classmethod
    def of(cls, declared: Mapping[str, Any]) -> StreamFields:
        return cls({name: _field(name, spec) for name, spec in declared.items()})

    def with_added(self, added: Mapping[str, str]) -> StreamFields:
        return StreamFields({**self.fields, **{n: _field(n, t) for n, t in added.items()}})

    def check_event(self, event: Any, *, unknown_allowed: bool = False) -> str | None:
        """The first problem of ``event`` (a decoded JSON value), or ``None`` when it fits."""
        if not isinstance(event, dict):
            return f"an event is a JSON object, got {_json_kind(event)}"
        fields = self.fields
        for key, value in event.items():
            declared = fields.get(key)
            if declared is None:
                if unknown_allowed or not fields:
                    continue
                names = ", ".join(fields)
                return f"field '{key}': not a field of this stream (its fields: {names})"
            if value is not None and not declared.check(value):
                shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
                return (
                    f"field '{key}': expected {declared.declared}, got {_json_kind(value)} {shown}"
                )
        return None

    def unknown_keys(self, event: Mapping[str, Any]) -> list[str]:
        return [key for key in event if key not in self.fields]

    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema the committer reads events with (without the system columns)."""
        import pyarrow as pa

        types = {
            "int64": pa.int64(),
            "float64": pa.float64(),
            "bool": pa.bool_(),
            "string": pa.string(),
            "timestamp": pa.timestamp("us"),
            "date": pa.date32(),
            "json": pa.string(),
        }
        return pa.schema([(f.name, types[f.arrow]) for f in self.fields.values()])

    def table_columns(self) -> list[tuple[str, str]]:
        """``(column, DuckDB type)`` of the stream's table, system columns first."""
        return [
            (OFFSET_COLUMN, "BIGINT"),
            (ID_COLUMN, "VARCHAR"),
            (RECEIVED_COLUMN, "TIMESTAMP"),
            *((f.name, f.sql) for f in self.fields.values()),
        ]


def sql_type_of(field: FieldType) -> exp.DataType:
    from interlace.types import to_sql_type

    return to_sql_type(field.sql)
