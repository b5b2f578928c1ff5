"""Column types declared in `fields=`: ibis-style type strings or Python types.

They normalise to a sqlglot ``DataType`` so each engine prints its own spelling; nothing here
imports ibis, keeping SQL-only projects fast to load.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from typing import Any

from sqlglot import exp

_PY_TYPES: dict[Any, str] = {
    int: "BIGINT",
    float: "DOUBLE",
    str: "VARCHAR",
    bool: "BOOLEAN",
    bytes: "BLOB",
    dt.datetime: "TIMESTAMP",
    dt.date: "DATE",
    dt.time: "TIME",
    dt.timedelta: "INTERVAL",
    decimal.Decimal: "DECIMAL(38, 9)",
    uuid.UUID: "UUID",
    dict: "JSON",
}

_NAMES: dict[str, str] = {
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "int": "BIGINT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "uint8": "UTINYINT",
    "uint16": "USMALLINT",
    "uint32": "UINTEGER",
    "uint64": "UBIGINT",
    "float16": "FLOAT",
    "float32": "FLOAT",
    "float64": "DOUBLE",
    "float": "DOUBLE",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "str": "VARCHAR",
    "text": "VARCHAR",
    "varchar": "VARCHAR",
    "boolean": "BOOLEAN",
    "bool": "BOOLEAN",
    "date": "DATE",
    "time": "TIME",
    "timestamp": "TIMESTAMP",
    "datetime": "TIMESTAMP",
    "binary": "BLOB",
    "bytes": "BLOB",
    "json": "JSON",
    "uuid": "UUID",
    "interval": "INTERVAL",
    "decimal": "DECIMAL(38, 9)",
}


class TypeSpecError(ValueError):
    """A declared type cannot be understood."""


def to_sql_type(spec: Any) -> exp.DataType:
    """Normalise a declared type to a sqlglot ``DataType``.

    >>> to_sql_type("int64").sql("duckdb")
    'BIGINT'
    >>> to_sql_type("decimal(10, 2)").sql("duckdb")
    'DECIMAL(10, 2)'
    """
    if isinstance(spec, exp.DataType):
        return spec
    if isinstance(spec, type) and spec in _PY_TYPES:
        return exp.DataType.build(_PY_TYPES[spec], dialect="duckdb")
    if not isinstance(spec, str):
        raise TypeSpecError(
            f"unsupported type {spec!r}: use a type name like 'int64' or a Python type"
        )
    text = spec.strip()
    lowered = text.lower()
    if lowered in _NAMES:
        return exp.DataType.build(_NAMES[lowered], dialect="duckdb")
    match = re.fullmatch(r"timestamp\(\s*'?([^')]*)'?\s*\)", lowered)
    if match:
        return exp.DataType.build(
            "TIMESTAMPTZ" if match.group(1) else "TIMESTAMP", dialect="duckdb"
        )
    match = re.fullmatch(r"(array|list)<(.+)>", lowered)
    if match:
        inner = to_sql_type(match.group(2))
        return exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[inner], nested=True)
    if "<" in lowered:
        return _from_ibis(text)
    try:
        return exp.DataType.build(text, dialect="duckdb")
    except Exception:
        raise TypeSpecError(
            f"unknown type {spec!r}: use int64, float64, string, boolean, date, timestamp, "
            "decimal(p, s), array<T> or a Python type"
        ) from None


def _from_ibis(text: str) -> exp.DataType:
    """Nested ibis type strings (``struct<a: int64>``) go through ibis' own parser."""
    try:
        import ibis
        from ibis.backends.sql.datatypes import DuckDBType

        result: exp.DataType = DuckDBType.from_ibis(ibis.dtype(text))
        return result
    except Exception:
        raise TypeSpecError(f"unknown type {text!r}: not a valid ibis type string") from None
