"""PostgreSQL type names: as `describe` reports them, and as Arrow data is loaded and fetched.

`describe` reports one spelling per type that sqlglot parses in every dialect Interlace uses and
that :func:`interlace.schema_modes.normalize` compares (``BIGINT``, ``DOUBLE``, ``TEXT``,
``DECIMAL(12,2)``, ``TIMESTAMPTZ``, ``BIGINT[]``...), so schema modes work the same as on DuckDB.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

# pg_catalog.format_type() spelling -> the spelling `describe` reports
_CANONICAL = {
    "bigint": "BIGINT",
    "integer": "INTEGER",
    "smallint": "SMALLINT",
    "real": "REAL",
    "double precision": "DOUBLE",
    "numeric": "DECIMAL",
    "text": "TEXT",
    "character varying": "VARCHAR",
    "character": "CHAR",
    "bpchar": "CHAR",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMPTZ",
    "time without time zone": "TIME",
    "time with time zone": "TIMETZ",
    "interval": "INTERVAL",
    "bytea": "BYTEA",
    "json": "JSON",
    "jsonb": "JSONB",
    "uuid": "UUID",
}
_PRECISION = re.compile(r"^(timestamp|time)\((\d+)\) (with|without) time zone$")


def canonical_type(pg_type: str) -> str:
    """``numeric(12,2)`` -> ``DECIMAL(12,2)``, ``timestamp with time zone`` -> ``TIMESTAMPTZ``."""
    text = pg_type.strip()
    if text.endswith("[]"):
        return canonical_type(text[:-2]) + "[]"
    match = _PRECISION.match(text)
    if match:
        base = match.group(1).upper() + ("TZ" if match.group(3) == "with" else "")
        return f"{base}({match.group(2)})"
    name, paren, rest = text.partition("(")
    known = _CANONICAL.get(name.strip())
    if known is None:
        return text
    return f"{known}({rest.replace(' ', '')}" if paren else known


# ----------------------------------------------------------------------------- Arrow -> PG


def pg_type_of(arrow_type: pa.DataType) -> str:
    """The column type an Arrow column is loaded into."""
    import pyarrow.types as t

    if t.is_dictionary(arrow_type):
        return pg_type_of(arrow_type.value_type)
    if t.is_boolean(arrow_type):
        return "BOOLEAN"
    if t.is_int8(arrow_type) or t.is_int16(arrow_type) or t.is_uint8(arrow_type):
        return "SMALLINT"
    if t.is_int32(arrow_type) or t.is_uint16(arrow_type):
        return "INTEGER"
    if t.is_int64(arrow_type) or t.is_uint32(arrow_type):
        return "BIGINT"
    if t.is_uint64(arrow_type):
        return "NUMERIC(20, 0)"
    if t.is_float16(arrow_type) or t.is_float32(arrow_type):
        return "REAL"
    if t.is_float64(arrow_type):
        return "DOUBLE PRECISION"
    if t.is_decimal(arrow_type):
        return f"NUMERIC({arrow_type.precision}, {arrow_type.scale})"
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or _is_string_view(arrow_type):
        return "TEXT"
    if (
        t.is_binary(arrow_type)
        or t.is_large_binary(arrow_type)
        or t.is_fixed_size_binary(arrow_type)
    ):
        return "BYTEA"
    if t.is_date(arrow_type):
        return "DATE"
    if t.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    if t.is_time(arrow_type):
        return "TIME"
    if t.is_duration(arrow_type):
        return "INTERVAL"
    if t.is_null(arrow_type):
        return "TEXT"
    if _is_list(arrow_type) and _is_scalar(arrow_type.value_type):
        return pg_type_of(arrow_type.value_type) + "[]"
    if _is_list(arrow_type) or t.is_struct(arrow_type) or t.is_map(arrow_type):
        return "JSONB"
    return "TEXT"


def _is_string_view(arrow_type: pa.DataType) -> bool:
    import pyarrow.types as t

    check = getattr(t, "is_string_view", None)
    return bool(check and check(arrow_type))


def _is_list(arrow_type: pa.DataType) -> bool:
    import pyarrow.types as t

    return bool(
        t.is_list(arrow_type) or t.is_large_list(arrow_type) or t.is_fixed_size_list(arrow_type)
    )


def _is_scalar(arrow_type: pa.DataType) -> bool:
    import pyarrow.types as t

    return not (
        _is_list(arrow_type)
        or t.is_struct(arrow_type)
        or t.is_map(arrow_type)
        or t.is_union(arrow_type)
        or t.is_dictionary(arrow_type)
    )


def csv_ready(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The column as pyarrow's CSV writer can print it in PostgreSQL's input syntax.

    Flat types print natively; the rest become strings in PostgreSQL's text input format
    (``\\x..`` for bytea, ``{..}`` for arrays, JSON for structs and maps).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as t

    kind = array.type
    if t.is_dictionary(kind):
        return csv_ready(array.cast(kind.value_type))
    if t.is_float16(kind):
        return array.cast(pa.float32())
    if _is_string_view(kind):
        return array.cast(pa.large_string())
    if t.is_duration(kind):
        micros = array.cast(pa.duration("us")).cast(pa.int64()).cast(pa.string())
        return pc.binary_join_element_wise(micros, pa.scalar(" microseconds"), pa.scalar(""))
    if t.is_binary(kind) or t.is_large_binary(kind) or t.is_fixed_size_binary(kind):
        return pa.array(
            [None if v is None else "\\x" + v.hex() for v in array.to_pylist()], pa.string()
        )
    if _is_list(kind) and _is_scalar(kind.value_type):
        return pa.array(
            [None if v is None else _array_literal(v) for v in array.to_pylist()], pa.string()
        )
    if _is_list(kind) or t.is_struct(kind) or t.is_map(kind):
        import json

        return pa.array(
            [
                None if v is None else json.dumps(_jsonable(v), default=str)
                for v in array.to_pylist()
            ],
            pa.string(),
        )
    return array


def _jsonable(value: object) -> object:
    # pyarrow returns a map's entries as a list of (key, value) tuples
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, tuple) and len(v) == 2 for v in value)
    ):
        return {str(k): _jsonable(v) for k, v in value}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _array_literal(values: list[object]) -> str:
    """A PostgreSQL array literal: ``{1,NULL,"a \\"b\\""}``."""
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
            continue
        if isinstance(value, bytes):
            text = "\\x" + value.hex()
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        parts.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(parts) + "}"


# ----------------------------------------------------------------------------- PG -> Arrow


def arrow_type_of(type_name: str) -> pa.DataType | None:
    """The Arrow type for values of a PostgreSQL type (None: let pyarrow infer it)."""
    import pyarrow as pa

    mapping = {
        "int2": pa.int16(),
        "int4": pa.int32(),
        "int8": pa.int64(),
        "oid": pa.int64(),
        "float4": pa.float32(),
        "float8": pa.float64(),
        "bool": pa.bool_(),
        "text": pa.string(),
        "varchar": pa.string(),
        "bpchar": pa.string(),
        "name": pa.string(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us"),
        "timestamptz": pa.timestamp("us", tz="UTC"),
        "time": pa.time64("us"),
        "interval": pa.duration("us"),
        "bytea": pa.binary(),
        "uuid": pa.string(),
        "json": pa.string(),
        "jsonb": pa.string(),
    }
    return mapping.get(type_name)
