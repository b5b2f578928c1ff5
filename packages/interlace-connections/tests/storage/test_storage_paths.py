"""The pure path rules every storage type shares: cleaning, the base fence, glob patterns."""

from __future__ import annotations

import pytest
from interlace_connections.storage.engine_io import reader_format, reader_query
from interlace_connections.storage.paths import (
    StorageError,
    StoragePathError,
    clean,
    folder_of,
    glob_regex,
    literal_prefix,
)


@pytest.mark.parametrize(
    ("path", "cleaned"),
    [
        ("a/b.csv", "a/b.csv"),
        ("./a//b.csv", "a/b.csv"),
        ("a/x/../b.csv", "a/b.csv"),
        ("a\\b.csv", "a/b.csv"),
        ("orders/", "orders/"),
        ("", ""),
        (".", ""),
    ],
)
def test_clean_normalises_relative_paths(path: str, cleaned: str) -> None:
    assert clean(path, "c") == cleaned


@pytest.mark.parametrize(
    "path", ["..", "../a", "a/../../b", "/etc/passwd", "s3://bucket/key", "C:\\x", "C:/x"]
)
def test_clean_refuses_paths_that_leave_the_base(path: str) -> None:
    with pytest.raises(StoragePathError, match="connection 'c'"):
        clean(path, "c")


def test_folder_and_literal_prefix() -> None:
    assert folder_of("a/b/c") == "a/b"
    assert folder_of("a/b/") == "a/b"
    assert folder_of("abc") == ""
    assert literal_prefix("orders/2024/*.csv") == "orders/2024/"
    assert literal_prefix("orders/20*/x.csv") == "orders/"
    assert literal_prefix("*.csv") == ""
    assert literal_prefix("**/x.csv") == ""


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("*.csv", ["a.csv", ".csv"], ["a/b.csv", "a.csvx"]),
        ("a/*/c.csv", ["a/b/c.csv"], ["a/c.csv", "a/b/d/c.csv"]),
        ("a/**/c.csv", ["a/c.csv", "a/b/c.csv", "a/b/d/c.csv"], ["b/c.csv"]),
        ("**", ["x", "a/b/c"], []),
        ("file?.csv", ["file1.csv"], ["file10.csv", "file/.csv"]),
        ("f[0-2].csv", ["f0.csv", "f2.csv"], ["f3.csv"]),
        ("f[!0-2].csv", ["f3.csv"], ["f1.csv"]),
        ("a+b (1).csv", ["a+b (1).csv"], ["aab (1).csv"]),
    ],
)
def test_glob_patterns(pattern: str, matches: list[str], misses: list[str]) -> None:
    regex = glob_regex(pattern)
    for path in matches:
        assert regex.fullmatch(path), path
    for path in misses:
        assert not regex.fullmatch(path), path


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("x/*.csv", "csv"),
        ("x.tsv", "csv"),
        ("x.csv.gz", "csv"),
        ("x.parquet", "parquet"),
        ("x.PQ", "parquet"),
        ("x.jsonl", "json"),
        ("x.ndjson.zst", "json"),
    ],
)
def test_reader_format_from_the_suffix(pattern: str, expected: str) -> None:
    assert reader_format(pattern, None, "c") == expected


def test_reader_format_errors() -> None:
    with pytest.raises(StorageError, match=r"cannot tell the format of 'x\.data'"):
        reader_format("x.data", None, "c")
    with pytest.raises(StorageError, match="unknown file format 'xlsx'"):
        reader_format("x.csv", "xlsx", "c")
    assert reader_format("x.data", "json", "c") == "json"


def test_reader_query_spells_options_as_duckdb_named_parameters() -> None:
    query = reader_query(
        "csv",
        ["/a.csv", "/it's.csv"],
        {"header": True, "delim": ";", "skip": 1, "columns": {"a": "INT"}, "names": ["a"]},
    )
    assert query.sql(dialect="duckdb") == (
        "SELECT * FROM READ_CSV(['/a.csv', '/it''s.csv'], header := TRUE, delim := ';', "
        "skip := 1, \"columns\" := {'a': 'INT'}, names := ['a'])"
    )
    with pytest.raises(StorageError, match="invalid reader option name"):
        reader_query("csv", ["/a.csv"], {"x); drop table t; --": 1})
