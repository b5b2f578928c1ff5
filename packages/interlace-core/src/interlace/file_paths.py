"""File paths inside SQL resolve against the project folder, not the shell's current folder.

``select * from read_csv('seeds/orders.csv')`` must read the project's file whether
``interlace run`` starts in the project or elsewhere (``--project``, the service, a test). When a
SQL model is compiled for a run, relative paths given to the engine's file readers
(``read_csv``, ``read_parquet``, ``read_json``, ``glob``, ...) and file names used as tables
(``from 'seeds/orders.csv'``) are made absolute against the project folder. The model's stored
SQL (and so its fingerprint) keeps the relative path: moving the project rebuilds nothing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, TypeGuard

from sqlglot import exp

if TYPE_CHECKING:
    from pathlib import Path

# table functions whose first argument is a file path, a glob or a list of them (DuckDB's)
READERS = frozenset(
    {
        "read_csv",
        "read_csv_auto",
        "read_parquet",
        "parquet_scan",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "read_json",
        "read_json_auto",
        "read_json_objects",
        "read_json_objects_auto",
        "read_ndjson",
        "read_ndjson_auto",
        "read_ndjson_objects",
        "read_text",
        "read_blob",
        "read_xlsx",
        "sniff_csv",
        "glob",
        "delta_scan",
        "iceberg_scan",
        "st_read",
    }
)
# a table named like a data file (DuckDB reads `from 'orders.csv'` as the file)
_DATA_FILE = re.compile(
    r"(\*|\.(csv|tsv|txt|parquet|json|jsonl|ndjson|xlsx))(\.(gz|zst|bz2))?$", re.I
)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_relative_path(path: str) -> bool:
    """A local path that is neither absolute, home-relative nor a URL (``s3://``, ``http://``)."""
    return bool(path) and not (
        path.startswith(("/", "~", "\\")) or _URL.match(path) or re.match(r"^[A-Za-z]:[\\/]", path)
    )


def function_name(node: exp.Func) -> str:
    """The SQL name of a function node, lower case (``read_csv``, ``read_json_auto``)."""
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower()


def anchor(path: str, root: Path) -> str:
    """``path`` made absolute against ``root`` when it is relative."""
    return str(root / path) if is_relative_path(path) else path


def anchor_reader(node: exp.Func, root: Path) -> exp.Func:
    """A file reader call whose relative path arguments point into ``root`` (in place)."""
    first = node.this if isinstance(node.this, exp.Expr) else None
    if first is None and node.expressions:
        first = node.expressions[0]
    if first is None:
        return node
    literals = first.expressions if isinstance(first, exp.Array) else [first]
    for literal in literals:
        if isinstance(literal, exp.Literal) and literal.is_string:
            literal.set("this", anchor(literal.this, root))
    return node


def anchor_file_table(node: exp.Table, root: Path) -> exp.Table:
    """A table named like a relative data file (``from 'seeds/x.csv'``) pointing into
    ``root``; any other table as it is."""
    if node.db or node.catalog or not isinstance(node.this, exp.Identifier):
        return node
    name = node.name
    if not node.this.quoted or not _DATA_FILE.search(name) or not is_relative_path(name):
        return node
    node.set("this", exp.to_identifier(anchor(name, root), quoted=True))
    return node


def is_reader(node: exp.Expr) -> TypeGuard[exp.Func]:
    """A call of one of the engine's file readers (:data:`READERS`)."""
    return isinstance(node, exp.Func) and function_name(node) in READERS


__all__ = ["READERS", "anchor", "anchor_file_table", "anchor_reader", "is_reader"]
