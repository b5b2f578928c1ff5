"""How a model's engine reads and writes storage files: DuckDB's readers, COPY and httpfs.

All DuckDB knowledge of the storage connections lives here: the reader functions and their
options (built as sqlglot ASTs), the temporary tables SFTP files are loaded into, and loading
httpfs (offline, from the ``duckdb-extension-httpfs`` wheel) for S3.
"""

from __future__ import annotations

import re
import threading
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from interlace_connections.storage.paths import StorageError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from interlace.engines.base import Session

FORMATS = ("csv", "parquet", "json")
_READERS = {"csv": "read_csv", "parquet": "read_parquet", "json": "read_json"}
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
_COMPRESSED = (".gz", ".gzip", ".zst")
_OPTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HTTPFS_LOCK = threading.Lock()


def reader_format(pattern: str, file_format: str | None, connection: str) -> str:
    """The format to read ``pattern`` as: ``file_format``, else the pattern's suffix."""
    if file_format is not None:
        if file_format not in FORMATS:
            raise StorageError(
                f"connection '{connection}': unknown file format {file_format!r}",
                hint=f"use one of: {', '.join(FORMATS)}",
            )
        return file_format
    name = PurePosixPath(pattern).name.lower()
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    found = _SUFFIXES.get(PurePosixPath(name).suffix)
    if found is None:
        raise StorageError(
            f"connection '{connection}': cannot tell the format of {pattern!r} from its suffix",
            hint="pass format='csv', 'parquet' or 'json'",
        )
    return found


def _value(value: Any) -> exp.Expr:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[_value(v) for v in value])
    if isinstance(value, dict):
        return exp.Struct(
            expressions=[
                exp.PropertyEQ(this=exp.Literal.string(str(k)), expression=_value(v))
                for k, v in value.items()
            ]
        )
    raise StorageError(
        f"reader option value {value!r} is not a string, number, boolean, list or mapping"
    )


def reader_query(file_format: str, locations: list[str], options: Mapping[str, Any]) -> exp.Select:
    """``SELECT * FROM read_<format>([files...], option := value, ...)``."""
    args: list[exp.Expr] = [exp.Array(expressions=[exp.Literal.string(p) for p in locations])]
    for key, value in options.items():
        if not _OPTION.fullmatch(key):
            raise StorageError(f"invalid reader option name {key!r}")
        args.append(exp.PropertyEQ(this=exp.to_identifier(key), expression=_value(value)))
    reader = exp.Anonymous(this=_READERS[file_format], expressions=args)
    return exp.select("*").from_(reader)


def create_temp_table(name: str, query: exp.Select) -> exp.Create:
    """``CREATE TEMPORARY TABLE name AS query`` (lives as long as the task's session)."""
    return exp.Create(
        this=exp.to_table(name),
        kind="TABLE",
        expression=query,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
    )


def require_duckdb(session: Session, connection: str, what: str) -> None:
    if session.dialect != "duckdb":
        raise StorageError(
            f"connection '{connection}': cannot {what} on a {session.dialect} engine; "
            "the engine reads storage files itself, which only DuckDB does",
            hint="run this model on a DuckDB connection, or read the bytes with "
            "context.storage(NAME).open(path) and return the rows",
        )


def literal(value: str) -> str:
    """A SQL string literal (for the few statements sqlglot does not model, like SECRET)."""
    return "'" + value.replace("'", "''") + "'"


def load_httpfs(session: Session) -> None:
    """Load httpfs into the session's database, from the ``duckdb-extension-httpfs`` wheel
    (core's offline extension loader: never a download)."""
    from interlace.engines.duckdb_extensions import load_extension

    cursor = getattr(session, "cursor", None)
    if cursor is None:
        raise StorageError(
            f"cannot load DuckDB's httpfs extension on a {type(session).__name__}",
            hint="run the model on a DuckDB connection",
        )
    with _HTTPFS_LOCK:
        load_extension(cursor, "httpfs")
